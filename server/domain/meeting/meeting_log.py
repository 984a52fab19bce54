"""Appending to and reading the meeting's event log.

The sequence number comes from ``meetings.last_seq``, incremented in the same transaction as
the insert: on PostgreSQL the UPDATE takes the meeting row's lock, on SQLite the transaction
holds the database's write lock (BEGIN IMMEDIATE). Concurrent writers therefore queue, a
rollback gives its number back, and ``UNIQUE(meeting_id, seq)`` backs the guarantee: the
numbers are gap-free and never duplicated, whatever the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingEvent
from server.db.types import utcnow
from server.domain.meeting.events import validate_payload
from server.errors import NotFound


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the rest of the system sees it (and as clients receive it)."""

    meeting_id: int
    seq: int
    type: str
    actor: str
    payload: dict[str, Any]
    at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "payload": self.payload,
        }

    @classmethod
    def from_row(cls, row: MeetingEvent) -> LoggedEvent:
        return cls(row.meeting_id, row.seq, row.type, row.actor, row.payload, row.created_at)


async def append_events(
    session: AsyncSession,
    meeting_id: int,
    items: list[tuple[str, str, dict[str, Any]]],
    at: datetime | None = None,
) -> list[LoggedEvent]:
    """Append ``(type, actor, payload)`` items in order; the caller's transaction commits them."""
    if not items:
        return []
    canonical = [(t, a, validate_payload(t, p)) for t, a, p in items]
    last = await session.scalar(
        update(Meeting)
        .where(Meeting.id == meeting_id)
        .values(last_seq=Meeting.last_seq + len(items))
        .returning(Meeting.last_seq)
    )
    if last is None:
        raise NotFound()
    first = last - len(items) + 1
    when = at or utcnow()
    rows = [
        MeetingEvent(meeting_id=meeting_id, seq=first + i, type=t, actor=a, payload=p, created_at=when)
        for i, (t, a, p) in enumerate(canonical)
    ]
    session.add_all(rows)
    await session.flush()
    return [LoggedEvent.from_row(r) for r in rows]


async def append_event(
    session: AsyncSession, meeting_id: int, event_type: str, actor: str, payload: dict[str, Any]
) -> LoggedEvent:
    return (await append_events(session, meeting_id, [(event_type, actor, payload)]))[0]


async def events_after(
    session: AsyncSession, meeting_id: int, after_seq: int = 0, limit: int | None = None
) -> list[LoggedEvent]:
    query = (
        select(MeetingEvent)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.seq > after_seq)
        .order_by(MeetingEvent.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [LoggedEvent.from_row(r) for r in (await session.scalars(query))]
