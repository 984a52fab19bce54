"""The transcriber of an app process: takes captured speech from the durable queue
(``transcript_jobs``), runs the engine in its own thread and appends the result to the
meeting's log through the room service (durable, then broadcast like every event).

Inference never runs on the event loop: decoding and Whisper run in a single worker thread
(CTranslate2 and FFmpeg release the GIL while they compute). When the CPU is short the queue
grows and is worked off later, after the meeting if need be; a restart picks it up where it
stood. See docs/transcript.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.meeting import transcript as queue
from server.domain.meeting.room_state import Outcome, RoomState
from server.transcription.audio import BadAudio, decode_opus
from server.transcription.engine import LANGUAGE, Engine, EngineOptions, shared_engine

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.transcription")
SERVICE_KEY = "transcriber"
POLL_SECONDS = 5.0


class Transcriber:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.enabled = bool(getattr(settings, "transcription_enabled", True))
        self.engine: Engine = shared_engine(EngineOptions.from_settings(settings))
        self.wakeup = asyncio.Event()
        self.done = 0  # segments this process transcribed (done or failed)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcriber")
        self._task: asyncio.Task[None] | None = None
        self._loading: asyncio.Future[bool] | None = None

    # --- status --------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """The room may capture speech: enabled, and the model checked out (or is being checked)."""
        return self.enabled and self.engine.reason is None

    def status(self) -> dict[str, Any]:
        if not self.enabled:
            return {"status": "disabled"}
        if self.engine.reason is not None:
            return {"status": "unavailable", "reason": self.engine.reason, "model": self.engine.model_name}
        if not self.engine.checked and not self.engine.available:
            return {"status": "checking"}
        return {
            "status": "ok",
            "model": self.engine.model_name,
            "loaded": self.engine.available,
            "transcribed": self.done,
        }

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self.wakeup.set()

    async def warm(self) -> bool:
        """Load the model (once; in the worker thread) so the first caption does not wait."""
        if self.engine.available:
            return True
        if self._loading is None or (self._loading.done() and not self._loading.result()):
            self._loading = asyncio.get_running_loop().run_in_executor(self._pool, self.engine.load)
        return await asyncio.shield(self._loading)

    # --- the queue -----------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self._pool, self.engine.check):
            return  # logged by the engine; the room says transcription is unavailable
        async with self.runtime.db.transaction() as session:
            freed = await queue.release_leases(session)
        if freed:
            log.info("transcription resumed after a restart", extra={"segments": freed})
        while True:
            self.wakeup.clear()  # before the claim: a wake-up during it is not lost
            try:
                worked = await self.run_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transcription loop error")
                worked = False
            if worked:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), POLL_SECONDS)

    async def run_one(self) -> bool:
        """Claim, transcribe and log one queued segment; False when there is none (or the
        engine cannot run: the rows then wait, and the protocol names them)."""
        async with self.runtime.db.transaction() as session:
            job = await queue.claim_next(session, skip_locked=not self.runtime.settings.is_sqlite)
        if job is None:
            return False
        if not await self.warm():
            async with self.runtime.db.transaction() as session:
                await queue.release(session, job.id, self.engine.reason or "model unavailable")
            return False
        loop = asyncio.get_running_loop()
        failure: tuple[queue.FailReason, str] | None = None
        text = ""
        try:
            text = await loop.run_in_executor(self._pool, self._transcribe, job.audio)
        except BadAudio as bad:
            failure = ("corrupt_audio", str(bad))
        except Exception as error:
            log.exception("transcription failed", extra={"job_id": job.id, "attempt": job.attempts})
            if job.attempts < queue.MAX_ATTEMPTS:
                async with self.runtime.db.transaction() as session:
                    await queue.release(session, job.id, repr(error))
                return True
            failure = ("engine_error", repr(error))
        if failure is not None:
            reason, detail = failure
            await self._log(job.meeting_id, lambda s: queue.fail(s, job, reason, detail))
        else:
            model = self.engine.model_name
            await self._log(job.meeting_id, lambda s: queue.complete(s, job, text, LANGUAGE, model))
        self.done += 1
        return True

    def _transcribe(self, audio: bytes) -> str:
        """In the worker thread: decode the Opus packets and run Whisper."""
        pieces = self.engine.transcribe(decode_opus(audio), timestamps=False)
        return " ".join(p.text for p in pieces)

    async def _log(self, meeting_id: int, step: Any) -> None:
        from realtime.meeting.registry import room_service

        async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
            return Outcome(await step(session))

        await room_service(self.runtime).commit(meeting_id, act)


def transcriber(runtime: Runtime) -> Transcriber:
    service: Transcriber | None = runtime.services.get(SERVICE_KEY)
    if service is None:
        service = runtime.services[SERVICE_KEY] = Transcriber(runtime)
        runtime.services.setdefault("realtime_shutdown", []).append(service.close)
    return service


def start_transcriber(runtime: Runtime) -> Transcriber:
    service = transcriber(runtime)
    service.start()
    return service
