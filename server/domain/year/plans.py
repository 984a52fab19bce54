"""The yearly work plan (план работы на учебный год, PROTOCOL.md §2): the plan of a school
year (theme, goal, tasks) and its rows; meetings created from rows; the rows' status that
follows their meetings; the document (DOCX/PDF blocks) and its publication in the library.

Other features add rows through :func:`add_plan_row` (needs diagnostics, members' topic
proposals, the annual analysis) with their ``source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingForm, MeetingStatus, Role, User
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowSource, PlanRowStatus, WorkPlan
from server.db.models.protocols import MeetingProtocol
from server.db.types import utcnow
from server.domain.accounts.associations import MAX_ID, association_members, get_association
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.meeting.meetings import AgendaRow, MeetingInput, create_meeting
from server.domain.protocol import russian as ru
from server.domain.protocol.layout import Block
from server.domain.protocol.russian import MOSCOW
from server.domain.protocol.workflow import school_year_of
from server.domain.year.library import publish_version
from server.errors import AppError, NotFound, ValidationFailed
from server.settings import Settings

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_ROWS = 100
# The meeting created from a row starts after lessons, Moscow time; the methodist adjusts it.
MEETING_START = time(15, 0)
MEETING_MINUTES = 90

# Russian labels of the meeting forms (PROTOCOL.md §2), offered in the row's «Форма» field.
FORM_LABELS: dict[MeetingForm, str] = {
    MeetingForm.organizational: "Организационное заседание",
    MeetingForm.zasedanie: "Заседание",
    MeetingForm.seminar: "Семинар",
    MeetingForm.workshop: "Семинар-практикум",
    MeetingForm.round_table: "Круглый стол",
    MeetingForm.master_class: "Мастер-класс",
    MeetingForm.ped_workshop: "Педагогическая мастерская",
    MeetingForm.business_game: "Деловая игра",
    MeetingForm.consultation: "Консультация",
}

# Month names as written in «Сроки»: «октябрь», «в октябре», «ноябрь–декабрь», «сент.».
_MONTHS = (
    (9, r"сен"),
    (10, r"окт"),
    (11, r"ноя"),
    (12, r"дек"),
    (1, r"янв"),
    (2, r"фев"),
    (3, r"мар"),
    (4, r"апр"),
    (5, r"ма[йяе]"),
    (6, r"июн"),
    (7, r"июл"),
    (8, r"авг"),
)
_MONTH_RE = [(n, re.compile(rf"(?<![а-яё]){stem}", re.IGNORECASE)) for n, stem in _MONTHS]
_RU_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


class PlanRowHasMeeting(AppError):
    code, status = "plan_row_has_meeting", 409


class PlanEmpty(AppError):
    code, status = "plan_empty", 409


class PlanTooLong(AppError):
    code, status = "plan_too_long", 409


# --- school years -------------------------------------------------------------------------------
def current_school_year(today: date | None = None) -> int:
    """The school year (by its starting calendar year) that ``today`` belongs to: 1 Sept – 31 Aug."""
    return school_year_of(today or ru.today())


def school_year_label(year: int) -> str:
    return f"{year}/{year + 1}"


def school_year_bounds(year: int) -> tuple[date, date]:
    return date(year, 9, 1), date(year + 1, 8, 31)


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotFound()
    return year


# --- inputs -------------------------------------------------------------------------------------
def _empty_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if m := _RU_DATE.match(value):  # «15.10.2026» as well as the ISO form a date input sends
            return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    return value


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Topic = Annotated[str, _text(500, 1)]
Text120 = Annotated[str, _text(120)]
Text300 = Annotated[str, _text(300)]
Text1000 = Annotated[str, _text(1000)]
Text2000 = Annotated[str, _text(2000)]
Text4000 = Annotated[str, _text(4000)]


class PlanHeaderInput(BaseModel):
    """The plan's head: methodological theme, goal, tasks (one per line)."""

    model_config = ConfigDict(extra="ignore")

    theme: Text1000 = ""
    goal: Text2000 = ""
    tasks: Text4000 = ""


class PlanRowInput(BaseModel):
    """One row: topic and questions, form, dates (an exact date and/or a text), responsible."""

    model_config = ConfigDict(extra="ignore")

    topic: Topic
    questions: Text4000 = ""
    form: Text120 = ""
    planned_date: Annotated[date | None, BeforeValidator(_empty_to_none)] = None
    dates_text: Text120 = ""
    responsible: Text300 = ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _check_date(year: int, data: PlanRowInput) -> None:
    first, last = school_year_bounds(year)
    if data.planned_date is not None and not first <= data.planned_date <= last:
        raise ValidationFailed(details={"fields": {"planned_date": "outside_year"}})


# --- the rows' status ---------------------------------------------------------------------------
def planned_months(text: str) -> set[int]:
    """The months named in a «Сроки» text («октябрь», «ноябрь–декабрь»)."""
    return {n for n, pattern in _MONTH_RE if pattern.search(text)}


def row_status(row: PlanRow, meeting: Meeting | None) -> PlanRowStatus:
    """The row's status as its meeting makes it: held, cancelled, or moved off the planned date."""
    if meeting is None:
        return PlanRowStatus.planned
    if meeting.status == MeetingStatus.ended:
        return PlanRowStatus.held
    if meeting.status == MeetingStatus.cancelled:
        return PlanRowStatus.cancelled
    day = ru.moscow(meeting.held_at).date()
    return PlanRowStatus.moved if off_plan(row, day) else PlanRowStatus.planned


def off_plan(row: PlanRow, day: date) -> bool:
    """The meeting's day is not the row's planned date (or not in its planned months)."""
    if row.planned_date is not None:
        return day != row.planned_date
    months = planned_months(row.dates_text)
    return bool(months) and day.month not in months


@on_meeting_change
async def _follow_meeting(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    """A row's status follows its meeting (ended → held, cancelled, date changed → moved)."""
    if change.kind == "created":  # a new meeting has no row yet (linked after creation)
        return
    rows = await session.scalars(select(PlanRow).where(PlanRow.meeting_id == meeting.id))
    for row in rows:
        status = row_status(row, meeting)
        if row.status != status:
            row.status = status


# --- reading ------------------------------------------------------------------------------------
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
        return _lines(self.row.questions)


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
        return _lines(self.plan.tasks) if self.plan else []


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


async def _editable_row(
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
    row, plan = await _editable_row(session, user, association_id, row_id)
    association = await get_association(session, association_id)
    names = [m.user.short_name for m in await association_members(session, association_id)]
    return association, row, plan, names


# --- editing ------------------------------------------------------------------------------------
async def check_editor(session: AsyncSession, user: User | None, association_id: int) -> User:
    """Methodists of the association and administrators edit the plan."""
    require_login(user)
    await get_association(session, association_id)
    return await require_methodist(session, user, association_id)


async def save_header(
    session: AsyncSession, user: User | None, association_id: int, year: int, data: PlanHeaderInput
) -> WorkPlan:
    require_login(user)
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    plan = await get_or_create_plan(session, association_id, check_year(year))
    plan.theme, plan.goal, plan.tasks = data.theme, data.goal, "\n".join(_lines(data.tasks))
    plan.updated_at = utcnow()
    await session.flush()
    return plan


async def get_or_create_plan(session: AsyncSession, association_id: int, school_year: int) -> WorkPlan:
    plan = await find_plan(session, association_id, school_year)
    if plan is None:
        plan = WorkPlan(association_id=association_id, school_year=school_year)
        session.add(plan)
        await session.flush()
    return plan


async def add_plan_row(
    session: AsyncSession,
    association_id: int,
    school_year: int,
    *,
    topic: str,
    questions: str = "",
    form: str = "",
    planned_date: date | None = None,
    dates_text: str = "",
    responsible: str = "",
    source: PlanRowSource = PlanRowSource.manual,
    note: str = "",
) -> PlanRow:
    """Append a row to the plan of that year (created when missing); flushed, not committed.

    No permission check: the calling feature checks its own (e.g. the methodist turning the
    top needs into rows)."""
    plan = await get_or_create_plan(session, association_id, school_year)
    last = await session.scalar(select(func.max(PlanRow.position)).where(PlanRow.plan_id == plan.id))
    row = PlanRow(
        plan_id=plan.id,
        position=(last or 0) + 1,
        topic=topic[:500],
        questions=questions,
        form=form[:120],
        planned_date=planned_date,
        dates_text=dates_text[:120],
        responsible=responsible[:300],
        source=source,
        note=note,
    )
    session.add(row)
    await session.flush()
    plan.updated_at = utcnow()
    return row


async def create_row(
    session: AsyncSession, user: User | None, association_id: int, year: int, data: PlanRowInput
) -> PlanRow:
    require_login(user)
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    _check_date(check_year(year), data)
    plan = await find_plan(session, association_id, year)
    if plan is not None:
        count = await session.scalar(select(func.count(PlanRow.id)).where(PlanRow.plan_id == plan.id))
        if (count or 0) >= MAX_ROWS:
            raise PlanTooLong()
    return await add_plan_row(session, association_id, year, **data.model_dump())


async def update_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int, data: PlanRowInput
) -> PlanRow:
    row, plan = await _editable_row(session, user, association_id, row_id)
    _check_date(plan.school_year, data)
    for name, value in data.model_dump().items():
        setattr(row, name, value)
    if row.meeting_id is not None:
        row.status = row_status(row, await session.get(Meeting, row.meeting_id))
    plan.updated_at = utcnow()
    await session.flush()
    return row


async def _renumber(session: AsyncSession, plan_id: int, ordered: list[PlanRow] | None = None) -> None:
    if ordered is None:
        ordered = list(
            await session.scalars(
                select(PlanRow).where(PlanRow.plan_id == plan_id).order_by(PlanRow.position, PlanRow.id)
            )
        )
    for n, r in enumerate(ordered, start=1):
        if r.position != n:
            r.position = n
    await session.flush()


async def delete_row(session: AsyncSession, user: User | None, association_id: int, row_id: int) -> WorkPlan:
    """Remove a row (its meeting, if any, stays); the following rows move up."""
    row, plan = await _editable_row(session, user, association_id, row_id)
    await session.delete(row)
    await session.flush()
    await _renumber(session, plan.id)
    plan.updated_at = utcnow()
    return plan


async def move_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int, position: int
) -> WorkPlan:
    """Put a row at ``position`` (1-based, clamped); the others keep their order, numbers stay dense."""
    row, plan = await _editable_row(session, user, association_id, row_id)
    rows = list(
        await session.scalars(
            select(PlanRow).where(PlanRow.plan_id == plan.id).order_by(PlanRow.position, PlanRow.id)
        )
    )
    rows.remove(row)
    rows.insert(max(0, min(position - 1, len(rows))), row)
    await _renumber(session, plan.id, rows)
    plan.updated_at = utcnow()
    return plan


# --- a meeting from a row -----------------------------------------------------------------------
def meeting_form_of(label: str) -> MeetingForm:
    wanted = label.strip().casefold()
    for form, text in FORM_LABELS.items():
        if text.casefold() == wanted:
            return form
    return MeetingForm.zasedanie


def meeting_day(row: PlanRow, year: int, today: date | None = None) -> date:
    """The meeting's first date: the row's date, else the 15th of the first month its «Сроки»
    name (in that school year), else a week from today."""
    if row.planned_date is not None:
        return row.planned_date
    for n, pattern in _MONTH_RE:  # in school-year order: September first
        if pattern.search(row.dates_text):
            return date(year if n >= 9 else year + 1, n, 15)
    return (today or ru.today()) + timedelta(days=7)


async def create_meeting_from_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int
) -> Meeting:
    """Plan the row's meeting (title = topic, agenda = questions, its date 15:00 Moscow time)
    and link it to the row; the methodist then adjusts it on the meeting's edit page."""
    row, plan = await _editable_row(session, user, association_id, row_id)
    if row.meeting_id is not None:
        existing = await session.get(Meeting, row.meeting_id)
        if existing is not None and existing.status != MeetingStatus.cancelled:
            raise PlanRowHasMeeting()
    start = datetime.combine(meeting_day(row, plan.school_year), MEETING_START, tzinfo=MOSCOW)
    questions = _lines(row.questions)[:50] or [row.topic]
    data = MeetingInput(
        title=row.topic[:300],
        form=meeting_form_of(row.form),
        description="",
        starts_at=start,
        ends_at=start + timedelta(minutes=MEETING_MINUTES),
        agenda=[AgendaRow(title=q[:500]) for q in questions],
    )
    meeting = await create_meeting(session, user, association_id, data)
    row.meeting_id = meeting.id
    row.status = row_status(row, meeting)
    await session.flush()
    return meeting


async def plan_row_of_meeting(session: AsyncSession, meeting_id: int) -> tuple[PlanRow, WorkPlan] | None:
    found = (
        await session.execute(
            select(PlanRow, WorkPlan)
            .join(WorkPlan, WorkPlan.id == PlanRow.plan_id)
            .where(PlanRow.meeting_id == meeting_id)
            .order_by(PlanRow.id)
            .limit(1)
        )
    ).first()
    return (found[0], found[1]) if found else None


# --- the document -------------------------------------------------------------------------------
STATUS_RU = {
    PlanRowStatus.planned: "запланировано",
    PlanRowStatus.held: "проведено",
    PlanRowStatus.moved: "перенесено",
    PlanRowStatus.cancelled: "отменено",
}
TABLE_HEAD = ("№", "Тема заседания (рассматриваемые вопросы)", "Форма проведения", "Сроки", "Ответственные")


def _topic_cell(v: RowView) -> str:
    questions = v.question_lines
    if not questions:
        return v.row.topic
    listed = " ".join(f"{n}. {ru.sentence(q)}" for n, q in enumerate(questions, start=1))
    return f"{ru.sentence(v.row.topic)} Рассматриваемые вопросы: {listed}"


def dates_cell(v: RowView) -> str:
    parts = [
        p
        for p in (ru.date_requisite(v.row.planned_date) if v.row.planned_date else "", v.row.dates_text)
        if p
    ]
    text = ", ".join(parts) or "—"
    if v.row.status == PlanRowStatus.moved and v.meeting is not None:
        text += f" (перенесено на {ru.date_requisite(v.meeting.held_at)})"
    elif v.row.status == PlanRowStatus.cancelled:
        text += " (отменено)"
    elif v.row.status == PlanRowStatus.held and v.meeting is not None:
        moved = "перенесено, " if v.new_date is not None else ""
        text += f" ({moved}проведено {ru.date_requisite(v.meeting.held_at)})"
    return text


def plan_title(association: Association, year: int) -> str:
    return f"План работы {association.name} на {school_year_label(year)} учебный год"


def plan_blocks(page: PlanPage, signer: str = "") -> list[Block]:
    """The plan as PROTOCOL.md §2 lays it out: requisites, title, theme, goal, tasks, table."""
    a, plan = page.association, page.plan
    out: list[Block] = [Block("text", line) for line in (a.founder_name, a.name) if line]
    out += [Block("gap"), Block("heading", "ПЛАН РАБОТЫ", bold=True)]
    out += [Block("heading", f"{a.name} на {page.label} учебный год", bold=True), Block("gap")]
    if plan is not None and plan.theme:
        out.append(Block("text", f"Методическая тема: {ru.sentence(plan.theme)}"))
    if plan is not None and plan.goal:
        out.append(Block("text", f"Цель: {ru.sentence(plan.goal)}"))
    if page.task_lines:
        out.append(Block("text", "Задачи:", bold=True))
        out += [Block("text", f"{n}. {ru.sentence(t)}") for n, t in enumerate(page.task_lines, start=1)]
    out.append(Block("gap"))
    if page.rows:
        rows = [TABLE_HEAD] + [
            (str(v.row.position), _topic_cell(v), v.row.form or "—", dates_cell(v), v.row.responsible or "—")
            for v in page.rows
        ]
        out.append(Block("table", rows=tuple(rows)))
    else:
        out.append(Block("text", "Заседания пока не запланированы."))
    out += [Block("gap"), Block("signature", "Сетевой методист", right=signer)]
    return out


async def plan_document(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> tuple[PlanPage, list[Block]]:
    """The plan's blocks for DOCX/PDF (members read it); signed by the association's methodist."""
    page = await plan_page(session, user, association_id, year)
    if page.plan is None and not page.rows:
        raise NotFound()
    signer = ""
    if user is not None and await membership_role(session, user, association_id) == Role.methodist:
        signer = user.short_name
    else:
        for m in await association_members(session, association_id):
            if m.role == Role.methodist:
                signer = m.user.short_name
                break
    return page, plan_blocks(page, signer)


def file_stem(year: int) -> str:
    return f"План работы {year}-{year + 1}"


async def check_publishable(session: AsyncSession, user: User | None, association_id: int, year: int) -> None:
    require_login(user)
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    plan = await find_plan(session, association_id, check_year(year))
    has_rows = plan is not None and bool(
        await session.scalar(select(func.count(PlanRow.id)).where(PlanRow.plan_id == plan.id))
    )
    if plan is None or not (has_rows or plan.theme.strip()):
        raise PlanEmpty()


async def publish_plan(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    year: int,
    *,
    docx: bytes,
    pdf: bytes,
) -> LibraryVersion:
    """«Утвердить и опубликовать»: the next version of the year's plan in the documents section."""
    await check_publishable(session, user, association_id, year)
    return await publish_version(
        session,
        settings,
        association_id=association_id,
        kind=LibraryKind.plan,
        school_year=year,
        title=f"План работы на {school_year_label(year)} учебный год",
        user=user,
        docx=docx,
        pdf=pdf,
        filename_stem=file_stem(year),
    )
