"""The real Yjs library (Node.js) and pycrdt clients on one document; a server restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.domain.meeting import documents
from tests.conftest import make_settings
from tests.support.doc_peer import DocPeer
from tests.support.live import LiveServer, start_live_server
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.smtp import Inbox

YJS_CLIENT = Path(__file__).parent / "support" / "yjs_client"


@pytest.fixture(scope="session")
def yjs_client() -> Path:
    """The Node.js client, installed from its pinned lock file when node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Yjs client")
    if not (YJS_CLIENT / "node_modules" / "yjs").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=YJS_CLIENT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return YJS_CLIENT / "client.mjs"


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_yjs_and_pycrdt_clients_converge(server: LiveServer, cast: Cast, yjs_client: Path) -> None:
    host_c, _ = await cast.joined("methodist")
    docs = (await host_c.ok("doc.list"))["documents"]
    doc_id = docs[1]["id"]
    a = DocPeer(host_c, doc_id)
    await a.open()
    b_c, _ = await cast.joined("member")
    b = DocPeer(b_c, doc_id)
    await b.open()
    n = 12
    node = await asyncio.create_subprocess_exec(
        "node",
        str(yjs_client),
        cast.url,
        cast.cookie("mo_head"),
        str(cast.meeting.id),
        str(doc_id),
        str(n),
        "Yjs",
        str(3 * n),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def type_into(p: DocPeer, who: str) -> None:
        for i in range(n):
            assert (await p.add_paragraph(f"{who} {i}"))["ok"] is True

    await asyncio.gather(type_into(a, "pycrdt-A"), type_into(b, "pycrdt-B"))
    out, err = await asyncio.wait_for(node.communicate(), 60)
    assert node.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    await wait_for(
        lambda: len(a.paragraphs()) == 3 * n and len(b.paragraphs()) == 3 * n, 10, what="python peers"
    )
    assert result["paragraphs"] == a.paragraphs() == b.paragraphs()
    expected = {f"{w} {i}" for w in ("pycrdt-A", "pycrdt-B", "Yjs") for i in range(n)}
    assert set(a.paragraphs()) == expected
    async with server.runtime.db.read() as s:
        assert await documents.document_text(s, doc_id) == a.markdown


async def test_restart_mid_editing_loses_nothing_acknowledged(
    server: LiveServer,
    database_url: str,
    tmp_path: Path,
    smtp: tuple[str, int, Inbox],
) -> None:
    settings = make_settings(database_url, tmp_path, smtp)
    first = await start_live_server(settings)
    cast = await seed_cast(first.runtime.db, first.url, first.runtime.secret_key)
    acked: list[str] = []
    try:
        c, _ = await cast.joined("methodist")
        doc_id = (await c.ok("doc.list"))["documents"][0]["id"]
        p = DocPeer(c, doc_id)
        await p.open()

        async def keep_typing() -> None:
            i = 0
            while True:
                text = f"строка {i}"
                ack = await p.add_paragraph(text)
                if ack.get("ok"):
                    acked.append(text)
                i += 1

        typing = asyncio.create_task(keep_typing())
        await wait_for(lambda: len(acked) >= 15, 20, what="some acknowledged edits")
        await first.stop()  # mid-editing
        typing.cancel()  # an edit in flight at the stop was never acknowledged
        with contextlib.suppress(BaseException):
            await typing
        await cast.close_all()
    finally:
        if not first.task.done():
            await first.stop()
    assert len(acked) >= 15
    second = await start_live_server(settings)
    try:
        cast2 = Cast(second.url, second.runtime.secret_key, cast.meeting, cast.ids)
        c2, _ = await cast2.joined("member")
        p2 = DocPeer(c2, doc_id)
        await p2.open()
        have = p2.paragraphs()
        assert have[: len(acked)] == acked  # every acknowledged edit, in order
        assert len(have) <= len(acked) + 1  # at most the one in flight at the stop
        await cast2.close_all(second.runtime.sio)
    finally:
        await second.stop()


async def test_two_processes_share_one_document_through_redis(
    server: LiveServer,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    smtp: tuple[str, int, Inbox],
) -> None:
    """Two app instances on one database and one Redis: clients of either converge, and each
    process's copy catches up from storage before it takes an update."""
    prefix = f"docs-{secrets.token_hex(4)}"
    one = await start_live_server(
        make_settings(database_url, tmp_path / "one", smtp, redis_url=redis_url, redis_prefix=prefix)
    )
    two = await start_live_server(
        make_settings(database_url, tmp_path / "two", smtp, redis_url=redis_url, redis_prefix=prefix)
    )
    try:
        cast = await seed_cast(one.runtime.db, one.url, one.runtime.secret_key)
        c1, _ = await cast.joined("methodist", url=one.url)
        c2, _ = await cast.joined("member", url=two.url)
        doc_id = (await c1.ok("doc.list"))["documents"][0]["id"]
        p1, p2 = DocPeer(c1, doc_id), DocPeer(c2, doc_id)
        await p1.open()
        await p2.open()

        async def type_into(p: DocPeer, who: str) -> None:
            for i in range(10):
                assert (await p.add_paragraph(f"{who} {i}"))["ok"] is True

        await asyncio.gather(type_into(p1, "first"), type_into(p2, "second"))
        await wait_for(lambda: len(p1.paragraphs()) == 20 and len(p2.paragraphs()) == 20, 10, what="fan-out")
        assert p1.paragraphs() == p2.paragraphs()
        async with one.runtime.db.read() as s:
            assert await documents.document_text(s, doc_id) == p1.markdown
        await cast.close_all()
    finally:
        await one.stop()
        await two.stop()
