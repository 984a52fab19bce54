"""The `smo` command: help texts, migrate, demo data (idempotent), create-admin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.db.engine import Database
from server.db.models import Association, Meeting, Membership, Role, User
from server.domain.accounts.passwords import verify_password

SMO = [sys.executable, "-m", "server.cli"]


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        SMO + args, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, input=stdin
    )


@pytest.mark.parametrize("command", ["serve", "migrate", "create-admin", "demo-data"])
def test_every_command_has_help(command: str) -> None:
    r = run([command, "--help"], {})
    assert r.returncode == 0
    assert "usage: smo " + command in r.stdout


async def test_migrate_demo_data_idempotent_and_create_admin(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"SMO_DATABASE_URL": url, "SMO_VAR_DIR": str(tmp_path)}
    assert run(["migrate"], env).returncode == 0
    first = run(["demo-data", "--if-empty"], env)
    assert first.returncode == 0 and "demo data created" in first.stdout
    second = run(["demo-data", "--if-empty"], env)
    assert second.returncode == 0 and "already present" in second.stdout

    weak = run(["create-admin", "root@example.org", "--password", "short"], env)
    assert weak.returncode != 0
    ok = run(["create-admin", "Root@Example.org", "--password", "Str0ngpass"], env)
    assert ok.returncode == 0, ok.stderr

    db = Database(url)
    try:
        async with db.read() as s:
            assert await s.scalar(select(func.count(Association.id))) == 1
            assert await s.scalar(select(func.count(Meeting.id))) == 1
            roles = sorted((await s.scalars(select(Membership.role))).all())
            assert roles == sorted([Role.methodist, Role.member, Role.mo_head])
            admin = await s.scalar(select(User).where(User.email == "root@example.org"))
            assert admin is not None and admin.is_admin
            assert verify_password(admin.password_hash, "Str0ngpass")
    finally:
        await db.dispose()
