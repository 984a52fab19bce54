"""The room snapshot: a pure fold over the event log (implemented in server/domain/meeting/room_state.py,
next to the domain actions that check permissions against it)."""

from __future__ import annotations

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import RoomState, visible_to

__all__ = ["RoomState", "fold", "visible_to"]


def fold(base: RoomState, events: list[LoggedEvent]) -> RoomState:
    """``base`` (the meeting row and agenda) advanced by ``events`` in order."""
    return base.apply_all(events)
