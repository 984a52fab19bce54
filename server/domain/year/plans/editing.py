"""Editing the plan: its header, rows added, changed, moved and deleted."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, User
from server.db.models.plans import PlanRow, PlanRowSource, WorkPlan
from server.db.types import utcnow
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_login, require_methodist
from server.domain.year.plans.reading import editable_row, find_plan
from server.domain.year.plans.rules import (
    MAX_ROWS,
    PlanHeaderInput,
    PlanRowInput,
    PlanTooLong,
    _check_date,
    check_year,
    split_lines,
)
from server.domain.year.plans.status import row_status


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
    plan.theme, plan.goal, plan.tasks = data.theme, data.goal, "\n".join(split_lines(data.tasks))
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
    row, plan = await editable_row(session, user, association_id, row_id)
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
    row, plan = await editable_row(session, user, association_id, row_id)
    await session.delete(row)
    await session.flush()
    await _renumber(session, plan.id)
    plan.updated_at = utcnow()
    return plan


async def move_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int, position: int
) -> WorkPlan:
    """Put a row at ``position`` (1-based, clamped); the others keep their order, numbers stay dense."""
    row, plan = await editable_row(session, user, association_id, row_id)
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
