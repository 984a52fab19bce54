"""Raised hands and the list of speakers (the floor)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.meeting.groups import hands_here
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_live, require_moderator, require_open
from server.domain.meeting.room_state import Actor, RoomState
from server.errors import AppError, Forbidden


async def raise_hand(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    """Idempotent: a hand already up stays in its place in the queue."""
    require_open(state)
    if actor.key in state.hands:
        return []
    return await append_events(session, meeting_id, [("hand.raised", actor.key, {"participant": actor.key})])


async def lower_hand(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, participant: str | None
) -> list[LoggedEvent]:
    """Lower one's own hand; moderators may lower anyone's. Idempotent."""
    require_open(state)
    key = participant or actor.key
    if key != actor.key:
        require_moderator(state, actor)
    if key not in state.hands:
        return []
    return await append_events(session, meeting_id, [("hand.lowered", actor.key, {"participant": key})])


async def grant_floor(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, participant: str | None
) -> list[LoggedEvent]:
    """Give the floor to ``participant`` or, when absent, to the first raised hand.
    A current speaker's floor ends first; the new speaker's hand goes down."""
    require_moderator(state, actor)
    require_live(state)
    if participant is None:  # the next in the moderator's room (a group has its own queue)
        here = hands_here(state, actor.key)
        if not here:
            raise AppError("hand_queue_empty", status=409)
        participant = here[0]
    person = state.participants.get(participant)
    if person is None or person["removed"] or not person.get("admitted"):
        raise AppError("participant_unknown", status=404)
    if state.floor == participant:
        return []
    items: list[tuple[str, str, dict[str, Any]]] = []
    if state.floor is not None:
        items.append(("floor.ended", actor.key, {"participant": state.floor}))
    if participant in state.hands:
        items.append(("hand.lowered", actor.key, {"participant": participant}))
    items.append(("floor.granted", actor.key, {"participant": participant}))
    return await append_events(session, meeting_id, items)


async def end_floor(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    """A moderator ends the current speech; the speaker may also yield the floor."""
    require_open(state)
    if state.floor is None:
        raise AppError("no_floor", status=409)
    if state.floor != actor.key and not (actor.office_moderator or state.is_moderator(actor.key)):
        raise Forbidden()
    return await append_events(
        session, meeting_id, [("floor.ended", actor.key, {"participant": state.floor})]
    )
