"""Benchmark: N editors (default 30) typing at human speed into one shared document.

The app runs as a child uvicorn process (WebSocket transport) on a fresh database. Each editor
is a pycrdt client over the room's Socket.IO connection, speaking the browser's protocol: it
types one character every ~1/rate seconds (default 5 characters per second, with jitter) into
its own paragraph and keeps one update in flight, merging what it types meanwhile (as
static/js/room/documents.js does). Fan-out latency is measured from the keystroke to the moment
each other editor's copy contains it (per sender, by the Yjs clock), so it includes queueing,
the durable write and the broadcast. Also: the server's CPU (user+system from /proc) per
second of editing, its memory growth while holding the document, the stored size; one JSON line
at the end.

    .venv/bin/python bench/docs.py [--editors 30] [--rate 5] [--seconds 20]
                                   [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import socketio
from chat_fanout import cpu_seconds, ready, seed, spawn
from pycrdt import Decoder, Doc, XmlElement, XmlFragment, XmlText, merge_updates, write_message

from server.db.migrate import upgrade_async
from server.domain.meeting.documents import state_vector
from tests.support.net import free_port, wait_for
from tests.support.proc import uvicorn_command
from tests.support.sio import user_cookie


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sync_msg(kind: int, payload: bytes) -> str:
    return base64.b64encode(bytes([0, kind]) + write_message(payload)).decode()


def parse(data: str) -> bytes:
    payload = Decoder(base64.b64decode(data)[2:]).read_message()
    assert payload is not None
    return payload


class Editor:
    def __init__(self, url: str, cookie: str) -> None:
        self.url, self.cookie = url, cookie
        self.sio = socketio.AsyncClient(reconnection=False)
        self.doc: Doc = Doc()
        self.fragment = self.doc.get("prosemirror", type=XmlFragment)
        self.text: XmlText | None = None
        self.doc_id = 0
        self.pending: list[bytes] = []
        self.inflight = False
        self.rejected = 0
        self.sent_messages = 0
        # per sender client id: the next unseen index into that sender's keystroke log
        self.seen: dict[int, int] = {}
        self.latencies: list[float] = []
        self.acks: list[float] = []
        self.peers: list[Editor] = []
        self.keystrokes: list[tuple[int, float]] = []  # (clock after the keystroke, time)
        self.sio.on("doc.sync", self._on_sync)

    async def connect(self, meeting_id: int) -> None:
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"smo_session={self.cookie}"},
            transports=["websocket"],
            wait_timeout=60,
        )
        ack = await self.sio.call("join", {"meeting_id": meeting_id}, timeout=120)
        assert ack["ok"], ack

    async def open(self, doc_id: int) -> None:
        self.doc_id = doc_id
        ack = await self.sio.call("doc.open", {"doc_id": doc_id}, timeout=60)
        assert ack["ok"], ack
        self.doc.apply_update(parse(ack["sync"][1]))

    async def _on_sync(self, data: dict[str, Any]) -> None:
        self.doc.apply_update(parse(data["data"]))
        now = time.time()
        sv = state_vector(self.doc.get_state())
        for peer in self.peers:
            cid = peer.doc.client_id
            i = self.seen.get(cid, 0)
            clock = sv.get(cid, 0)
            log = peer.keystrokes
            while i < len(log) and log[i][0] <= clock:
                self.latencies.append(now - log[i][1])
                i += 1
            self.seen[cid] = i

    def type_char(self, ch: str) -> None:
        before = self.doc.get_state()
        if self.text is None:
            paragraph = self.fragment.children.append(XmlElement("paragraph", contents=[XmlText("")]))
            text = paragraph.children[0]
            assert isinstance(text, XmlText)
            self.text = text
        self.text.insert(len(self.text), ch)
        self.pending.append(self.doc.get_update(before))
        self.keystrokes.append((state_vector(self.doc.get_state())[self.doc.client_id], time.time()))
        asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        if self.inflight or not self.pending:
            return
        self.inflight = True
        update = merge_updates(*self.pending) if len(self.pending) > 1 else self.pending[0]
        self.pending = []
        start = time.perf_counter()
        ack = await self.sio.call(
            "doc.sync", {"doc_id": self.doc_id, "data": sync_msg(2, update)}, timeout=60
        )
        self.acks.append(time.perf_counter() - start)
        self.sent_messages += 1
        if not ack.get("ok"):
            self.rejected += 1
        self.inflight = False
        await self.flush()


async def main(args: Any) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="smo-bench-docs-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade_async(url)
    meeting_id, ids = await seed(url, args.editors)
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **os.environ,
        "SMO_DATABASE_URL": url,
        "SMO_SECRET_KEY": secret,
        "SMO_VAR_DIR": str(tmp),
        "SMO_LOG_LEVEL": "WARNING",
    }
    server = spawn(uvicorn_command(port), env, tmp / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await ready(base, server)
        editors = [Editor(base, user_cookie(secret, uid)) for uid in ids]
        for e in editors:
            await e.connect(meeting_id)
        docs = await editors[0].sio.call("doc.list", {}, timeout=60)
        doc_id = docs["documents"][0]["id"]
        rss_before = rss_kib(server.pid)
        await asyncio.gather(*(e.open(doc_id) for e in editors))
        for e in editors:
            e.peers = [p for p in editors if p is not e]
        words = "заседание методического объединения учителей математики решение принять к сведению "
        cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()

        async def typist(e: Editor) -> None:
            await asyncio.sleep(random.random() / args.rate)
            pos = random.randrange(len(words))
            while time.perf_counter() - t0 < args.seconds:
                e.type_char(words[pos % len(words)])
                pos += 1
                await asyncio.sleep(random.expovariate(args.rate))

        await asyncio.gather(*(typist(e) for e in editors))
        typed = sum(len(e.keystrokes) for e in editors)
        expected = typed * (len(editors) - 1)
        try:
            await wait_for(lambda: sum(len(e.latencies) for e in editors) >= expected, 60, what="fan-out")
        except AssertionError:
            pass
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(server.pid) - cpu0
        rss_after = rss_kib(server.pid)
        latencies = sorted(x for e in editors for x in e.latencies)
        acks = sorted(x for e in editors for x in e.acks)
        texts = {str(e.fragment) for e in editors}
        state_bytes = len(editors[0].doc.get_update())
        messages = sum(e.sent_messages for e in editors)
        rejected = sum(e.rejected for e in editors)
        for e in editors:
            await e.sio.disconnect()
    finally:
        server.terminate()
        server.wait(15)

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else -1
        )

    result = {
        "bench": "docs",
        "database": url.split(":")[0],
        "editors": len(editors),
        "chars_per_s_each": args.rate,
        "seconds": args.seconds,
        "keystrokes": typed,
        "update_messages": messages,
        "rejected": rejected,
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "converged": len(texts) == 1,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else -1,
        "ack_p50_ms": round(acks[len(acks) // 2] * 1000, 1) if acks else -1,
        "ack_p99_ms": round(acks[min(len(acks) - 1, int(0.99 * len(acks)))] * 1000, 1) if acks else -1,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_per_s": round(cpu / elapsed, 3),
        "server_rss_growth_kib": rss_after - rss_before,
        "document_state_bytes": state_bytes,
    }
    print(
        f"{result['editors']} editors x {args.rate} chars/s for {args.seconds}s: {typed} keystrokes in "
        f"{messages} update messages ({rejected} rejected); fan-out p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms; {result['missing']} missing; converged "
        f"{result['converged']}; server CPU {result['server_cpu_per_s']} core-s/s; RSS +{result['server_rss_growth_kib']} KiB; "
        f"state {state_bytes} bytes"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--editors", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5.0, help="characters per second per editor")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
