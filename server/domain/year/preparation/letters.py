"""The information letter: queued for the members, re-sent when the meeting moves or is
cancelled (a later SEQUENCE), and the delayed jobs of a meeting's start."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingStatus, Membership, User
from server.db.models.preparation import LetterReason, MeetingLetter
from server.domain.accounts.permissions import require_methodist
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.meeting.meetings import get_meeting
from server.domain.year.preparation.rules import LetterClosed
from server.mail.outbox import enqueue


async def letters_of(session: AsyncSession, meeting_id: int) -> list[MeetingLetter]:
    return list(
        await session.scalars(
            select(MeetingLetter).where(MeetingLetter.meeting_id == meeting_id).order_by(MeetingLetter.id)
        )
    )


async def _members(session: AsyncSession, association_id: int) -> list[User]:
    users = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return [u for u in users if u.email]


async def unsent_members(session: AsyncSession, meeting: Meeting) -> list[User]:
    """Members who have not had the letter at the meeting's current sequence."""
    letters = await letters_of(session, meeting.id)
    current = max((letter.sequence for letter in letters), default=0)
    had = {uid for letter in letters if letter.sequence == current for uid in letter.recipients}
    return [u for u in await _members(session, meeting.association_id) if u.id not in had]


async def _queue_letter(
    session: AsyncSession,
    meeting: Meeting,
    reason: LetterReason,
    recipients: list[int],
    sequence: int,
    actor: User | None,
) -> MeetingLetter:
    letter = MeetingLetter(
        meeting_id=meeting.id,
        sequence=sequence,
        reason=reason,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        recipients=sorted(recipients),
        sent_by_id=actor.id if actor else None,
    )
    session.add(letter)
    await session.flush()
    await enqueue(session, "meeting.letter", f"meeting.letter:{letter.id}", {"letter_id": letter.id})
    return letter


async def send_letter(session: AsyncSession, user: User | None, meeting_id: int) -> MeetingLetter | None:
    """The information letter to every member who has not had it yet (None: nobody left)."""
    meeting = await get_meeting(session, meeting_id)
    actor = await require_methodist(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise LetterClosed()
    await schedule_jobs(session, meeting)
    users = await unsent_members(session, meeting)
    if not users:
        return None
    current = max((letter.sequence for letter in await letters_of(session, meeting.id)), default=0)
    return await _queue_letter(session, meeting, LetterReason.letter, [u.id for u in users], current, actor)


def stamp(moment: datetime) -> str:
    """A start as it appears in job keys: 20261125T120000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def schedule_jobs(session: AsyncSession, meeting: Meeting) -> None:
    """Queue the job that plans the reminder and the «tomorrow» notification for this start."""
    if meeting.status != MeetingStatus.scheduled:
        return
    start = stamp(meeting.starts_at)
    await enqueue(
        session,
        "meeting.schedule",
        f"meeting.schedule:{meeting.id}:{start}",
        {"meeting_id": meeting.id, "starts_at": start},
    )


@on_meeting_change
async def _on_meeting_change(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    if change.kind == "created":
        await schedule_jobs(session, meeting)
        return
    if change.kind not in ("updated", "cancelled"):
        return
    if change.kind == "updated":
        if change.previous_starts_at == meeting.starts_at and change.previous_ends_at == meeting.ends_at:
            return
        await schedule_jobs(session, meeting)
    letters = await letters_of(session, meeting.id)
    if not letters:
        return  # nobody was told: the letter, when sent, carries the current time
    received = sorted({uid for letter in letters for uid in letter.recipients})
    sequence = max(letter.sequence for letter in letters) + 1
    reason = LetterReason.cancelled if change.kind == "cancelled" else LetterReason.rescheduled
    await _queue_letter(session, meeting, reason, received, sequence, change.actor)
