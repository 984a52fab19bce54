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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from server.db.models import OutboxMessage
from server.db.types import utcnow

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.workers")

Handler = Callable[["Runtime", dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 8


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def _load_handlers() -> None:
    # Importing the modules registers their handlers.
    import server.domain.protocols
    import server.mail.sender  # noqa: F401


def start_workers(runtime: Runtime) -> list[asyncio.Task[Any]]:
    _load_handlers()
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


async def run_one(runtime: Runtime) -> bool:
    """Claim and run one due row; return False when none is due."""
    db = runtime.db
    async with db.transaction() as session:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if not runtime.settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            return False
        handler = HANDLERS.get(row.kind)
        row.attempts += 1
        try:
            if handler is None:
                raise RuntimeError(f"no handler for outbox kind {row.kind!r}")
            await handler(runtime, row.payload)
        except Exception as exc:
            log.warning(
                "outbox job failed",
                extra={
                    "job_id": row.id,
                    "kind": row.kind,
                    "attempt": row.attempts,
                    "error": str(exc),
                },
            )
            row.last_error = str(exc)[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=min(2**row.attempts, 600))
            return True
        row.status = "sent"
        row.sent_at = utcnow()
        log.info("outbox job done", extra={"job_id": row.id, "kind": row.kind})
        return True
