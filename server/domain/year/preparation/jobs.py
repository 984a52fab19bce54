"""The outbox jobs of meeting preparation (see the package docstring): the letter, the
schedule, the reminder and «заседание завтра»."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingStatus, Membership, NotificationKind, User
from server.db.models.preparation import LetterReason, MeetingLetter, MeetingRegistration
from server.db.types import utcnow
from server.domain.community.notifications import notify
from server.domain.protocol import russian as ru
from server.domain.year.preparation.letter_text import letter_context, letter_mail, reminder_mail, when_text
from server.domain.year.preparation.letters import stamp
from server.domain.year.preparation.rules import TOMORROW_AT
from server.mail.outbox import enqueue, enqueue_mail
from server.workers import job_handler, wake_outbox

if TYPE_CHECKING:
    from server.runtime import Runtime


@job_handler("meeting.letter")
async def letter_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as s:
        letter = await s.get(MeetingLetter, int(payload["letter_id"]))
        if letter is None:
            return
        latest = await s.scalar(
            select(func.max(MeetingLetter.sequence)).where(MeetingLetter.meeting_id == letter.meeting_id)
        )
        if latest is not None and letter.sequence < latest:
            return  # superseded: the later update or cancellation carries the news
        ctx = await letter_context(s, settings, letter.meeting_id)
        if ctx is None:
            return
        if letter.reason != LetterReason.cancelled and ctx.meeting.status == MeetingStatus.cancelled:
            return
        previous = await s.scalar(
            select(MeetingLetter.starts_at)
            .where(MeetingLetter.meeting_id == letter.meeting_id, MeetingLetter.sequence < letter.sequence)
            .order_by(MeetingLetter.sequence.desc(), MeetingLetter.id.desc())
            .limit(1)
        )
        users = await s.scalars(select(User).where(User.id.in_(letter.recipients)).order_by(User.id))
        for user in users:
            if not user.email:
                continue
            mail = letter_mail(settings, ctx, user, letter, previous)
            await enqueue_mail(s, f"letter:{letter.meeting_id}:{letter.sequence}:{user.id}", mail)
    wake_outbox(runtime)


def tomorrow_run_at(starts_at: datetime) -> datetime:
    """09:00 Moscow time of the day before the meeting's (Moscow) date."""
    day = ru.moscow(starts_at).date() - timedelta(days=1)
    return datetime.combine(day, TOMORROW_AT, tzinfo=ru.MOSCOW)


def is_day_before(starts_at: datetime, now: datetime) -> bool:
    return ru.moscow(now).date() == ru.moscow(starts_at).date() - timedelta(days=1)


async def _current(
    s: AsyncSession, payload: dict[str, Any], statuses: tuple[MeetingStatus, ...]
) -> Meeting | None:
    """The meeting of a delayed job if it still starts when the job was planned for."""
    meeting = await s.get(Meeting, int(payload["meeting_id"]))
    if meeting is None or meeting.status not in statuses or stamp(meeting.starts_at) != payload["starts_at"]:
        return None
    return meeting


@job_handler("meeting.schedule")
async def schedule_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    now = utcnow()
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled,))
        if meeting is None or meeting.starts_at <= now:
            return
        key = f"{meeting.id}:{payload['starts_at']}"
        data = {"meeting_id": meeting.id, "starts_at": payload["starts_at"]}
        remind_at = meeting.starts_at - timedelta(minutes=runtime.settings.reminder_minutes)
        await enqueue(s, "meeting.reminder", f"meeting.reminder:{key}", data, run_at=max(now, remind_at))
        tomorrow_at = tomorrow_run_at(meeting.starts_at)
        if tomorrow_at > now or is_day_before(meeting.starts_at, now):
            await enqueue(
                s, "meeting.tomorrow", f"meeting.tomorrow:{key}", data, run_at=max(now, tomorrow_at)
            )
    wake_outbox(runtime)


@job_handler("meeting.reminder")
async def reminder_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled, MeetingStatus.live))
        if meeting is None or utcnow() >= meeting.ends_at:
            return  # moved (a new job exists for the new start), cancelled or over
        ctx = await letter_context(s, settings, meeting.id)
        if ctx is None:
            return
        users = await s.scalars(
            select(User)
            .join(MeetingRegistration, MeetingRegistration.user_id == User.id)
            .where(MeetingRegistration.meeting_id == meeting.id, User.is_active.is_(True))
            .order_by(User.id)
        )
        for user in users:
            if user.email:
                mail = reminder_mail(settings, ctx, user, settings.reminder_minutes)
                await enqueue_mail(s, f"reminder:{meeting.id}:{payload['starts_at']}:{user.id}", mail)
    wake_outbox(runtime)


@job_handler("meeting.tomorrow")
async def tomorrow_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled,))
        if meeting is None or not is_day_before(meeting.starts_at, utcnow()):
            return
        members = await s.scalars(
            select(Membership.user_id).where(Membership.association_id == meeting.association_id)
        )
        await notify(
            s,
            list(members),
            NotificationKind.meeting_tomorrow,
            dedupe_key=f"meeting_tomorrow:{meeting.id}:{payload['starts_at']}",
            title=f"Заседание завтра: «{meeting.title}», {when_text(meeting.starts_at)}",
            url=f"/meetings/{meeting.id}",
            association_id=meeting.association_id,
        )
    wake_outbox(runtime)
