"""Benchmark: several meetings write to SQLite at once while one more sends chat.

The embedded deployment's database is one SQLite file, written by one connection at a time.
Here K "meetings" (default 6) each run T write transactions of S statements at once (a
burst of votes), while a "chat" writer commits one short transaction every 20 ms; the event
loop is either idle or kept busy half of the time (as when it forwards a region's media).
Three setups, alternating, in the same run:

- ``adapter``: SQLAlchemy's aiosqlite adapter (four calls into aiosqlite's thread per
  statement) and SQLite's busy handler between writers (the code before 2026-12-06);
- ``fused``: one call per statement (``server/db/sqlite_driver.py``), the busy handler;
- ``fused+queue``: and the process's writers taking turns (``server.db.engine.WriterQueue``),
  as the app runs.

Figures: the burst's duration and the chat's commit latency (p50, p90, max). Ends with one
JSON line.

    .venv/bin/python bench/sqlite_writers.py [--meetings 6] [--transactions 15]
                                             [--statements 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from server.db.engine import Database

SETUPS = {
    "adapter": {"fused_sqlite": False, "writer_queue": False},
    "fused": {"fused_sqlite": True, "writer_queue": False},
    "fused+queue": {"fused_sqlite": True, "writer_queue": True},
}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 1)


async def busy_loop(stop: asyncio.Event) -> None:
    """Half of the event loop's time spent elsewhere, in 1 ms slices."""
    while not stop.is_set():
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0.001)


async def run(setup: str, args: argparse.Namespace, busy: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as directory:
        db = Database(f"sqlite+aiosqlite:///{directory}/bench.db", **SETUPS[setup])
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE event (id INTEGER PRIMARY KEY, meeting INT, body TEXT)"))
            await session.execute(text("CREATE INDEX event_meeting ON event (meeting)"))

        async def meeting(number: int) -> None:
            for _ in range(args.transactions):
                async with db.transaction() as session:
                    for i in range(args.statements // 2):
                        await session.execute(
                            text("INSERT INTO event (meeting, body) VALUES (:m, :b)"),
                            {"m": number, "b": str(i)},
                        )
                        await session.execute(
                            text("SELECT count(*) FROM event WHERE meeting = :m"), {"m": number}
                        )

        latencies: list[float] = []
        stop = asyncio.Event()

        async def chat() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with db.transaction() as session:
                    await session.execute(text("INSERT INTO event (meeting, body) VALUES (0, 'chat')"))
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

        others = [asyncio.create_task(chat())]
        if busy:
            others.append(asyncio.create_task(busy_loop(stop)))
        started = time.perf_counter()
        await asyncio.gather(*(meeting(m) for m in range(1, args.meetings + 1)))
        burst = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*others)
        async with db.read() as session:
            rows = (await session.execute(text("SELECT count(*) FROM event WHERE meeting > 0"))).scalar()
        await db.dispose()
    expected = args.meetings * args.transactions * (args.statements // 2)
    if rows != expected:
        raise SystemExit(f"{setup}: {rows} rows written, {expected} expected")
    return {
        "setup": setup,
        "busy_loop": busy,
        "burst_ms": round(burst * 1000),
        "statements_per_second": round(expected * 2 / burst),
        "chat_commits": len(latencies),
        "chat_ms_p50": pct(latencies, 0.5),
        "chat_ms_p90": pct(latencies, 0.9),
        "chat_ms_max": pct(latencies, 1.0),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meetings", type=int, default=6)
    ap.add_argument("--transactions", type=int, default=15)
    ap.add_argument("--statements", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    for busy in (False, True):
        for _ in range(args.rounds):
            for setup in SETUPS:  # alternating, so that a slow minute hits every setup
                r = await run(setup, args, busy)
                results.append(r)
                print(
                    f"{'busy' if busy else 'idle'} loop, {setup:12s}: burst {r['burst_ms']:5d} ms "
                    f"({r['statements_per_second']} statements/s); chat p50 {r['chat_ms_p50']} / "
                    f"p90 {r['chat_ms_p90']} / max {r['chat_ms_max']} ms ({r['chat_commits']} commits)",
                    flush=True,
                )
    summary: dict[str, Any] = {}
    for busy in (False, True):
        for setup in SETUPS:
            rows = [r for r in results if r["setup"] == setup and r["busy_loop"] == busy]
            summary[f"{'busy' if busy else 'idle'}/{setup}"] = {
                key: sorted(r[key] for r in rows)[len(rows) // 2]  # the median run
                for key in ("burst_ms", "chat_ms_p50", "chat_ms_p90", "chat_ms_max")
            }
    print(json.dumps({"bench": "sqlite_writers", "args": vars(args), "median": summary, "runs": results}))


if __name__ == "__main__":
    asyncio.run(main())
