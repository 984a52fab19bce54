"""Everything long-lived, built from the settings in the app's lifespan and torn down after.

Handlers reach it through ``request.app.state.runtime`` (HTTP) or the namespace's
``runtime`` attribute (Socket.IO). Two apps in one process each have their own.

The runtime holds the shared resources (database, Redis, rate limits) and the slots the other
parts fill; it imports none of them. The app factory (server/app.py) composes: it starts the
runtime, then builds the realtime server and starts the workers that use it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any, Protocol

from server.db.engine import Database
from server.gc_policy import GcPolicy
from server.ratelimit import RateLimiter
from server.settings import Settings

if TYPE_CHECKING:
    import socketio
    from redis.asyncio import Redis

log = logging.getLogger("smo.runtime")


class LiveMeetings(Protocol):
    """What the live meeting (realtime/) does for the pages; set when the app composes it."""

    async def close_overdue_polls(self, meeting_id: int) -> None:
        """Close the meeting's polls whose timer ran out, and tell the room."""

    async def end_connections(self, participant: str) -> None:
        """End the person's open room connections (their sessions were ended)."""


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secret_key = settings.resolved_secret_key()
        self._db: Database | None = None
        self.redis: Redis | None = None
        self.sio: socketio.AsyncServer | None = None
        self.sio_app: Any = None
        self.limiter = RateLimiter(self)
        self.tasks: list[asyncio.Task[Any]] = []
        self.live: LiveMeetings | None = None
        # Extensions (media SFU, documents, workers) hang their state here by name.
        self.services: dict[str, Any] = {}
        self.gc = GcPolicy()

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("runtime not started")
        return self._db

    async def start(self) -> None:
        """Open the shared resources (the app then adds the realtime server and the workers)."""
        self._db = Database(self.settings.database_url, key_dir=self.settings.resolved_sealing_key_dir)
        if self.settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(self.settings.redis_url)

    def started(self) -> None:
        """Called by the app once every part is built."""
        # Everything imported and built so far lives as long as the process: move it out of the
        # garbage collector's sight, so that a full collection during a meeting scans only what
        # the meetings created (a full scan of the whole heap stalled broadcasts by 100-200 ms).
        gc.collect()
        gc.freeze()
        # server/gc_policy.py: report full collections; freeze their survivors unless turned off
        self.gc.install(asyncio.get_running_loop(), freeze=self.settings.gc_freezes_survivors)
        log.info(
            "runtime started",
            extra={
                "database": self.settings.database_url.split("://")[0],
                "redis": bool(self.redis),
            },
        )

    async def stop_tasks(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("background task failed while stopping")
        self.tasks.clear()

    async def stop(self) -> None:
        """Close the shared resources (after the app stopped the tasks and the realtime server)."""
        await self.stop_tasks()
        self.gc.uninstall()
        if self.redis is not None:
            await self.redis.aclose()
        if self._db is not None:
            await self._db.dispose()
        log.info("runtime stopped")
