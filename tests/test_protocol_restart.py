"""A crash between the meeting's end and the draft's assembly: the job survives in the outbox
and the next server start assembles the draft, exactly once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from server.db.engine import Database
from server.db.models import OutboxMessage
from server.db.models.protocols import MeetingProtocol
from server.domain.protocol.workflow import enqueue_assembly
from server.settings import Settings
from tests.support.databases import drop_pg_database, migrated_database
from tests.support.live import start_live_server
from tests.support.net import wait_for
from tests.test_protocol_workflow import _seed


async def test_draft_appears_once_after_restart(backend: str, tmp_path: Path) -> None:
    url = await migrated_database(backend, tmp_path)
    db = Database(url)
    try:
        # The end's transaction committed (log + queued job), then the process died.
        async with db.transaction() as s:
            seed = await _seed(s)
            assert await enqueue_assembly(s, seed["meeting"].id)

        async def counts() -> tuple[int, int, str]:
            async with db.read() as s:
                drafts = await s.scalar(select(func.count(MeetingProtocol.id))) or 0
                jobs = await s.scalar(select(func.count(OutboxMessage.id))) or 0
                status = await s.scalar(select(OutboxMessage.status)) or ""
            return drafts, jobs, status

        assert await counts() == (0, 1, "pending")
        settings = Settings(env="test", database_url=url, var_dir=tmp_path, log_level="WARNING")
        for _start in range(2):  # a second restart must not assemble a second draft
            srv = await start_live_server(settings)
            try:
                await wait_for(lambda: _sent(counts), 20, what="draft assembled after restart")
            finally:
                await srv.stop()
            assert await counts() == (1, 1, "sent")
    finally:
        await db.dispose()
        if backend == "postgresql":
            await drop_pg_database(url)


async def _sent(counts):  # type: ignore[no-untyped-def]
    drafts, _, status = await counts()
    return drafts == 1 and status == "sent"
