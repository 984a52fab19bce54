"""Media facts in the meeting log: speech detected by the SFU, microphones muted or locked by
a moderator, screen shares. The SFU (realtime/media) decides; these record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import MeetingEvent
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_moderator, require_open, require_participant
from server.domain.meeting.room_state import Actor, RoomState


async def record_media_fact(
    session: AsyncSession, meeting_id: int, state: RoomState, kind: str, participant: str
) -> list[LoggedEvent]:
    """``speech.started`` / ``speech.ended`` / ``screen.started`` / ``screen.stopped`` observed
    by the server; ignored once the meeting is over (media may outlive the end by a moment)."""
    if kind not in ("speech.started", "speech.ended", "screen.started", "screen.stopped"):
        raise ValueError(kind)
    if state.status in ("ended", "cancelled"):
        return []
    actor = "system" if kind.startswith("speech.") else participant
    return await append_events(session, meeting_id, [(kind, actor, {"participant": participant})])


async def mute_microphones(
    session: AsyncSession,
    meeting_id: int,
    state: RoomState,
    actor: Actor,
    participant: str | None,
    locked: bool,
) -> list[LoggedEvent]:
    """A moderator mutes one participant, or everyone (``participant`` None, ``locked``: the
    participants may not unmute themselves until ``unlock_microphones``)."""
    require_moderator(state, actor)
    require_open(state)
    if participant is not None:
        require_participant(state, participant)
    payload = {"participant": participant, "locked": locked}
    return await append_events(session, meeting_id, [("mic.muted", actor.key, payload)])


async def unlock_microphones(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    require_open(state)
    return await append_events(session, meeting_id, [("mic.unlocked", actor.key, {})])


async def microphones_locked(session: AsyncSession, meeting_id: int) -> bool:
    """Whether the meeting's microphones are locked, from its log: the last «mute everyone and
    lock» (``mic.muted`` with ``locked`` and no participant) not followed by ``mic.unlocked``.
    A media node that takes a meeting over (restart, failover) starts from this."""
    rows = (
        await session.execute(
            select(MeetingEvent.type, MeetingEvent.payload)
            .where(
                MeetingEvent.meeting_id == meeting_id, MeetingEvent.type.in_(("mic.muted", "mic.unlocked"))
            )
            .order_by(MeetingEvent.seq.desc())
        )
    ).all()
    for event_type, payload in rows:
        if event_type == "mic.unlocked":
            return False
        if payload.get("locked") and payload.get("participant") is None:
            return True
    return False
