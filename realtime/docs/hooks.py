"""Wiring the shared documents into the room at startup (called from realtime/namespaces.py).

- Fan-out: stored updates go to a document's Socket.IO room through the room service's
  broadcaster (realtime/docs/sync.py ``emitter``).
- The meeting record: when an agenda item or the meeting ends, the documents' text is captured
  as ``doc.snapshot`` events. The room service has no event subscription mechanism, so this
  wraps its ``commit``: every room action runs as before, and in the *same transaction*, right
  after it, :func:`server.domain.meeting.documents.snapshots_after` appends the snapshots its events
  call for (``agenda.item.ended`` -> the item's documents and the notes; ``meeting.ended`` ->
  all). They are committed and broadcast with the action's events, in sequence order. Should
  the room service grow an after-action hook, this becomes one call there.
- Cursors of connections that closed without ``doc.close`` are swept (the room's namespace
  owns the disconnect event; polling keeps the two decoupled).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.docs.rooms import DocRooms, doc_rooms
from server.domain.meeting.documents import snapshots_after

if TYPE_CHECKING:
    from realtime.meeting.service import RoomService
    from server.domain.meeting.room_state import Outcome, RoomState
    from server.runtime import Runtime

log = logging.getLogger("smo.docs")
SWEEP_SECONDS = 5.0


def install(runtime: Runtime, room: RoomService) -> None:
    from realtime.docs.sync import emitter

    rooms = doc_rooms(runtime)
    rooms.emit = emitter(room)
    runtime.services.setdefault("realtime_shutdown", []).append(rooms.shutdown)
    runtime.tasks.append(asyncio.create_task(sweep_awareness(rooms, room)))
    original = room.commit

    async def commit(meeting_id: int, action: Any, **kwargs: Any) -> Outcome[Any]:
        async def with_snapshots(session: AsyncSession, state: RoomState) -> Outcome[Any]:
            outcome = await action(session, state)
            if any(e.type in ("agenda.item.ended", "meeting.ended") for e in outcome.events):
                outcome.events = [
                    *outcome.events,
                    *await snapshots_after(session, meeting_id, outcome.events),
                ]
            return outcome

        return await original(meeting_id, with_snapshots, **kwargs)

    room.commit = commit  # type: ignore[method-assign]


async def sweep_awareness(rooms: DocRooms, service: RoomService) -> None:
    """Remove, for the others, the cursors of connections that are gone (a tab killed, a
    network drop) within seconds instead of Yjs's 30-second timeout."""
    from realtime.docs.sync import announce_removal

    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        for doc_room in rooms.rooms():
            for sid in list(doc_room.awareness_clients):
                if service.sio.manager.is_connected(sid, "/"):
                    continue
                ids = doc_room.awareness_clients.pop(sid)
                try:
                    await announce_removal(service, doc_room, sorted(ids), None)
                except Exception:
                    log.exception("awareness sweep failed", extra={"document": doc_room.document_id})
