"""Run Alembic migrations programmatically (``smo migrate``; test fixtures)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]

# Objects the migrations create by hand that the models cannot declare: SQLite's FTS5 table
# (and its shadow tables) and PostgreSQL's full-text expression index (server/search.py).
UNMANAGED_TABLES = frozenset(
    {"search_fts"} | {f"search_fts_{s}" for s in ("data", "idx", "content", "docsize", "config")}
)
UNMANAGED_INDEXES = frozenset({"ix_search_entries_fts"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate's filter: leave the hand-made search objects alone."""
    if type_ == "table" and name in UNMANAGED_TABLES:
        return False
    return not (type_ == "index" and name in UNMANAGED_INDEXES)


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "heads") -> None:
    # env.py runs its own event loop; keep it off ours.
    await asyncio.to_thread(upgrade, database_url, revision)
