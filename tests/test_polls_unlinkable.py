"""Secret ballots against whoever reads the database files (issue 15, item 1).

The attacker copies the files during and after a poll and tries what the outside probe
tried: on PostgreSQL, match ``xmin`` of ``poll_participations`` with the rows that hold
choices; on SQLite, replay the ``-wal`` file commit by commit and watch what changes together
with each new participation. Neither may link a voter to a choice, the poll's key must exist
nowhere once the poll is closed, and the logs name no choice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from server.db import sealing
from server.domain.meeting.poll_closing import sweep_poll_keys
from server.domain.year.anonymous import sweep_questionnaire_keys
from tests.support import sqlite_wal
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.proc import start_server_process
from tests.test_polls_support import DECISION, RoomClient, close_all, create_open, make_world

CHOICES = [0, 1, 0, 2, 0, 1]  # member1..member6: counts [3, 2, 1]
STARTUP = 120  # a cold process imports aiortc, matplotlib...: slow on a loaded machine
CHOICE_LOGGED = re.compile(r"choices\W{1,6}\[|secret_tallies|\bcount\s*\+", re.IGNORECASE)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__}")


def sqlite_path(server: LiveServer) -> Path:
    return Path(server.settings.database_url.split(":///", 1)[1])


async def checkpoint_truncate(db_file: Path) -> None:
    """Fold the WAL into the database file and empty it: the replay starts right here.

    In a process of its own, as an attacker's tool would be: a second SQLite connection opened
    and closed inside the server's process releases that process's POSIX locks on the file
    (fcntl locks are per process), and a later writer then saw "disk I/O error"."""
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], timeout=5)\n"
        "busy = c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()[0]\n"
        "c.close()\n"
        "sys.exit(1 if busy else 0)\n"
    )

    async def attempt() -> bool:
        # Not subprocess.run: this loop is also the server's, and a server task in the middle of
        # a transaction must be able to finish it while the checkpoint waits for it.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            str(db_file),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    await wait_for(attempt, 20, what="WAL checkpoint")


def replay_links(baseline: Path, wal_file: Path, poll_id: int, work: Path) -> tuple[list[str], int]:
    """Replay the WAL commit by commit; for every commit that adds participations, anything
    in it that moves a per-option count links those voters. Returns (links, commits)."""
    wal = wal_file.read_bytes()
    _size, commits = sqlite_wal.read_commits(wal)
    links: list[str] = []
    seen: set[str] = set()
    counts_before: Any = None
    for i in range(len(commits) + 1):
        snap = sqlite_wal.materialise(baseline, wal, i, work / f"snap-{i}.db")
        voters = {
            str(v)
            for (v,) in sqlite_wal.query(
                snap, "SELECT voter FROM poll_participations WHERE poll_id = ?", poll_id
            )
        }
        tables = {
            str(n) for (n,) in sqlite_wal.query(snap, "SELECT name FROM sqlite_master WHERE type='table'")
        }
        counts: list[Any] = []
        if "secret_tallies" in tables:  # the former design: one counter per option
            counts += sqlite_wal.query(
                snap, "SELECT option, count FROM secret_tallies WHERE poll_id = ? ORDER BY option", poll_id
            )
        counts += sqlite_wal.query(snap, "SELECT result FROM polls WHERE id = ?", poll_id)
        new = voters - seen
        if new and counts_before is not None and counts != counts_before:
            links += sorted(new)
        seen |= voters
        counts_before = counts
        snap.unlink()
    return links, len(commits)


async def pg_links(server: LiveServer, poll_id: int) -> list[str]:
    """Rows that hold choices, created by a transaction that also created a participation."""
    async with server.runtime.db.read() as s:
        participations = {
            str(x): str(v)
            for x, v in await s.execute(
                text("SELECT xmin::text, voter FROM poll_participations WHERE poll_id = :p"), {"p": poll_id}
            )
        }
        holders = [
            str(x)
            for (x,) in await s.execute(text("SELECT xmin::text FROM polls WHERE id = :p"), {"p": poll_id})
        ]
        tables = set(
            await s.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        )
        if "secret_tallies" in tables:
            holders += [
                str(x)
                for (x,) in await s.execute(
                    text("SELECT xmin::text FROM secret_tallies WHERE poll_id = :p"), {"p": poll_id}
                )
            ]
    assert len(participations) == len(CHOICES)  # one transaction per voter here
    return [participations[x] for x in holders if x in participations]


POLL_TABLES = ("polls", "poll_participations", "sealed_ballots", "meeting_events")


async def pg_files_hold(
    server: LiveServer, needle: bytes, since: Any, tables: tuple[str, ...] = POLL_TABLES
) -> list[str]:
    """Files of the PostgreSQL cluster (recent WAL segments, the tables' heap files) that
    contain ``needle``."""
    found = []
    async with server.runtime.db.read() as s:
        segments = list(
            await s.scalars(text("SELECT name FROM pg_ls_waldir() WHERE modification >= :t"), {"t": since})
        )
        paths = [f"pg_wal/{name}" for name in segments]
        for table in tables:
            path = await s.scalar(text("SELECT pg_relation_filepath(to_regclass(:t))"), {"t": table})
            if path:
                paths.append(str(path))
        for path in paths:
            data = await s.scalar(text("SELECT pg_read_binary_file(:p, 0, 100000000, true)"), {"p": path})
            if data and needle in bytes(data):
                found.append(path)
    return found


async def test_no_file_links_a_voter_to_a_secret_choice(own_server: LiveServer, tmp_path: Path) -> None:
    server = own_server
    world = await make_world(server, members=len(CHOICES))
    mod = await world.room("methodist")
    voters = [await world.room(f"member{i}") for i in range(1, len(CHOICES) + 1)]
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    # SQLAlchemy's own statement log too (every statement with its parameters, on both
    # databases): on SQLite a write transaction's statements no longer pass through aiosqlite's
    # thread, whose DEBUG log printed them, and asyncpg prints nothing.
    statements = logging.getLogger("sqlalchemy.engine.Engine")
    statements_were = (statements.level, statements.disabled)
    statements.setLevel(logging.INFO)
    statements.disabled = False
    sqlite = server.settings.is_sqlite
    try:
        async with server.runtime.db.read() as s:
            started = await s.scalar(text("SELECT now()")) if not sqlite else None
        poll_id = await create_open(mod, {**DECISION, "secret": True})
        baseline = tmp_path / "baseline.db"
        if sqlite:
            db_file = sqlite_path(server)
            await checkpoint_truncate(db_file)
            shutil.copyfile(db_file, baseline)  # the attacker's copy before the first vote
        key_file = Path(server.settings.resolved_sealing_key_dir) / f"poll-{poll_id}.key"
        key = key_file.read_bytes() if key_file.exists() else None  # read "during the poll"

        for voter, choice in zip(voters, CHOICES, strict=True):
            ack = await voter.call("vote.cast", {"poll_id": poll_id, "choices": [choice]})
            assert ack["ok"] and ack["already_voted"] is False, ack
        result = (await mod.call("poll.close", {"poll_id": poll_id}))["result"]
        assert result["counts"] == [3, 2, 1] and result["cast"] == len(CHOICES)

        if sqlite:
            links, commits = await asyncio.to_thread(
                replay_links, baseline, Path(f"{db_file}-wal"), poll_id, tmp_path
            )
            assert commits >= len(CHOICES) + 1  # every vote and the close are in the replay
            assert links == [], f"the WAL links {len(links)} of {len(CHOICES)} voters to their choice"
        else:
            links = await pg_links(server, poll_id)
            assert links == [], f"xmin links {len(links)} of {len(CHOICES)} voters to their choice"

        # The key: it existed while the poll was open, outside the database; now it is gone,
        # and no database file ever held it, so the sealed copies left behind are noise.
        assert key is not None and len(key) == sealing.KEY_BYTES
        assert not key_file.exists()
        if sqlite:
            for path in (db_file, Path(f"{db_file}-wal")):
                assert key not in path.read_bytes(), path
        else:
            assert await pg_files_hold(server, key, started) == []
        async with server.runtime.db.read() as s:
            left = await s.scalar(
                text("SELECT count(*) FROM sealed_ballots WHERE poll_id = :p"), {"p": poll_id}
            )
        assert left == 0

        # The logs of the whole run, down to DEBUG (the drivers print every statement and its
        # parameters there), name no choice: "choices": null in the vote.cast event is all.
        assert len(records.lines) > 100
        assert any("INSERT INTO sealed_ballots" in line for line in records.lines)  # the writes are in it
        assert [line for line in records.lines if CHOICE_LOGGED.search(line)] == []
        logged = "\n".join(records.lines)
        assert key.hex() not in logged
    finally:
        root.removeHandler(records)
        root.setLevel(level)
        statements.setLevel(statements_were[0])
        statements.disabled = statements_were[1]
        await close_all([mod, *voters])


async def test_kill9_keeps_acknowledged_secret_ballots_exactly_once(
    server: LiveServer, tmp_path: Path
) -> None:
    """The key survives a kill -9 (it is on disk before the poll opens): every acknowledged
    secret ballot is counted once after the restart, a re-sent one is refused as a duplicate,
    and neither process logged a choice (both ran at DEBUG)."""
    world = await make_world(server, members=5)
    secret = server.runtime.secret_key
    db_url = server.settings.database_url
    var = tmp_path / "var"  # one installation restarted: the same var/ both times
    debug = {"SMO_LOG_LEVEL": "DEBUG", "SMO_LOG_FORMAT": "text"}
    a = await start_server_process(db_url, var, secret_key=secret, extra_env=debug, ready_seconds=STARTUP)
    b = None
    clients: list[RoomClient] = []
    try:
        mod = await world.room("methodist", url=a.url)
        voters = [await world.room(f"member{i}", url=a.url) for i in range(1, 6)]
        clients = [mod, *voters]
        poll_id = await create_open(mod, {**DECISION, "secret": True})
        choices = [0, 1, 0, 0, 2]
        acks = await asyncio.gather(
            *(
                v.call("vote.cast", {"poll_id": poll_id, "choices": [c]})
                for v, c in zip(voters, choices, strict=True)
            )
        )
        assert all(ack["ok"] and not ack["already_voted"] for ack in acks), acks
        a.kill9()

        b = await start_server_process(db_url, var, secret_key=secret, extra_env=debug, ready_seconds=STARTUP)
        again = await world.room("member1", url=b.url)
        mod_b = await world.room("methodist", url=b.url)
        clients += [again, mod_b]
        ack = await again.call("vote.cast", {"poll_id": poll_id, "choices": [2]})
        assert ack == {"ok": True, "ballots": 5, "already_voted": True}
        result = (await mod_b.call("poll.close", {"poll_id": poll_id}))["result"]
        assert result["counts"] == [3, 1, 1] and result["cast"] == 5
        assert not (var / "sealing-keys" / f"poll-{poll_id}.key").exists()
    finally:
        await asyncio.gather(*(c.sio.disconnect() for c in clients), return_exceptions=True)
        await a.stop()
        if b is not None:
            await b.stop()
    for proc in (a, b):
        if proc is not None:
            lines = proc.log_path.read_text(errors="replace").splitlines()
            assert [line for line in lines if CHOICE_LOGGED.search(line)] == []


async def test_the_startup_sweep_destroys_keys_a_crash_left_behind(server: LiveServer) -> None:
    """A crash between a close's commit and the key's destruction leaves a key file: the next
    start destroys the keys of closed or missing polls and questionnaires, and keeps the
    others."""
    world = await make_world(server, members=1)
    mod = await world.room("methodist")
    try:
        open_id = await create_open(mod, {**DECISION, "secret": True})
        closed_id = await create_open(mod, {**DECISION, "secret": True})
        await mod.call("poll.close", {"poll_id": closed_id})
    finally:
        await close_all([mod])
    directory = Path(server.settings.resolved_sealing_key_dir)
    async with server.runtime.db.read() as s:  # what earlier tests of this server left behind
        await sweep_poll_keys(s)
        await sweep_questionnaire_keys(s)
    stray = [
        directory / f"poll-{closed_id}.key",
        directory / "poll-999999.key",
        directory / "questionnaire-999999.key",
    ]
    for path in stray:
        path.write_bytes(bytes(sealing.KEY_BYTES))  # as if the destruction never ran
    kept = directory / f"poll-{open_id}.key"
    assert kept.exists()
    async with server.runtime.db.read() as s:
        assert await sweep_poll_keys(s) == 2
        assert await sweep_questionnaire_keys(s) == 1
    assert not any(path.exists() for path in stray)
    assert kept.exists()
