"""Chat: public messages, replies and private messages between two participants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import MeetingEvent
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_open
from server.domain.meeting.room_state import Actor, RoomState
from server.errors import AppError, ValidationFailed

MAX_TEXT = 2000


async def send_message(
    session: AsyncSession,
    meeting_id: int,
    state: RoomState,
    actor: Actor,
    text: str,
    reply_to: int | None = None,
    to: str | None = None,
) -> list[LoggedEvent]:
    """A chat message; ``to`` makes it private (sender and recipient only, not in the protocol).
    The per-person rate limit is applied by the caller before the transaction."""
    require_open(state)
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise ValidationFailed(details={"fields": {"text": "length"}})
    if reply_to is not None and not state.has_message(reply_to):
        raise AppError("message_unknown", status=404)
    if to is not None:
        person = state.participants.get(to)
        if person is None or person["removed"] or not person.get("admitted") or to == actor.key:
            raise AppError("participant_unknown", status=404)
    # Inside a breakout group the message belongs to that group's chat (docs/groups.md).
    payload = {"text": text, "reply_to": reply_to, "to": to, "group": state.groups.room_of(actor.key)}
    return await append_events(session, meeting_id, [("chat.message", actor.key, payload)])


async def public_history(session: AsyncSession, meeting_id: int) -> list[LoggedEvent]:
    """The meeting's public chat, in order (private messages are never part of it): for the
    meeting page after the meeting, and for the protocol's appendix if wanted."""
    rows = await session.scalars(
        select(MeetingEvent)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "chat.message")
        .order_by(MeetingEvent.seq)
    )
    return [LoggedEvent.from_row(r) for r in rows if not r.payload.get("to")]


async def public_transcript(session: AsyncSession, meeting_id: int) -> list[dict[str, object]]:
    """The public chat with its authors' names, for the meeting page after (or during) it."""
    names: dict[str, str] = {}
    joined = await session.scalars(
        select(MeetingEvent).where(
            MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "participant.joined"
        )
    )
    for row in joined:
        names[row.payload["participant"]] = row.payload.get("short_name") or row.payload.get("name", "")
    return [
        {"seq": e.seq, "at": e.at, "author": names.get(e.actor, e.actor), "text": e.payload["text"]}
        for e in await public_history(session, meeting_id)
    ]
