"""Everything long-lived, built from the settings in the app's lifespan and torn down after.

Handlers reach it through ``request.app.state.runtime`` (HTTP) or the namespace's
``runtime`` attribute (Socket.IO). Two apps in one process each have their own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

from server.db.engine import Database
from server.ratelimit import RateLimiter
from server.settings import Settings

if TYPE_CHECKING:
    import socketio
    from redis.asyncio import Redis

log = logging.getLogger("smo.runtime")


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
        # Extensions (media SFU, documents, workers) hang their state here by name.
        self.services: dict[str, Any] = {}

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("runtime not started")
        return self._db

    async def start(self) -> None:
        self._db = Database(self.settings.database_url, key_dir=self.settings.resolved_sealing_key_dir)
        if self.settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(self.settings.redis_url)
        from realtime.server import create_realtime

        self.sio, self.sio_app = create_realtime(self)
        from server.workers import start_workers

        self.tasks.extend(start_workers(self))
        # Everything imported and built so far lives as long as the process: move it out of the
        # garbage collector's sight, so that a full collection during a meeting scans only what
        # the meetings created (a full scan of the whole heap stalled broadcasts by 100-200 ms).
        gc.collect()
        gc.freeze()
        log.info(
            "runtime started",
            extra={
                "database": self.settings.database_url.split("://")[0],
                "redis": bool(self.redis),
            },
        )

    async def stop(self) -> None:
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
        from realtime.server import stop_realtime

        await stop_realtime(self)
        if self.redis is not None:
            await self.redis.aclose()
        if self._db is not None:
            await self._db.dispose()
        log.info("runtime stopped")
