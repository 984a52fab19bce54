"""The engine and the one transaction boundary (opened at the edge, never inside domain code)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.db import sqlite_driver

log = logging.getLogger("smo.db")
# SQLite's own wait for its write lock (PRAGMA busy_timeout, below), also the longest this
# process's writers queue for one another before falling back to it.
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, *, fused_sqlite: bool = True) -> AsyncEngine:
    """The engine for ``url``. ``fused_sqlite=False`` keeps SQLAlchemy's own aiosqlite adapter
    (four thread hops per statement, ``server/db/sqlite_driver.py``): for A/B benches."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
        if fused_sqlite and url.startswith("sqlite+aiosqlite:"):
            # one hop into aiosqlite's thread per statement, none inside a write transaction
            kwargs["module"] = sqlite_driver.dbapi()
            kwargs["connect_args"]["check_same_thread"] = False
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # WAL: readers never block the writer; synchronous=FULL: a commit is on disk.
        # isolation_level=None lets us issue BEGIN IMMEDIATE ourselves so that
        # writers serialise at BEGIN instead of failing at their first write.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get("readonly") else sqlite_driver.BEGIN_WRITE
        )


class WriterQueue:
    """This process's SQLite writers, one at a time and first come, first served.

    SQLite lets one connection write at a time. Without this queue, a second writer's
    ``BEGIN IMMEDIATE`` waits in SQLite's busy handler, which sleeps and retries (1, 2, 5, 10 …
    up to 100 ms a nap): the lock is handed over up to 100 ms late and not in arrival order. In
    a region's busiest hour (bench/region.py) a chat message of one meeting waited 0.4–1.7 s
    for the other meetings' vote batches that way. Here the next writer gets the lock the
    moment the last one commits. Another process on the same file still meets SQLite's
    busy handler, as before; a writer that waited here ``SQLITE_BUSY_SECONDS`` goes on to it
    too, so a stuck writer delays the others no longer than SQLite itself would."""

    def __init__(self) -> None:
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            # one per event loop: asyncio.Lock belongs to one loop (tests run several)
            for old in [old for old in self._locks if old.is_closed()]:
                del self._locks[old]
            lock = self._locks[loop] = asyncio.Lock()
        try:
            await asyncio.wait_for(lock.acquire(), SQLITE_BUSY_SECONDS)
            acquired = True
        except TimeoutError:
            log.warning(
                "sqlite writer queue: waited %s s, going on to SQLite's own lock", SQLITE_BUSY_SECONDS
            )
            acquired = False
        try:
            yield
        finally:
            if acquired:
                lock.release()


class Database:
    """Engine plus session factory; created in the app's lifespan from the settings."""

    def __init__(
        self, url: str, *, key_dir: Path | None = None, fused_sqlite: bool = True, writer_queue: bool = True
    ) -> None:
        """``fused_sqlite`` and ``writer_queue`` are on in the app; benches turn them off for A/B
        (bench/sqlite_writers.py)."""
        self.url = url
        self.engine = make_engine(url, fused_sqlite=fused_sqlite)
        self.writers = WriterQueue() if writer_queue and url.startswith("sqlite") else None
        if key_dir is None:  # next to a SQLite file, else var/ (server/settings.py's default)
            path = url.split(":///", 1)[-1] if url.startswith("sqlite") else ""
            key_dir = (Path(path).parent if path and path != ":memory:" else Path("var")) / "sealing-keys"
        # Sealed records' keys (server/db/sealing.py): found through every session.
        info = {"sealing_key_dir": str(key_dir)}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(readonly=True), expire_on_commit=False, info=info
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any exception. On SQLite the
        process's writers take turns (``WriterQueue``)."""
        async with self.writers.turn() if self.writers is not None else nullcontext():
            async with self.sessionmaker() as session:
                async with session.begin():
                    yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work (on SQLite it does not take the write lock)."""
        async with self.read_sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
