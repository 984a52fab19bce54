"""Benchmark: chat fan-out in one meeting, our full path against a bare python-socketio server.

N clients (default 300) join one live meeting; one of them posts M chat messages per second
(default 10) for D seconds. Our path: pydantic validation, rate limit, the meeting lock, the
durable append with its sequence number, the ordered broadcast, the ack. The bare server, run
in the same way (a child uvicorn process, WebSocket transport) and measured in the same run,
only re-emits each message to one room. Figures for each: deliveries per server CPU-second
(the child's user+system time from /proc), p50/p99 latency from send to receipt, then one
JSON line.

    .venv/bin/python bench/chat_fanout.py [--clients 300] [--rate 10] [--seconds 10]
                                          [--database-url postgresql+asyncpg://...]
                                          [--profile ours.prof]   (cProfile of our server)
                                          [--pyinstrument ours.txt]  (pyinstrument of our server)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import socketio
from _sio import RawClient
from _sio import session as http_session

from server.db.engine import Database
from server.db.migrate import upgrade_async
from server.db.models import (
    AdmissionPolicy,
    Association,
    Meeting,
    MeetingStatus,
    Membership,
    Role,
    User,
)
from server.db.types import utcnow
from tests.support.net import free_port, wait_for
from tests.support.proc import uvicorn_command
from tests.support.sio import user_cookie

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50


# --- the bare server (run as a child: ``chat_fanout.py --serve-bare PORT``) ----------------------
def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], logger=False)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, "all")

    @sio.on("chat.send")
    async def chat(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("event", {"type": "chat.message", "payload": data}, to="all")
        return {"ok": True}

    async def health(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = socketio.ASGIApp(sio, other_asgi_app=Starlette(), socketio_path="socket.io")

    async def root(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await health(scope, receive, send)
        else:
            await app(scope, receive, send)

    uvicorn.run(root, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")


# --- measuring --------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Receiver:
    """One participant on the light client of bench/_sio.py: it reads the send time out of
    each chat event without decoding the rest."""

    def __init__(self, url: str, cookie: str | None, http: aiohttp.ClientSession) -> None:
        self.client = RawClient(url, cookie, http, self._on_event)
        self.latencies: list[float] = []
        self.warm = False

    def _on_event(self, text: str) -> None:
        i = text.find('"text":"t=')
        if i >= 0:
            j = text.index('"', i + 10)
            self.latencies.append(time.time() - float(text[i + 10 : j]))
        elif '"text":"warm-up"' in text:
            self.warm = True

    async def connect(self) -> None:
        await self.client.connect()

    async def call(self, event: str, data: Any, timeout: float = 60) -> Any:
        return await self.client.call(event, data, timeout)

    async def join(self, meeting_id: int) -> None:
        ack = await self.call("join", {"meeting_id": meeting_id}, timeout=120)
        assert ack["ok"] and ack["status"] == "in", ack

    async def close(self) -> None:
        await self.client.close()


async def run_load(
    url: str, cookies: list[str | None], meeting_id: int | None, pid: int, args: Any
) -> dict[str, Any]:
    session = http_session()
    clients = [Receiver(url, c, session) for c in cookies]
    for i in range(0, len(clients), BATCH):
        await asyncio.gather(*(c.connect() for c in clients[i : i + BATCH]))
        if meeting_id is not None:
            await asyncio.gather(*(c.join(meeting_id) for c in clients[i : i + BATCH]))
    sender = clients[0]
    # The joins fan out N^2 "participant.joined" events: let every client drain them first.
    ack = await sender.call("chat.send", {"text": "warm-up"}, timeout=120)
    assert ack.get("ok"), ack
    await wait_for(lambda: all(c.warm for c in clients), 120, what="warm-up delivered")
    total = int(args.rate * args.seconds)
    # The load generator's own garbage collector must not stall the receipt of messages (its
    # pauses showed up as the latency of whichever server was being measured): freeze what
    # exists now and keep the collector off during the window.
    gc.collect()
    gc.freeze()
    gc.disable()
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    acks: list[float] = []

    async def send(i: int) -> None:
        start = time.perf_counter()
        ack = await sender.call("chat.send", {"text": f"t={time.time():.6f}"}, timeout=60)
        assert ack.get("ok"), ack
        acks.append(time.perf_counter() - start)

    tasks = []
    for i in range(total):
        tasks.append(asyncio.create_task(send(i)))
        await asyncio.sleep(max(0.0, t0 + (i + 1) / args.rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    expected = total * len(clients)
    try:
        await wait_for(lambda: sum(len(c.latencies) for c in clients) >= expected, 120, what="deliveries")
    except AssertionError:
        pass
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    gc.enable()
    gc.unfreeze()
    latencies = sorted(x for c in clients for x in c.latencies)
    for c in clients:
        await c.close()
    await session.close()
    delivered = len(latencies)

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else -1
        )

    return {
        "clients": len(clients),
        "messages": total,
        "deliveries": delivered,
        "lost": expected - delivered,
        "server_cpu_s": round(cpu, 2),
        "wall_s": round(elapsed, 2),
        "deliveries_per_cpu_s": round(delivered / cpu) if cpu else None,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "ack_p50_ms": round(statistics.median(acks) * 1000, 1) if acks else -1,
    }


# --- our server -------------------------------------------------------------------------------
async def seed(url: str, n: int) -> tuple[int, list[int]]:
    db = Database(url)
    async with db.transaction() as s:
        association = Association(name=f"СМО bench {secrets.token_hex(3)}")
        s.add(association)
        await s.flush()
        users = [
            User(
                email=f"b{i}-{secrets.token_hex(3)}@example.org",
                password_hash="x",
                last_name=f"Участник{i}",
                first_name="Бенч",
            )
            for i in range(n)
        ]
        s.add_all(users)
        await s.flush()
        for i, u in enumerate(users):
            s.add(
                Membership(
                    association_id=association.id,
                    user_id=u.id,
                    role=Role.methodist if i == 0 else Role.member,
                )
            )
        now = utcnow()
        meeting = Meeting(
            association_id=association.id,
            title="Бенчмарк",
            starts_at=now,
            ends_at=now,
            status=MeetingStatus.live,
            admission=AdmissionPolicy.open,
            guest_token=secrets.token_urlsafe(16),
        )
        s.add(meeting)
        await s.flush()
        ids = [u.id for u in users]
        meeting_id = meeting.id
    await db.dispose()
    return meeting_id, ids


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    async def ok() -> bool:
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            async with httpx.AsyncClient(timeout=2) as c:
                return (await c.get(f"{url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_for(ok, 60, interval=0.1, what="server ready")


async def main(args: Any) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="smo-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade_async(url)
    meeting_id, ids = await seed(url, args.clients)
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **os.environ,
        "SMO_DATABASE_URL": url,
        "SMO_SECRET_KEY": secret,
        "SMO_VAR_DIR": str(tmp),
        "SMO_LOG_LEVEL": "WARNING",
        "SMO_CHAT_MESSAGES_PER_10S": "1000000",
    }
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    if args.pyinstrument:  # a sampling profile of our server as text (where the time goes)
        profile = ["-m", "pyinstrument", "-r", "text", "--show-all", "-o", args.pyinstrument]
    ours = spawn(
        uvicorn_command(port, profile),
        env,
        tmp / "ours.log",
    )
    results: dict[str, Any] = {}
    try:
        await ready(f"http://127.0.0.1:{port}", ours)
        cookies: list[str | None] = [user_cookie(secret, uid) for uid in ids]
        results["ours"] = await run_load(f"http://127.0.0.1:{port}", cookies, meeting_id, ours.pid, args)
    finally:
        # SIGINT: uvicorn re-raises it after its shutdown, cProfile then still writes its stats
        ours.send_signal(signal.SIGINT if args.profile or args.pyinstrument else signal.SIGTERM)
        ours.wait(15)
    bare_port = free_port()
    bare = spawn(
        [sys.executable, __file__, "--serve-bare", str(bare_port)], dict(os.environ), tmp / "bare.log"
    )
    try:
        await ready(f"http://127.0.0.1:{bare_port}", bare)
        results["bare"] = await run_load(
            f"http://127.0.0.1:{bare_port}", [None] * args.clients, None, bare.pid, args
        )
    finally:
        bare.terminate()
        bare.wait(15)
    for name, r in results.items():
        print(
            f"{name:5} {r['clients']} clients x {args.rate} msg/s: {r['deliveries']} deliveries "
            f"({r['lost']} lost), {r['deliveries_per_cpu_s']} deliveries per server CPU-second, "
            f"latency p50 {r['p50_ms']} ms / p99 {r['p99_ms']} ms, ack p50 {r['ack_p50_ms']} ms"
        )
    ours_rate, bare_rate = results["ours"]["deliveries_per_cpu_s"], results["bare"]["deliveries_per_cpu_s"]
    ratio = round(ours_rate / bare_rate, 2) if ours_rate and bare_rate else None
    print(f"ours / bare deliveries per CPU-second: {ratio}")
    print(
        json.dumps(
            {
                "bench": "chat_fanout",
                "database": url.split(":")[0],
                "rate": args.rate,
                "seconds": args.seconds,
                "ratio_vs_bare": ratio,
                **{f"{k}_{m}": v for k, r in results.items() for m, v in r.items()},
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default=None, help="write our server's cProfile stats to this file")
    parser.add_argument(
        "--pyinstrument", default=None, help="write our server's pyinstrument profile (text) here"
    )
    asyncio.run(main(parser.parse_args()))
