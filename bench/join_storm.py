"""Benchmark: the room's side of a join storm — N people send Socket.IO ``join`` at once.

No media: this measures what the meeting's event log does with a burst of joins (the
permission check, the ``participant.joined`` append, the commit, the broadcast to everyone
already in, each joiner's snapshot), the part bench/meeting200.py --storm mixes with WebRTC.
The app runs as its own uvicorn process (SQLite, or ``--database-url``); the clients are
python-socketio clients in this process, all connected before the storm. Reported: every
join's acknowledgement time (p50, p95, max), the wall time until the last one, the server's
CPU, and whether every client's snapshot plus its later events hold every event once, in
order, up to the last join.

    .venv/bin/python bench/join_storm.py [--people 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _light import cpu_seconds, pct, seed, start_server

from server.db.migrate import upgrade_async
from tests.support.sio import RoomClient, user_cookie


async def storm(n: int, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="smo-joinstorm-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade_async(url)
    [(meeting_id, ids)] = await seed(url, 1, n)
    secret = secrets.token_urlsafe(32)
    server = await start_server(url, tmp, secret, {"SMO_ROOM_RATE_FACTOR": "1000"})
    clients = [RoomClient(server.url, user_cookie(secret, uid)) for uid in ids]
    try:
        for start in range(0, n, 20):  # connected first: the storm is the joins alone
            await asyncio.gather(*(c.connect() for c in clients[start : start + 20]))
        times: list[float] = []

        async def join(c: RoomClient) -> dict[str, Any]:
            t0 = time.monotonic()
            ack = await c.emit_ack("join", {"meeting_id": meeting_id}, timeout=120)
            times.append(time.monotonic() - t0)
            return ack  # type: ignore[no-any-return]

        c0 = cpu_seconds(server.pid)
        t0 = time.monotonic()
        acks = await asyncio.gather(*(join(c) for c in clients))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(server.pid) - c0
        ok = [a for a in acks if a.get("ok")]
        last = max(a["state"]["last_seq"] for a in ok)
        await asyncio.sleep(1.0)  # the last broadcasts
        gaps = 0
        for c, a in zip(clients, acks, strict=True):
            if not a.get("ok"):
                continue
            seen = [e["seq"] for e in c.events]
            if seen != list(range(a["state"]["last_seq"] + 1, last + 1)):
                gaps += 1
        return {
            "people": n,
            "joined": len(ok),
            "errors": [a.get("error", {}).get("code") for a in acks if not a.get("ok")][:5],
            "wall_s": round(wall, 2),
            "ack_s_p50": round(statistics.median(times), 3),
            "ack_s_p95": round(pct(times, 0.95) or 0.0, 3),
            "ack_s_max": round(max(times), 3),
            "server_cpu_s": round(cpu, 2),
            "server_cpu_ms_per_join": round(cpu / n * 1000, 1),
            "clients_with_a_gap_or_duplicate": gaps,
        }
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        server.stop()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    results = []
    for _ in range(args.rounds):
        r = await storm(args.people, args)
        results.append(r)
        print(
            f"{r['people']} joins at once: {r['joined']} joined in {r['wall_s']} s; ack p50 {r['ack_s_p50']} s,"
            f" p95 {r['ack_s_p95']} s, max {r['ack_s_max']} s; server {r['server_cpu_s']} CPU-s"
            f" ({r['server_cpu_ms_per_join']} ms per join); streams with a gap or a duplicate:"
            f" {r['clients_with_a_gap_or_duplicate']}",
            flush=True,
        )
    print(json.dumps({"bench": "join_storm", "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
