"""Background work over durable outbox rows: mail, protocol assembly, reminders.

Each kind of job registers a handler with ``@job_handler("kind")``. A row is claimed in its
own transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of processes can
run workers), handled, and marked sent; a failure is retried with exponential back-off.
A handler must be idempotent with respect to its effects: it may run again after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, select

from server.db.models import OutboxMessage
from server.db.types import utcnow

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.workers")

Handler = Callable[["Runtime", dict[str, Any]], Awaitable[None]]


class Deferred(Exception):
    """Raised by a handler that cannot do its work yet (e.g. the protocol waits for the
    transcript): the row runs again after ``seconds``, without counting as a failed attempt."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"deferred by {seconds} s")
        self.seconds = seconds


HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 8


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def start_workers(runtime: Runtime) -> list[asyncio.Task[Any]]:
    runtime.services["outbox_wakeup"] = asyncio.Event()
    return [asyncio.create_task(outbox_loop(runtime), name="outbox")]


def wake_outbox(runtime: Runtime) -> None:
    """Tell the worker that new rows were committed (it also polls)."""
    event = runtime.services.get("outbox_wakeup")
    if event is not None:
        event.set()


async def outbox_loop(runtime: Runtime) -> None:
    wakeup: asyncio.Event = runtime.services["outbox_wakeup"]
    while True:
        try:
            while await run_one(runtime):
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox loop error")
        wakeup.clear()
        try:
            await asyncio.wait_for(wakeup.wait(), runtime.settings.outbox_poll_seconds)
        except TimeoutError:
            pass


LEASE_SECONDS = 300


def due(now: datetime) -> ColumnElement[bool]:
    """Rows a worker would claim now: pending and due, or running with an expired lease."""
    return and_(OutboxMessage.status.in_(("pending", "running")), OutboxMessage.next_attempt_at <= now)


async def run_one(runtime: Runtime) -> bool:
    """Claim and run one due row; return False when none is due.

    The claim commits before the handler runs (status ``running`` with a lease in
    ``next_attempt_at``), so a handler may open transactions of its own: on SQLite the claim
    must not hold the write lock while the handler writes. A row whose worker died is claimed
    again when its lease expires.
    """
    db = runtime.db
    now = utcnow()
    async with db.transaction() as session:
        query = select(OutboxMessage).where(due(now)).order_by(OutboxMessage.id).limit(1)
        if not runtime.settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            return False
        row.status = "running"
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        job_id, kind, payload, attempts = row.id, row.kind, row.payload, row.attempts

    handler = HANDLERS.get(kind)
    error: Exception | None = None
    try:
        if handler is None:
            raise RuntimeError(f"no handler for outbox kind {kind!r}")
        await handler(runtime, payload)
    except Exception as exc:
        error = exc

    async with db.transaction() as session:
        done = await session.get(OutboxMessage, job_id)
        if done is None:
            return True
        if error is None:
            done.status = "sent"
            done.sent_at = utcnow()
            log.info("outbox job done", extra={"job_id": job_id, "kind": kind})
            return True
        if isinstance(error, Deferred):
            done.status = "pending"
            done.attempts = max(0, done.attempts - 1)
            done.next_attempt_at = utcnow() + timedelta(seconds=error.seconds)
            return True
        log.warning(
            "outbox job failed",
            extra={"job_id": job_id, "kind": kind, "attempt": attempts, "error": str(error)},
        )
        done.last_error = str(error)[:2000]
        if attempts >= MAX_ATTEMPTS:
            done.status = "failed"
        else:
            done.status = "pending"
            done.next_attempt_at = utcnow() + timedelta(seconds=min(2**attempts, 600))
        return True
