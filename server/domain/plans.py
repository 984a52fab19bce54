"""The yearly work plan: the plan of a school year and its rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.plans import PlanRow, PlanRowSource, WorkPlan
from server.db.types import utcnow
from server.domain.protocols import school_year_of


def current_school_year(today: date | None = None) -> int:
    """The school year (by its starting calendar year) that ``today`` belongs to: 1 Sept – 31 Aug."""
    return school_year_of(today or utcnow().date())


def school_year_label(year: int) -> str:
    return f"{year}/{year + 1}"


async def get_or_create_plan(session: AsyncSession, association_id: int, school_year: int) -> WorkPlan:
    plan = await session.scalar(
        select(WorkPlan).where(WorkPlan.association_id == association_id, WorkPlan.school_year == school_year)
    )
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
    """Append a row to the plan of that year (created when missing); flushed, not committed."""
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
    return row
