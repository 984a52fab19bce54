"""The app's SFU, bound to the runtime: media facts go to the meeting log, slot maps and
closes to the participant's connections. Created on first use, closed with the realtime
server (``runtime.services["realtime_shutdown"]``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.config import MediaConfig
from realtime.media.room import MediaRoom
from realtime.media.sfu import Sfu
from realtime.meeting.broadcast import participant_room
from server.domain.media import record_media_fact
from server.domain.room_state import Outcome, RoomState
from server.errors import NotFound

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.media")
SERVICE_KEY = "media"
PRESENCE_CHECK_SECONDS = 1.0
LOGGED = ("speech.started", "speech.ended", "screen.started", "screen.stopped")


class MediaService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sfu = Sfu(MediaConfig.from_settings(runtime.settings), self._notify)
        self._queue: asyncio.Queue[tuple[int, str, str, dict[str, Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._warden: asyncio.Task[None] | None = None

    def room(self, meeting_id: int) -> MediaRoom:
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
            self._warden = asyncio.ensure_future(self._watch_presence())
        return self.sfu.room(meeting_id)

    async def _watch_presence(self) -> None:
        """Close the media of people who are no longer in the room: they left (last connection
        closed, seen twice in a row so a quick Socket.IO reconnect keeps the call), were
        removed, or the meeting ended. The room tells nobody; its log does."""
        from realtime.meeting.registry import room_service

        absent: dict[tuple[int, str], int] = {}
        while True:
            await asyncio.sleep(PRESENCE_CHECK_SECONDS)
            for meeting_id, room in list(self.sfu.rooms.items()):
                if not room.peers:
                    continue
                try:
                    state = await room_service(self.runtime).current_state(meeting_id)
                except NotFound:  # the meeting was deleted
                    for key in list(room.peers):
                        await self.sfu.leave(meeting_id, key, reason="meeting_ended")
                    continue
                except Exception:
                    log.warning("media presence check failed", extra={"meeting_id": meeting_id})
                    continue
                for key in list(room.peers):
                    reason = None
                    if state.status in ("ended", "cancelled"):
                        reason = "meeting_ended"
                    elif state.is_removed(key):
                        reason = "removed"
                    elif not state.is_connected(key):
                        absent[(meeting_id, key)] = absent.get((meeting_id, key), 0) + 1
                        if absent[(meeting_id, key)] >= 2:
                            reason = "left"
                    else:
                        absent.pop((meeting_id, key), None)
                    if reason is not None:
                        absent.pop((meeting_id, key), None)
                        await self.sfu.leave(meeting_id, key, reason=reason)

    def _notify(self, meeting_id: int, kind: str, participant: str, data: dict[str, Any]) -> None:
        self._queue.put_nowait((meeting_id, kind, participant, data))

    async def _work(self) -> None:
        """One at a time, so a participant's speech.started is logged before its speech.ended."""
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(*item)
            except Exception:
                log.exception("media notification failed", extra={"kind": item[1]})
            finally:
                self._queue.task_done()

    async def _deliver(self, meeting_id: int, kind: str, participant: str, data: dict[str, Any]) -> None:
        from realtime.meeting.registry import room_service

        room = room_service(self.runtime)
        if kind in LOGGED:

            async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
                return Outcome(await record_media_fact(session, meeting_id, state, kind, participant))

            await room.commit(meeting_id, act)
        elif kind == "slots":
            await room.emit(participant_room(meeting_id, participant), "media.slots", data)
        elif kind == "closed":
            await room.emit(participant_room(meeting_id, participant), "media.closed", data)

    async def close(self) -> None:
        if self._warden is not None:
            self._warden.cancel()
        await self.sfu.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), 5)
        for task in (self._warden, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def media_service(runtime: Runtime) -> MediaService:
    service: MediaService | None = runtime.services.get(SERVICE_KEY)
    if service is None:
        service = runtime.services[SERVICE_KEY] = MediaService(runtime)
        runtime.services.setdefault("realtime_shutdown", []).append(service.close)
    return service
