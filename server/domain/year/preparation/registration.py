"""Members register for a meeting (and unregister)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import MeetingStatus, User
from server.db.models.preparation import MeetingRegistration
from server.domain.accounts.permissions import require_login, require_member
from server.domain.meeting.meetings import get_meeting
from server.domain.year.preparation.letters import schedule_jobs
from server.domain.year.preparation.reading import is_registered
from server.domain.year.preparation.rules import RegistrationClosed


async def register(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    """Register for a scheduled meeting (members and administrators); False if already done."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    await require_member(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise RegistrationClosed()
    if await is_registered(session, user, meeting.id):
        return False
    session.add(MeetingRegistration(meeting_id=meeting.id, user_id=user.id))
    await session.flush()
    await schedule_jobs(session, meeting)
    return True


async def unregister(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    await require_member(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise RegistrationClosed()
    row = await session.scalar(
        select(MeetingRegistration).where(
            MeetingRegistration.meeting_id == meeting.id, MeetingRegistration.user_id == user.id
        )
    )
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True
