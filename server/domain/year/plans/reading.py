"""The plan read: rows with their status, the plan page, a row for its form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingStatus, Role, User
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowStatus, WorkPlan
from server.db.models.protocols import MeetingProtocol
from server.domain.accounts.associations import MAX_ID, association_members, get_association
from server.domain.accounts.permissions import require_login, require_member, require_methodist
from server.domain.protocol import russian as ru
from server.domain.year.plans.rules import check_year, current_school_year, school_year_label, split_lines
from server.domain.year.plans.status import off_plan
from server.errors import NotFound


@dataclass
class RowView:
    row: PlanRow
    meeting: Meeting | None = None
    protocol: MeetingProtocol | None = None

    @property
    def new_date(self) -> datetime | None:
        """The meeting's date when it is (or was held) off the plan: «перенесено на …»."""
        if self.meeting is None or self.row.status not in (PlanRowStatus.moved, PlanRowStatus.held):
            return None
        if self.row.status == PlanRowStatus.held and not off_plan(
            self.row, ru.moscow(self.meeting.held_at).date()
        ):
            return None
        return self.meeting.held_at

    @property
    def can_create_meeting(self) -> bool:
        return self.meeting is None or self.meeting.status == MeetingStatus.cancelled

    @property
    def question_lines(self) -> list[str]:
        return split_lines(self.row.questions)


@dataclass
class PlanPage:
    association: Association
    year: int
    plan: WorkPlan | None
    rows: list[RowView]
    can_edit: bool
    role: Role | None
    years: list[int]
    published: list[LibraryVersion] = field(default_factory=list)
    member_names: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return school_year_label(self.year)

    @property
    def task_lines(self) -> list[str]:
        return split_lines(self.plan.tasks) if self.plan else []


async def find_plan(session: AsyncSession, association_id: int, year: int) -> WorkPlan | None:
    return await session.scalar(
        select(WorkPlan).where(WorkPlan.association_id == association_id, WorkPlan.school_year == year)
    )


async def _rows(session: AsyncSession, plan: WorkPlan | None) -> list[RowView]:
    if plan is None:
        return []
    rows = list(
        await session.scalars(
            select(PlanRow).where(PlanRow.plan_id == plan.id).order_by(PlanRow.position, PlanRow.id)
        )
    )
    meeting_ids = {r.meeting_id for r in rows if r.meeting_id is not None}
    meetings: dict[int, Meeting] = {}
    protocols: dict[int, MeetingProtocol] = {}
    if meeting_ids:
        meetings = {
            m.id: m for m in await session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))
        }
        protocols = {
            p.meeting_id: p
            for p in await session.scalars(
                select(MeetingProtocol).where(MeetingProtocol.meeting_id.in_(meeting_ids))
            )
        }
    return [
        RowView(
            r,
            meetings.get(r.meeting_id) if r.meeting_id else None,
            protocols.get(r.meeting_id) if r.meeting_id else None,
        )
        for r in rows
    ]


async def plan_page(session: AsyncSession, user: User | None, association_id: int, year: int) -> PlanPage:
    """The plan of a school year: members and administrators read, methodists edit."""
    require_login(user)
    association = await get_association(session, association_id)
    role = await require_member(session, user, association_id)
    check_year(year)
    plan = await find_plan(session, association_id, year)
    years = set(
        await session.scalars(select(WorkPlan.school_year).where(WorkPlan.association_id == association_id))
    )
    current = current_school_year()
    years |= {current - 1, current, current + 1, year}
    can_edit = bool(user and user.is_admin) or role == Role.methodist
    published: list[LibraryVersion] = []
    doc = await session.scalar(
        select(LibraryDocument).where(
            LibraryDocument.association_id == association_id,
            LibraryDocument.kind == LibraryKind.plan,
            LibraryDocument.school_year == year,
        )
    )
    if doc is not None:
        published = list(
            await session.scalars(
                select(LibraryVersion)
                .where(LibraryVersion.document_id == doc.id)
                .order_by(LibraryVersion.version.desc())
            )
        )
    names = (
        [m.user.short_name for m in await association_members(session, association_id)] if can_edit else []
    )
    return PlanPage(
        association=association,
        year=year,
        plan=plan,
        rows=await _rows(session, plan),
        can_edit=can_edit,
        role=role,
        years=sorted(years),
        published=published,
        member_names=names,
    )


async def editable_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int
) -> tuple[PlanRow, WorkPlan]:
    """The row, when it belongs to the association's plan and the user may edit it (else 404/403)."""
    require_login(user)
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    row = await session.get(PlanRow, row_id) if 0 < row_id <= MAX_ID else None
    plan = await session.get(WorkPlan, row.plan_id) if row is not None else None
    if row is None or plan is None or plan.association_id != association_id:
        raise NotFound()
    return row, plan


async def row_for_edit(
    session: AsyncSession, user: User | None, association_id: int, row_id: int
) -> tuple[Association, PlanRow, WorkPlan, list[str]]:
    row, plan = await editable_row(session, user, association_id, row_id)
    association = await get_association(session, association_id)
    names = [m.user.short_name for m in await association_members(session, association_id)]
    return association, row, plan, names
