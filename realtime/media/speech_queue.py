"""Captured speech into the durable transcription queue (``transcript_jobs``), or, when that
write fails (a full disk, the database away), a ``transcript.failed`` (``not_stored``) in the
meeting's log instead: the protocol's ПРИМЕЧАНИЯ then name the stretch that was not
transcribed. The marker is retried with a growing pause until the log takes it (the disk
freed, the database back), so it is not lost with the audio. The room goes on either way:
media, the other events and the next speech do not wait for this. See docs/transcript.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.capture import CapturedSpeech
from realtime.media.transcriber import transcriber
from server.domain.meeting.room_state import Outcome, RoomState
from server.domain.meeting.transcript import enqueue_speech, not_stored

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.transcription")
SERVICE_KEY = "speech_queue"
MAX_HELD = 10_000  # markers waiting for the log (a few hundred bytes each)
RETRY_FIRST = 1.0  # seconds before the first retry; doubled up to RETRY_MAX
RETRY_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Unstored:
    meeting_id: int
    participant: str
    started_at: datetime
    ended_at: datetime


class SpeechQueue:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.held: deque[Unstored] = deque()
        self._retry: asyncio.Task[None] | None = None

    async def put(self, meeting_id: int, speech: CapturedSpeech) -> bool:
        """Queue one captured stretch of speech; False when it could not be stored (then its
        marker is logged now or later)."""
        try:
            async with self.runtime.db.transaction() as session:
                await enqueue_speech(
                    session, meeting_id, speech.participant, speech.started_at, speech.ended_at, speech.audio
                )
        except Exception as error:  # OSError, the database's "disk is full" / connection errors
            log.error(
                "captured speech could not be stored: it will not be transcribed",
                extra={"meeting_id": meeting_id, "participant": speech.participant, "error": repr(error)},
            )
            self._hold(Unstored(meeting_id, speech.participant, speech.started_at, speech.ended_at))
            return False
        transcriber(self.runtime).wake()
        return True

    def _hold(self, item: Unstored) -> None:
        if len(self.held) >= MAX_HELD:
            lost = self.held.popleft()
            log.error("transcript marker dropped (too many held)", extra={"meeting_id": lost.meeting_id})
        self.held.append(item)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.ensure_future(self._mark_held())

    async def _mark_held(self) -> None:
        """Log the held markers in order; on a failure wait (1 s, 2 s, ... 30 s) and go on."""
        pause = RETRY_FIRST
        while self.held:
            item = self.held[0]
            try:
                await self._mark(item)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "transcript marker not logged yet, retrying",
                    extra={"meeting_id": item.meeting_id, "error": repr(error), "retry_in": pause},
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            self.held.popleft()
            pause = RETRY_FIRST

    async def _mark(self, item: Unstored) -> None:
        from realtime.meeting.registry import room_service

        async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
            return Outcome(
                await not_stored(session, item.meeting_id, item.participant, item.started_at, item.ended_at)
            )

        await room_service(self.runtime).commit(item.meeting_id, act)

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry


def speech_queue(runtime: Runtime) -> SpeechQueue:
    service: SpeechQueue | None = runtime.services.get(SERVICE_KEY)
    if service is None:
        service = runtime.services[SERVICE_KEY] = SpeechQueue(runtime)
        runtime.services.setdefault("realtime_shutdown", []).append(service.close)
    return service
