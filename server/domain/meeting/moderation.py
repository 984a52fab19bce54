"""Moderation: lock, admission policy, the waiting room, remove/readmit, co-moderators."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AdmissionPolicy
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import get_meeting, require_moderator, require_open, require_participant
from server.domain.meeting.room_state import Actor, RoomState
from server.errors import AppError, Forbidden


async def set_locked(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, locked: bool
) -> list[LoggedEvent]:
    """A locked meeting refuses newcomers (people already admitted may come back)."""
    require_moderator(state, actor)
    require_open(state)
    if state.meeting["locked"] == locked:
        return []
    (await get_meeting(session, meeting_id)).locked = locked
    return await append_events(session, meeting_id, [("meeting.locked", actor.key, {"locked": locked})])


async def set_admission(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, admission: str
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    require_open(state)
    if state.meeting["admission"] == admission:
        return []
    (await get_meeting(session, meeting_id)).admission = AdmissionPolicy(admission)
    return await append_events(
        session, meeting_id, [("meeting.admission", actor.key, {"admission": admission})]
    )


async def decide_waiting(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, key: str, admit: bool
) -> list[LoggedEvent]:
    """Admit or deny a person in the waiting room (an admitted person then joins)."""
    require_moderator(state, actor)
    require_open(state)
    if key not in state.waiting:
        raise AppError("not_waiting", status=409)
    kind = "waiting.admitted" if admit else "waiting.denied"
    return await append_events(session, meeting_id, [(kind, actor.key, {"participant": key})])


async def remove_participant(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, key: str
) -> list[LoggedEvent]:
    """Removed people cannot come back until readmitted; their hand and floor go with them.
    A moderator by office cannot be removed, nor can moderators remove themselves."""
    require_moderator(state, actor)
    require_open(state)
    person = require_participant(state, key)
    if key == actor.key or person.get("office_moderator"):
        raise Forbidden()
    if person["removed"]:
        return []
    items: list[tuple[str, str, dict[str, Any]]] = []
    if state.floor == key:
        items.append(("floor.ended", actor.key, {"participant": key}))
    if key in state.hands:
        items.append(("hand.lowered", actor.key, {"participant": key}))
    items.append(("participant.removed", actor.key, {"participant": key}))
    if person["connected"]:
        items.append(("participant.left", actor.key, {"participant": key, "reason": "removed"}))
    return await append_events(session, meeting_id, items)


async def readmit_participant(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, key: str
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    require_open(state)
    if not require_participant(state, key)["removed"]:
        raise AppError("not_removed", status=409)
    return await append_events(
        session, meeting_id, [("participant.readmitted", actor.key, {"participant": key})]
    )


async def promote_participant(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, key: str
) -> list[LoggedEvent]:
    """Make a participant a co-moderator for this meeting."""
    require_moderator(state, actor)
    require_open(state)
    person = require_participant(state, key)
    if person["removed"] or not person.get("admitted"):
        raise AppError("participant_unknown", status=404)
    if person["moderator"]:
        return []
    return await append_events(
        session, meeting_id, [("participant.promoted", actor.key, {"participant": key})]
    )
