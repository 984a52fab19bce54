"""A meeting planned from a plan row: its form, its day, the link back."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingForm, MeetingStatus, User
from server.db.models.plans import PlanRow, WorkPlan
from server.domain.meeting.meetings import AgendaRow, MeetingInput, create_meeting
from server.domain.protocol import russian as ru
from server.domain.protocol.russian import MOSCOW
from server.domain.year.plans.reading import editable_row
from server.domain.year.plans.rules import (
    FORM_LABELS,
    MEETING_MINUTES,
    MEETING_START,
    MONTH_PATTERNS,
    PlanRowHasMeeting,
    split_lines,
)
from server.domain.year.plans.status import row_status


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
    for n, pattern in MONTH_PATTERNS:  # in school-year order: September first
        if pattern.search(row.dates_text):
            return date(year if n >= 9 else year + 1, n, 15)
    return (today or ru.today()) + timedelta(days=7)


async def create_meeting_from_row(
    session: AsyncSession, user: User | None, association_id: int, row_id: int
) -> Meeting:
    """Plan the row's meeting (title = topic, agenda = questions, its date 15:00 Moscow time)
    and link it to the row; the methodist then adjusts it on the meeting's edit page."""
    row, plan = await editable_row(session, user, association_id, row_id)
    if row.meeting_id is not None:
        existing = await session.get(Meeting, row.meeting_id)
        if existing is not None and existing.status != MeetingStatus.cancelled:
            raise PlanRowHasMeeting()
    start = datetime.combine(meeting_day(row, plan.school_year), MEETING_START, tzinfo=MOSCOW)
    questions = split_lines(row.questions)[:50] or [row.topic]
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
