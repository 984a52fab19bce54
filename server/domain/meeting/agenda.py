"""Running the agenda live: start item N, end the current item (times come from the log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_live, require_moderator
from server.domain.meeting.room_state import Actor, RoomState
from server.errors import AppError


async def start_item(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, item_id: int
) -> list[LoggedEvent]:
    """Starting an item ends the current one first; restarting an item resumes its clock."""
    require_moderator(state, actor)
    require_live(state)
    item = state.item(item_id)
    if item is None:
        raise AppError("agenda_item_unknown", status=404)
    if state.current_item_id == item_id:
        return []
    items: list[tuple[str, str, dict[str, Any]]] = []
    if state.current_item_id is not None:
        items.append(("agenda.item.ended", actor.key, {"item_id": state.current_item_id}))
    items.append(
        (
            "agenda.item.started",
            actor.key,
            {"item_id": item_id, "position": item["position"], "title": item["title"]},
        )
    )
    return await append_events(session, meeting_id, items)


async def end_item(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    require_live(state)
    if state.current_item_id is None:
        raise AppError("no_agenda_item", status=409)
    return await append_events(
        session, meeting_id, [("agenda.item.ended", actor.key, {"item_id": state.current_item_id})]
    )
