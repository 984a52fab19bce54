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
from typing import Any

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


class FusedCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements are one call into aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor made in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing is open in the thread: the rows are already here

    def close(self) -> None:
        self._rows.clear()

    async def _statement(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome: Outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
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
