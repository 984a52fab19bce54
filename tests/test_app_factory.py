"""Settings by environment; two apps in one process; the secret key; Redis in the health check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from server.settings import Settings
from tests.support.databases import migrated_database
from tests.support.live import start_live_server


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMO_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SMO_PUBLIC_URL", "https://smo.example.org")
    monkeypatch.setenv("SMO_DEFAULT_LOCALE", "en")
    s = Settings()
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'smo.db'}"
    assert s.public_url == "https://smo.example.org"
    assert s.default_locale == "en"


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_ENV", "production")
    monkeypatch.delenv("SMO_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError):
        Settings()


def test_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path)
    key = s.resolved_secret_key()
    assert len(key) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(var_dir=tmp_path).resolved_secret_key() == key


async def test_two_apps_in_one_process_do_not_interfere(tmp_path: Path) -> None:
    urls = [await migrated_database("sqlite", tmp_path / f"app{i}") for i in (1, 2)]
    for i in (1, 2):
        (tmp_path / f"app{i}").mkdir(exist_ok=True)
    servers = [
        await start_live_server(
            Settings(env="test", database_url=u, var_dir=tmp_path / f"app{i}", log_level="WARNING")
        )
        for i, u in enumerate(urls, start=1)
    ]
    try:
        assert servers[0].runtime is not servers[1].runtime
        assert servers[0].runtime.db.url != servers[1].runtime.db.url
        # Different generated secret keys: a cookie of one is not valid for the other.
        assert servers[0].runtime.secret_key != servers[1].runtime.secret_key
        async with httpx.AsyncClient() as c:
            for srv in servers:
                r = await c.get(srv.url + "/healthz")
                assert r.json()["status"] == "ok"
        await servers[0].stop()
        async with httpx.AsyncClient() as c:
            r = await c.get(servers[1].url + "/healthz")
            assert r.status_code == 200
    finally:
        for srv in servers:
            if not srv.task.done():
                await srv.stop()


async def test_health_reports_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    url = await migrated_database("sqlite", tmp_path)
    srv = await start_live_server(
        Settings(env="test", database_url=url, var_dir=tmp_path, redis_url=redis_url, log_level="WARNING")
    )
    try:
        async with httpx.AsyncClient() as c:
            r = await c.get(srv.url + "/healthz")
        body = r.json()
        assert (
            body["status"] == "ok" and body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
        )
    finally:
        await srv.stop()


async def test_health_degrades_when_redis_is_unreachable(tmp_path: Path) -> None:
    url = await migrated_database("sqlite", tmp_path)
    srv = await start_live_server(
        Settings(
            env="test",
            database_url=url,
            var_dir=tmp_path,
            redis_url="redis://127.0.0.1:1/0",
            log_level="WARNING",
        )
    )
    try:
        async with httpx.AsyncClient() as c:
            r = await c.get(srv.url + "/healthz")
        assert r.status_code == 503
        assert r.json()["checks"]["redis"].startswith("error")
    finally:
        await srv.stop()


def test_public_url_follows_the_served_address_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMO_PUBLIC_URL", raising=False)
    monkeypatch.delenv("SMO_LOG_FORMAT", raising=False)
    monkeypatch.delenv("SMO_ENV", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8765")
    s = Settings()
    assert s.public_url == "http://127.0.0.1:8765"
    assert s.log_format == "text"  # a developer's terminal, not JSON lines
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert Settings().public_url == "http://127.0.0.1:8765"
    monkeypatch.setenv("SMO_PUBLIC_URL", "https://smo.example.org")
    assert Settings().public_url == "https://smo.example.org"
    monkeypatch.setenv("SMO_ENV", "test")
    assert Settings().log_format == "json"


def test_serve_banner_names_the_address_and_the_demo_logins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from server.cli import banner
    from server.db.migrate import upgrade
    from server.demo import seed_demo

    monkeypatch.delenv("SMO_PUBLIC_URL", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8765")
    s = Settings(var_dir=tmp_path, env="development")
    assert "http://127.0.0.1:8765" in banner(s) and "demo.smo" not in banner(s)  # no database yet
    upgrade(s.database_url, "heads")
    asyncio.run(seed_demo(s))
    text = banner(s)
    assert "откройте http://127.0.0.1:8765" in text
    assert "metodist@demo.smo" in text and "demo12345" in text
