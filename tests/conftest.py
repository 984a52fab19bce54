"""Fixtures: every database test runs on SQLite and on PostgreSQL (when configured), against a
real uvicorn server on a free port, with a real SMTP server receiving the mail."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, or_, select

from realtime.docs.rooms import doc_rooms
from realtime.media.service import SERVICE_KEY as MEDIA_SERVICE_KEY
from server import clock
from server.db.engine import Database
from server.db.models import OutboxMessage
from server.db.types import utcnow
from server.settings import Settings
from server.workers import due as outbox_due
from tests.support.client import WebClient
from tests.support.databases import (
    REQUIRE_SERVICES,
    drop_pg_database,
    migrated_database,
    pg_admin_url,
    truncate_all,
)
from tests.support.live import LiveServer, start_live_server
from tests.support.net import wait_for
from tests.support.smtp import Inbox, start_smtp

BACKENDS = ["sqlite", "postgresql"]


TEST_NOW = os.environ.get("SMO_TEST_NOW")  # the clock-shift check (README, `make test-clock`)


def pytest_configure(config: pytest.Config) -> None:
    if TEST_NOW:
        clock.travel_to(clock.parse_instant(TEST_NOW))


@pytest.fixture(autouse=True)
def _test_starts_at_test_now() -> None:
    """Under SMO_TEST_NOW every test starts at that instant (so one set just before midnight
    does not drift past it while the suite runs)."""
    if TEST_NOW:
        clock.travel_to(clock.parse_instant(TEST_NOW))


@pytest.fixture
def travel() -> Iterator[Callable[[float], None]]:
    """``travel(seconds)`` moves the process clock forward (timers, due jobs); the clock is
    put back after the test."""
    saved = clock._origin

    def go(seconds: float) -> None:
        clock.travel_to(clock.now() + timedelta(seconds=seconds))

    yield go
    clock._origin = saved


def pytest_report_header(config: pytest.Config) -> str:
    return f"clock: {clock.now().isoformat(timespec='seconds')} (SMO_TEST_NOW={os.environ.get('SMO_TEST_NOW', '')})"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long, opt-in tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --run-slow (make soak)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (SMO_REQUIRE_SERVICES=1: CI must run these tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not pg_admin_url():
        skip_or_fail("PostgreSQL tests need TEST_DATABASE_URL")
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("Redis tests need TEST_REDIS_URL")
    return str(url)


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[str, int, Inbox]]:
    controller, inbox = start_smtp()
    yield "127.0.0.1", int(controller.port), inbox
    controller.stop()


@pytest.fixture
def inbox(smtp: tuple[str, int, Inbox]) -> Inbox:
    smtp[2].clear()
    return smtp[2]


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await migrated_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield url
    if backend == "postgresql":
        await drop_pg_database(url)


def make_settings(
    database_url: str, var_dir: Path, smtp: tuple[str, int, Inbox], **extra: object
) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        var_dir=var_dir,
        secret_key="test-secret-key-0123456789",
        smtp_host=smtp[0],
        smtp_port=smtp[1],
        outbox_poll_seconds=0.2,
        log_level="WARNING",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
async def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp: tuple[str, int, Inbox]
) -> AsyncIterator[LiveServer]:
    var_dir = tmp_path_factory.mktemp("var")
    server = await start_live_server(make_settings(database_url, var_dir, smtp))
    yield server
    await server.stop()


@pytest.fixture
async def own_server(backend: str, tmp_path: Path, smtp: tuple[str, int, Inbox]) -> AsyncIterator[LiveServer]:
    """A live server with a database of its own, for a test that reads or folds the database's
    files from outside (the SQLite WAL checkpointed and replayed): the session's server and the
    tests after it never see that."""
    url = await migrated_database(backend, tmp_path / "own-db")
    srv = await start_live_server(make_settings(url, tmp_path / "own-var", smtp))
    try:
        yield srv
    finally:
        await srv.stop()
        if backend == "postgresql":
            await drop_pg_database(url)


async def settle_outbox(db: Database, timeout: float = 15.0) -> None:
    """Wait until the outbox has nothing to do now: no job being handled (claimed rows are
    "running") and none due. A job of the previous test may have queued mail (a protocol's
    review fans out one row per member); a row still due here would be claimed between this
    wait and the truncation and delivered into the next test's inbox."""

    async def idle() -> bool:
        async with db.read() as s:
            busy = await s.scalar(
                select(func.count(OutboxMessage.id)).where(
                    or_(OutboxMessage.status == "running", outbox_due(utcnow()))
                )
            )
        return not busy

    try:
        await wait_for(idle, timeout, what="outbox idle")
    except AssertionError:
        pass  # a job stuck past the timeout: truncation below removes it anyway


async def forget_previous_test(server: LiveServer) -> None:
    """Ids restart with the emptied tables, so what the server still holds in memory from the
    previous test would meet this test's meeting and people under the same ids: a document's
    cursors of closed connections still to be swept, a media peer kept through its reconnect
    grace. Forget them before the tables are emptied and this test connects anyone."""
    doc_rooms(server.runtime)._rooms.clear()
    media = server.runtime.services.get(MEDIA_SERVICE_KEY)
    if media is not None and media.sfu.rooms:
        await media.sfu.close()
        await asyncio.wait_for(media._queue.join(), 10)  # their "closed" notices, to nobody


@pytest.fixture
async def server(live_server: LiveServer, inbox: Inbox) -> AsyncIterator[LiveServer]:
    """The session's live server with an empty database and fresh rate limits."""
    await settle_outbox(live_server.runtime.db)  # a mail of the previous test still in flight
    await forget_previous_test(live_server)  # first: its media may still write on closing
    await truncate_all(live_server.runtime.db)
    inbox.clear()
    live_server.runtime.limiter._memory.clear()
    yield live_server


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[WebClient]:
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as c:
        yield c
