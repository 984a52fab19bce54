"""The SFU's recording bound to the app: while a meeting's log says recording is on, each
published track gets a ``TrackWriter`` (realtime/media/recorder.py) writing to the stored
files, and a ``recording_tracks`` row (added when the track starts, completed when the writer
closes the file). The media service follows the log's flag (``apply``), so a moderator's switch,
a restart and a node taking the meeting over all end up recording the same way, in new files."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from realtime.media.peer import Publication
from realtime.media.recorder import TrackResult, TrackWriter
from realtime.media.room import MediaRoom, TrackOpener
from server.db.types import utcnow
from server.domain.meeting.recording import add_track, finish_track, recording_path

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.recording")


class RecordingFiles:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[TrackWriter] = set()

    def apply(self, room: MediaRoom, on: bool) -> None:
        """Make the room follow the log's ``recording`` flag."""
        if on and room.recording is None:
            room.set_recording(self.opener(room.meeting_id))
        elif not on and room.recording is not None:
            room.set_recording(None)

    def opener(self, meeting_id: int) -> TrackOpener:
        def open_track(pub: Publication) -> TrackWriter:
            loop = asyncio.get_running_loop()
            name = f"{secrets.token_hex(16)}.webm"
            opened_wall, opened_mono = utcnow(), time.monotonic()
            row = self._spawn(self._add(meeting_id, pub.participant, pub.source, pub.kind, name, opened_wall))

            def done(result: TrackResult) -> None:  # in the writer thread
                loop.call_soon_threadsafe(self._finished, row, result, opened_wall, opened_mono)

            def keyframe() -> None:  # in the writer thread
                loop.call_soon_threadsafe(pub.request_keyframe)

            path = recording_path(self.runtime.settings, name)
            writer = TrackWriter(path, pub.kind, done, keyframe)
            self._writers.add(writer)
            return writer

        return open_track

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _add(
        self, meeting_id: int, participant: str, source: str, kind: str, name: str, started: Any
    ) -> int:
        async with self.runtime.db.transaction() as session:
            return await add_track(
                session,
                meeting_id=meeting_id,
                participant=participant,
                source=source,
                kind=kind,
                storage_name=name,
                started_at=started,
            )

    def _finished(
        self, row: asyncio.Task[int], result: TrackResult, opened_wall: Any, opened_mono: float
    ) -> None:
        self._spawn(self._finish(row, result, opened_wall, opened_mono))

    async def _finish(
        self, row: asyncio.Task[int], result: TrackResult, opened_wall: Any, opened_mono: float
    ) -> None:
        try:
            track_id = await row
            values: dict[str, Any] = {
                "duration": result.duration,
                "size": result.path.stat().st_size if result.path.exists() else 0,
                "frames": result.frames,
                "dropped": result.dropped,
                "width": result.width,
                "height": result.height,
                "error": result.error,
            }
            if result.first_arrival is not None:
                values["started_at"] = opened_wall + timedelta(seconds=result.first_arrival - opened_mono)
            async with self.runtime.db.transaction() as session:
                await finish_track(session, track_id, **values)
        except Exception:
            log.exception("recording track row not completed", extra={"file": result.path.name})

    async def close(self) -> None:
        """On shutdown (the rooms closed their writers): let the threads finish their files,
        then complete the rows."""
        writers = list(self._writers)
        for writer in writers:
            writer.close()

        def join_all() -> None:
            for writer in writers:
                writer.join(5)

        await asyncio.to_thread(join_all)
        await asyncio.sleep(0)  # the threads' callbacks, queued with call_soon_threadsafe
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
