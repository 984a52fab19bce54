"""A plan row's status, following the meeting made from it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingStatus
from server.db.models.plans import PlanRow, PlanRowStatus
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.protocol import russian as ru
from server.domain.year.plans.rules import MONTH_PATTERNS


def planned_months(text: str) -> set[int]:
    """The months named in a «Сроки» text («октябрь», «ноябрь–декабрь»)."""
    return {n for n, pattern in MONTH_PATTERNS if pattern.search(text)}


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
