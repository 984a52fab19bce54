"""The migrations and the models agree, on SQLite and PostgreSQL; upgrade and downgrade work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.db.base import Base
from server.db.engine import make_engine
from server.db.migrate import downgrade, include_object, upgrade
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url


async def _diff_and_tables(url: str) -> tuple[list[object], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def run(sync_conn: object) -> tuple[list[object], set[str]]:
                ctx = MigrationContext.configure(
                    sync_conn,  # type: ignore[arg-type]
                    opts={
                        "compare_type": True,
                        "target_metadata": Base.metadata,
                        "include_object": include_object,
                    },
                )
                return compare_metadata(ctx, Base.metadata), set(inspect(sync_conn).get_table_names())  # type: ignore[arg-type]

            return await conn.run_sync(run)
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch_url(backend: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    assert pg_admin_url()
    url = await create_pg_database("smo_mig")
    yield url
    await drop_pg_database(url)


async def test_upgrade_matches_models_and_downgrade_empties(scratch_url: str) -> None:
    await asyncio.to_thread(upgrade, scratch_url)
    diff, tables = await _diff_and_tables(scratch_url)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert set(Base.metadata.tables) <= tables

    await asyncio.to_thread(downgrade, scratch_url, "base")
    _, tables = await _diff_and_tables(scratch_url)
    assert tables <= {"alembic_version"}

    # And back up again: the downgrade left a clean slate.
    await asyncio.to_thread(upgrade, scratch_url)
    diff, _ = await _diff_and_tables(scratch_url)
    assert diff == []
