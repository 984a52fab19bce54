"""SQLite in the embedded deployment: one call into aiosqlite's thread per statement
(server/db/sqlite_driver.py) and the process's writers taking turns (WriterQueue).

The statements' results must be what SQLAlchemy's own aiosqlite adapter gives (rows, rowcount,
lastrowid, RETURNING, errors); the differential test runs the same script through both."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text

import server.db.engine as engine_module
from server.db import sqlite_driver
from server.db.engine import Database
from server.db.sqlite_driver import FusedDbapi


def _url(tmp_path: Path, name: str = "x") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}.db"


async def _script(db: Database) -> list[Any]:
    """Every kind of statement the app issues, and what SQLAlchemy makes of each result."""
    seen: list[Any] = []
    async with db.transaction() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE, n INT)"))
        r = await s.execute(text("INSERT INTO t (v, n) VALUES ('a', 1)"))
        seen.append(("lastrowid", r.lastrowid, r.rowcount))
        r = await s.execute(
            text("INSERT INTO t (v, n) VALUES (:v, :n)"), [{"v": f"b{i}", "n": i} for i in range(5)]
        )
        seen.append(("executemany", r.rowcount))
        r = await s.execute(text("INSERT INTO t (v, n) VALUES ('c', 7) RETURNING id, v"))
        seen.append(("returning", r.all()))
        r = await s.execute(text("UPDATE t SET n = n + 10 WHERE n < 3"))
        seen.append(("update", r.rowcount))
        r = await s.execute(text("DELETE FROM t WHERE v = 'nobody'"))
        seen.append(("delete none", r.rowcount))
    async with db.read() as s:
        r = await s.execute(text("SELECT id, v, n FROM t ORDER BY id"))
        seen.append(("keys", list(r.keys())))
        seen.append(("rows", r.all()))
        seen.append(("empty", (await s.execute(text("SELECT v FROM t WHERE n > 1000"))).all()))
        seen.append(("scalar", await s.scalar(text("SELECT count(*) FROM t"))))
        many = await s.execute(text("SELECT n FROM t ORDER BY id"))
        seen.append(("fetchmany", many.fetchmany(2), many.fetchone(), len(many.fetchall())))
        streamed = await s.stream(text("SELECT v FROM t ORDER BY id"))  # server-side cursor
        seen.append(("stream", [row async for row in streamed]))
    with pytest.raises(exc.IntegrityError) as caught:
        async with db.transaction() as s:
            await s.execute(text("INSERT INTO t (v, n) VALUES ('z', 0)"))
            await s.execute(text("INSERT INTO t (v, n) VALUES ('a', 0)"))  # v is unique
    seen.append(("integrity", type(caught.value.orig).__name__))
    with pytest.raises(exc.OperationalError):
        async with db.read() as s:
            await s.execute(text("SELECT nope FROM t"))
    async with db.read() as s:  # the failed transaction left nothing behind
        seen.append(("after rollback", await s.scalar(text("SELECT count(*) FROM t WHERE v = 'z'"))))
    return seen


async def test_fused_statements_give_what_sqlalchemys_adapter_gives(tmp_path: Path) -> None:
    results = []
    for fused in (False, True):
        db = Database(_url(tmp_path, f"fused{fused}"), fused_sqlite=fused)
        try:
            assert isinstance(db.engine.dialect.dbapi, FusedDbapi) is fused
            results.append(await _script(db))
        finally:
            await db.dispose()
    assert results[0] == results[1]
    assert ("update", 4) in results[1] and ("executemany", 5) in results[1]


async def test_one_call_into_the_thread_per_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    per_select = {}
    for fused in (False, True):
        db = Database(_url(tmp_path, f"hops{fused}"), fused_sqlite=fused)
        try:
            async with db.read() as s:
                await s.execute(text("SELECT 1"))  # the connection's first use: PRAGMAs
                calls.clear()
                await s.execute(text("SELECT 1 UNION ALL SELECT 2"))
                per_select[fused] = len(calls)
        finally:
            await db.dispose()
    assert per_select == {False: 4, True: 1}  # cursor, execute, fetchall, close -> one


async def test_a_write_transaction_runs_its_statements_without_a_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After BEGIN IMMEDIATE the transaction holds the write lock: its statements run on the
    event loop's thread; BEGIN and COMMIT still go to aiosqlite's thread."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[1] if fn is sqlite_driver._run else getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    db = Database(_url(tmp_path, "inline"))
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with db.transaction() as s:
            for i in range(3):
                await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"x{i}"})
            assert await s.scalar(text("SELECT count(*) FROM t")) == 3
        assert calls == ["BEGIN IMMEDIATE", "commit"]
        calls.clear()
        async with db.read() as s:  # a read transaction keeps its hop
            assert await s.scalar(text("SELECT count(*) FROM t")) == 3
        assert calls == ["BEGIN", "SELECT count(*) FROM t", "rollback"]
    finally:
        await db.dispose()


@pytest.mark.parametrize("slice_seconds", [0.0, 3600.0])
async def test_a_long_write_transaction_yields_to_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_seconds: float
) -> None:
    """Inline statements give the event loop a turn every INLINE_SLICE seconds."""
    monkeypatch.setattr(sqlite_driver, "INLINE_SLICE", slice_seconds)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    db = Database(_url(tmp_path, f"slice{slice_seconds}"))
    task = asyncio.create_task(ticker())
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            before = ticks
            for i in range(20):
                await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"x{i}"})
            during = ticks - before
        async with db.read() as s:
            assert await s.scalar(text("SELECT count(*) FROM t")) == 20
    finally:
        task.cancel()
        await db.dispose()
    if slice_seconds:
        assert during == 0  # no hop, no yield: the loop did not turn
    else:
        assert during >= 20  # a turn after every statement


async def test_writers_take_turns_in_arrival_order(tmp_path: Path) -> None:
    db = Database(_url(tmp_path))
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
        order: list[str] = []
        inside = 0
        most_inside = 0

        async def writer(name: str) -> None:
            nonlocal inside, most_inside
            async with db.transaction() as s:
                inside += 1
                most_inside = max(most_inside, inside)
                order.append(name)
                for _ in range(3):
                    await s.execute(text("INSERT INTO log (who) VALUES (:w)"), {"w": name})
                    await asyncio.sleep(0.002)
                inside -= 1

        tasks = []
        for i in range(12):
            tasks.append(asyncio.create_task(writer(f"w{i}")))
            await asyncio.sleep(0)  # each task reaches the queue before the next is made
        await asyncio.gather(*tasks)
        assert most_inside == 1
        assert order == [f"w{i}" for i in range(12)]
        async with db.read() as s:
            assert await s.scalar(text("SELECT count(*) FROM log")) == 36
        # readers do not queue behind a writer
        async with db.transaction() as s:
            await s.execute(text("INSERT INTO log (who) VALUES ('held')"))
            async with db.read() as r:
                assert await r.scalar(text("SELECT count(*) FROM log")) == 36
    finally:
        await db.dispose()


async def test_a_failed_writer_hands_on_its_turn(tmp_path: Path) -> None:
    db = Database(_url(tmp_path))
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
            await s.execute(text("INSERT INTO t VALUES ('a')"))

        async def failing() -> None:
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES ('b')"))
                await s.execute(text("INSERT INTO t VALUES ('a')"))

        async def cancelled() -> None:
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES ('c')"))
                await asyncio.sleep(10)

        with pytest.raises(exc.IntegrityError):
            await failing()
        task = asyncio.create_task(cancelled())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):  # the turn is free again
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES ('d')"))
        async with db.read() as s:
            assert (await s.execute(text("SELECT v FROM t ORDER BY v"))).scalars().all() == ["a", "d"]
    finally:
        await db.dispose()


async def test_a_writer_kept_waiting_goes_on_to_sqlites_own_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer stuck in its transaction delays the queue no longer than SQLite's busy
    timeout would: then the next one goes on to SQLite's lock (and its error, if still held)."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_SECONDS", 0.2)
    db = Database(_url(tmp_path))
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (v TEXT)"))
        release = asyncio.Event()

        async def stuck() -> None:
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES ('stuck')"))
                await release.wait()

        holder = asyncio.create_task(stuck())
        await asyncio.sleep(0.05)
        caplog.set_level(logging.WARNING, "smo.db")
        waited = asyncio.get_running_loop().time()
        with pytest.raises(exc.OperationalError, match="locked"):
            async with db.transaction() as s:  # past the queue; SQLite's lock is still held
                await s.execute(text("INSERT INTO t VALUES ('next')"))
        assert asyncio.get_running_loop().time() - waited < 5
        assert "writer queue" in caplog.text
        release.set()
        await holder
        async with db.read() as s:
            assert (await s.execute(text("SELECT v FROM t"))).scalars().all() == ["stuck"]
    finally:
        await db.dispose()


def test_postgresql_has_no_writer_queue() -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert db.writers is None
    assert Database("sqlite+aiosqlite:///:memory:").writers is not None
    assert Database("sqlite+aiosqlite:///:memory:", writer_queue=False).writers is None
