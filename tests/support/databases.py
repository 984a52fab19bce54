"""Per-run test databases: a SQLite file, or a fresh PostgreSQL database per run."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from server.db.base import Base
from server.db.engine import Database
from server.db.migrate import upgrade_async

REQUIRE_SERVICES = os.environ.get("SMO_REQUIRE_SERVICES") == "1"


def pg_admin_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL")


async def create_pg_database(prefix: str = "smo_t") -> str:
    """CREATE DATABASE with a unique name; return its SQLAlchemy URL."""
    base = make_url(pg_admin_url() or "")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username,
        password=base.password,
        database=base.database,
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    u = make_url(url)
    base = make_url(pg_admin_url() or "")
    conn = await asyncpg.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username,
        password=base.password,
        database=base.database,
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrated_database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'test.db'}"
    else:
        url = await create_pg_database()
    await upgrade_async(url)
    return url


async def truncate_all(db: Database) -> None:
    """Empty every table between tests (the schema stays migrated). On PostgreSQL a write the
    previous test left in flight (a connection closing, a job) can deadlock with TRUNCATE's
    table locks; PostgreSQL then aborts one side, and emptying is simply tried again."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    for attempt in range(5):
        try:
            async with db.transaction() as s:
                if db.url.startswith("postgresql"):
                    await s.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                else:
                    for name in tables:
                        await s.execute(text(f"DELETE FROM {name}"))
                    await s.execute(text("DELETE FROM search_fts"))  # server/search.py
            return
        except DBAPIError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            await asyncio.sleep(0.2)
