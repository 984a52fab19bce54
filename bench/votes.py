"""Benchmark: N participants (default 300) vote in one burst; the tally must be exact.

The server runs as a child process (``smo serve``) on a fresh database (SQLite by default,
PostgreSQL with --database-url); N clients (WebSocket, the light Socket.IO client of bench/_sio.py)
join one live meeting in this process. A moderator opens a decision poll; every participant votes at once,
and a share of them re-send the same vote at the same moment (a retry must not count twice).
Figures: burst duration and ack latency, then the time from the moderator's close to the
result reaching every client (goal: < 500 ms at 300). Ends with one JSON line.

    .venv/bin/python bench/votes.py [--participants 300] [--duplicates 0.2] [--secret]
                                    [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from _sio import RawClient, event_of
from _sio import session as http_session

from server.db.engine import Database
from server.db.migrate import upgrade_async
from server.db.models import AdmissionPolicy, Ballot, MeetingStatus, QuorumRule, Role, User
from tests.support.factories import add_member, make_association, make_meeting, make_user
from tests.support.net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]


def cookie_for(secret_key: str, user: User) -> str:
    from base64 import b64encode

    import itsdangerous

    signer = itsdangerous.TimestampSigner(secret_key)
    data = json.dumps({"uid": user.id, "sv": user.session_version}).encode()
    return signer.sign(b64encode(data)).decode()


class Voter:
    """One participant on the light client of bench/_sio.py: only poll.opened / poll.closed
    events are decoded."""

    def __init__(self, url: str, cookie: str, http: aiohttp.ClientSession) -> None:
        self.client = RawClient(url, cookie, http, self._on_event)
        self.events: dict[str, float] = {}
        self.result: dict[str, Any] | None = None

    def _on_event(self, text: str) -> None:
        if '"type":"poll.opened"' not in text and '"type":"poll.closed"' not in text:
            return
        event = event_of(text)
        if event["type"] not in self.events:
            self.events[event["type"]] = time.perf_counter()
            if event["type"] == "poll.closed":
                self.result = event["payload"]["result"]

    async def start(self, meeting_id: int) -> None:
        await self.client.connect(30)
        ack = await self.client.call("join", {"meeting_id": meeting_id, "last_seq": 0}, timeout=60)
        assert ack["ok"] and ack["status"] == "in", ack

    async def call(self, name: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        t0 = time.perf_counter()
        ack = await self.client.call(name, payload, timeout=120)
        return ack, time.perf_counter() - t0


async def seed(db: Database, participants: int) -> tuple[int, User, list[User]]:
    association = await make_association(db, quorum_rule=QuorumRule.more_than_half)
    meeting = await make_meeting(
        db, association.id, status=MeetingStatus.live, admission=AdmissionPolicy.open
    )
    tag = secrets.token_hex(3)
    chair = await make_user(db, f"chair-{tag}@bench.smo", last_name="Председатель")
    await add_member(db, association.id, chair.id, Role.methodist)
    people = []
    for i in range(participants):
        user = await make_user(db, f"p{i}-{tag}@bench.smo", last_name=f"Участник{i:04d}")
        await add_member(db, association.id, user.id, Role.member)
        people.append(user)
    return meeting.id, chair, people


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="smo-bench-votes-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    if args.database_url and args.database_url.startswith("postgresql"):
        os.environ.setdefault("TEST_DATABASE_URL", args.database_url)
        from tests.support.databases import create_pg_database

        url = await create_pg_database("smo_bench")
    await upgrade_async(url)
    db = Database(url)
    meeting_id, chair, people = await seed(db, args.participants)
    await db.dispose()

    secret_key = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **os.environ,
        "SMO_DATABASE_URL": url,
        "SMO_SECRET_KEY": secret_key,
        "SMO_VAR_DIR": str(tmp),
        "SMO_LOG_LEVEL": "WARNING",
    }
    command = [str(ROOT / ".venv/bin/smo"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.profile:  # cProfile of the server process, written when it stops
        command = [sys.executable, "-m", "cProfile", "-o", args.profile, *command]
    server = await asyncio.create_subprocess_exec(*command, env=env)
    base = f"http://127.0.0.1:{port}"
    voters: list[Voter] = []
    http = http_session()
    moderator = Voter(base, cookie_for(secret_key, chair), http)
    try:
        import httpx

        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(f"{base}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(up, 30, 0.2, what="server up")
        await moderator.start(meeting_id)
        voters = [Voter(base, cookie_for(secret_key, p), http) for p in people]
        t_join = time.perf_counter()
        for i in range(0, len(voters), 50):
            await asyncio.gather(*(v.start(meeting_id) for v in voters[i : i + 50]))
        join_s = time.perf_counter() - t_join

        created, _ = await moderator.call(
            "poll.create",
            {"question": "Утвердить план работы СМО?", "kind": "decision", "secret": args.secret},
        )
        assert created["ok"], created
        poll_id = created["poll_id"]
        opened, _ = await moderator.call("poll.open", {"poll_id": poll_id})
        assert opened["ok"], opened
        await wait_for(
            lambda: all("poll.opened" in v.events for v in voters), 60, what="poll.opened everywhere"
        )

        choices = [i % 3 if i % 5 else 1 for i in range(len(voters))]
        expected = [choices.count(k) for k in range(3)]
        dup_every = max(1, round(1 / args.duplicates)) if args.duplicates > 0 else 0
        calls = []
        for i, (v, c) in enumerate(zip(voters, choices, strict=True)):
            calls.append(v.call("vote.cast", {"poll_id": poll_id, "choices": [c]}))
            if dup_every and i % dup_every == 0:
                calls.append(v.call("vote.cast", {"poll_id": poll_id, "choices": [c]}))
        t_burst = time.perf_counter()
        acks = await asyncio.gather(*calls)
        burst_s = time.perf_counter() - t_burst
        failed = [a for a, _ in acks if not a.get("ok")]
        first = sum(1 for a, _ in acks if a.get("ok") and not a.get("already_voted"))
        latencies = [dt for _, dt in acks]

        t_close = time.perf_counter()
        closed, close_ack_s = await moderator.call("poll.close", {"poll_id": poll_id})
        assert closed["ok"], closed
        await wait_for(lambda: all("poll.closed" in v.events for v in voters), 60, what="result everywhere")
        reach = [v.events["poll.closed"] - t_close for v in voters]
        result = closed["result"]
        exact = (
            result["counts"] == expected
            and result["cast"] == len(voters)
            and first == len(voters)
            and not failed
            and all(v.result == result for v in voters)
        )
        db = Database(url)
        async with db.read() as s:
            from sqlalchemy import func, select

            rows = int(await s.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll_id)) or 0)
        await db.dispose()
        if not args.secret:
            exact = exact and rows == len(voters)
        figures = {
            "bench": "votes",
            "database": url.split("+")[0].split(":")[0],
            "participants": len(voters),
            "secret": args.secret,
            "submissions": len(calls),
            "duplicates": len(calls) - len(voters),
            "exact": exact,
            "counts": result["counts"],
            "expected": expected,
            "failed_acks": len(failed),
            "join_s": round(join_s, 2),
            "burst_s": round(burst_s, 3),
            "votes_per_s": round(len(calls) / burst_s, 1),
            "ack_p50_ms": round(pct(latencies, 0.5), 1),
            "ack_p99_ms": round(pct(latencies, 0.99), 1),
            "close_ack_ms": round(close_ack_s * 1000, 1),
            "result_p50_ms": round(pct(reach, 0.5), 1),
            "result_all_ms": round(max(reach) * 1000, 1),
        }
        return figures
    finally:
        await asyncio.gather(*(v.client.close() for v in [moderator, *voters]), return_exceptions=True)
        await http.close()
        server.send_signal(signal.SIGINT)  # a clean stop (the profile, if any, is written)
        await asyncio.wait_for(server.wait(), 60)
        if url.startswith("postgresql"):
            from tests.support.databases import drop_pg_database

            await drop_pg_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--duplicates", type=float, default=0.2, help="share of voters who re-send")
    parser.add_argument("--secret", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default=None, help="write the server's cProfile stats here")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"participants: {figures['participants']} ({figures['database']}, secret={figures['secret']})")
    print(f"tally exact: {figures['exact']}  counts {figures['counts']} expected {figures['expected']}")
    print(
        f"burst: {figures['submissions']} submissions ({figures['duplicates']} re-sent) in "
        f"{figures['burst_s']} s = {figures['votes_per_s']}/s; ack p50 {figures['ack_p50_ms']} ms, "
        f"p99 {figures['ack_p99_ms']} ms"
    )
    print(
        f"close -> result at every client: p50 {figures['result_p50_ms']} ms, all "
        f"{figures['result_all_ms']} ms (goal < 500 ms); close ack {figures['close_ack_ms']} ms"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
