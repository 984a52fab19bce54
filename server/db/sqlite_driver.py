"""SQLite through aiosqlite with one thread hop per statement instead of four.

SQLAlchemy's aiosqlite adapter (2.1) runs a statement as four calls into aiosqlite's thread,
each awaited on the event loop: make a cursor, execute, fetch all rows, close the cursor.
Each call waits for the event loop to come round to its result; on a loop that is also
forwarding a region's media, a round costs ≈ 0.5–3 ms, so a vote (≈ 10 statements) took
≈ 30 ms and a meeting's burst of votes held SQLite's one write lock for whole seconds while
the other meetings' chat waited (docs/deployment.md, "Sizing").

``FusedCursor`` does all four in one call in aiosqlite's thread and keeps what the caller
reads afterwards (the rows, ``description``, ``rowcount``, ``lastrowid``). Everything else —
the connection, transactions, commit and rollback, server-side cursors, errors — is
SQLAlchemy's adapter unchanged. ``make_engine`` passes ``dbapi()`` as the engine's DBAPI
module for ``sqlite+aiosqlite`` URLs.

**Inside a write transaction, no hop at all.** Once ``BEGIN IMMEDIATE`` has returned, the
transaction holds SQLite's write lock (and its read snapshot): none of its statements can wait
for another connection, and each takes microseconds of SQLite's time. They run on the event
loop's own thread, while every trip to aiosqlite's thread cost a round of the busy event loop
(a poll's batch of 14 votes held the write lock for 80–170 ms at 6 meetings, the other
meetings' chat waiting behind it). ``BEGIN``, ``COMMIT`` (the fsync) and ``ROLLBACK`` still
go to the thread, and so does everything in read transactions (a read may meet a busy
handler). Every ``INLINE_SLICE`` seconds of such a transaction the cursor yields to the
event loop once, so a long transaction does not hold up the media it shares the loop with.
The sqlite3 connection is opened with ``check_same_thread=False`` for this; Python's sqlite3
is built serialised (``sqlite3.threadsafety == 3``), and the adapter never has two operations
of one connection in flight."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# what a statement leaves behind: description, rowcount, lastrowid, rows
Outcome = tuple[Any, int, Any, list[Any]]
INLINE_SLICE = 0.005  # seconds of a write transaction on the event loop between two yields
BEGIN_WRITE = "BEGIN IMMEDIATE"


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """In aiosqlite's thread: the whole statement, the sqlite3 cursor closed before returning."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class Finished:
    """Where SQLAlchemy's adapter reads its aiosqlite cursor (``description``, ``rowcount``,
    ``lastrowid``, ``arraysize``, ``close``), a fused cursor holds what its last statement
    left: nothing stays open in the thread."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1

    def close(self) -> None:
        return None


class FusedCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements are one call into aiosqlite's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False  # closing is ``Finished.close``: no call into the thread

    def _make_new_cursor(self, connection: Any) -> Any:
        return Finished()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _statement(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        adapt = cast(FusedConnection, self._adapt_connection)
        conn: sqlite3.Connection = connection._conn
        outcome: Outcome
        if adapt.writing and conn.in_transaction:
            outcome = _run(conn, operation, parameters, many)  # holds the write lock: nothing to wait for
            if time.monotonic() - adapt.slice_start >= INLINE_SLICE:
                await asyncio.sleep(0)
                adapt.slice_start = time.monotonic()
        else:
            async with adapt._execute_mutex:
                outcome = await connection._execute(_run, conn, operation, parameters, many)
            if operation == BEGIN_WRITE:
                adapt.writing, adapt.slice_start = True, time.monotonic()
        finished = cast(Finished, self._cursor)
        finished.description, finished.rowcount, finished.lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._statement(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._statement(operation, seq_of_parameters, True)


class FusedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("slice_start", "writing")
    _cursor_cls = FusedCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.writing = False  # between BEGIN IMMEDIATE and the commit or rollback
        self.slice_start = 0.0  # when the write transaction last yielded to the event loop

    def commit(self) -> None:
        self.writing = False
        super().commit()

    def rollback(self) -> None:
        self.writing = False
        inner: sqlite3.Connection | None = self._connection._connection
        if inner is not None and not inner.in_transaction:
            return  # e.g. the pool's reset after a commit: nothing to roll back, no trip
        super().rollback()

    def close(self) -> None:
        self.writing = False
        super().close()


class FusedDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> FusedConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        if creator_fn:
            connection = creator_fn(*arg, **kw)
        else:
            connection = self.aiosqlite.connect(*arg, **kw)
            connection._thread.daemon = True  # as SQLAlchemy's adapter does (aiosqlite >= 0.22)
        return FusedConnection(self, await_(connection))


def dbapi() -> FusedDbapi:
    return FusedDbapi(aiosqlite, sqlite3)
