"""The engine and the one transaction boundary (opened at the edge, never inside domain code)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
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
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")


class Database:
    """Engine plus session factory; created in the app's lifespan from the settings."""

    def __init__(self, url: str, *, key_dir: Path | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
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
        """One unit of work: commit on success, roll back on any exception."""
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
