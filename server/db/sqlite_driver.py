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
module for ``sqlite+aiosqlite`` URLs."""

from __future__ import annotations

import collections
import sqlite3
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
        async with self._adapt_connection._execute_mutex:
            outcome: Outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
        finished = cast(Finished, self._cursor)
        finished.description, finished.rowcount, finished.lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._statement(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._statement(operation, seq_of_parameters, True)


class FusedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = FusedCursor


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
