"""Appending to and reading the meeting's event log.

The sequence number comes from ``meetings.last_seq``, incremented in the same transaction as
the insert: on PostgreSQL the UPDATE takes the meeting row's lock, on SQLite the transaction
holds the database's write lock (BEGIN IMMEDIATE). Concurrent writers therefore queue, a
rollback gives its number back, and ``UNIQUE(meeting_id, seq)`` backs the guarantee: the
numbers are gap-free and never duplicated, whatever the number of processes.

The room service's transactions hold the meeting row's lock from their first statement
(:func:`meeting_held`), so while they last nobody else can move ``last_seq``: they number the
events in memory and store the last number once, before the commit, instead of one UPDATE per
action (a poll's burst of votes is a batch of actions). A savepoint rolled back gives its
numbers back (:meth:`HeldMeeting.savepoint`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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


_HELD = "smo.held_meetings"  # session.info: {meeting_id: HeldMeeting}


@dataclass(slots=True)
class HeldMeeting:
    """A meeting row locked for the whole transaction, and its log's numbers handed out so far."""

    session: AsyncSession
    meeting: Meeting
    stored_seq: int  # meetings.last_seq as read under the lock
    last_seq: int
    # Rows read under the lock, kept alive for the transaction: the session's identity map holds
    # unchanged objects weakly, and a batch's actions read the same poll again and again.
    kept: dict[tuple[type, int], object] = field(default_factory=dict)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A SAVEPOINT whose rollback also gives back the numbers taken inside it."""
        mark = self.last_seq
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            self.last_seq = mark
            raise


@asynccontextmanager
async def meeting_held(session: AsyncSession, meeting_id: int) -> AsyncIterator[HeldMeeting]:
    """Lock the meeting row (SQLite: BEGIN IMMEDIATE already holds the database) as the
    transaction's first statement; events appended inside are numbered in memory, and
    ``meetings.last_seq`` is written once on the way out. An exception skips that write: the
    caller's transaction then rolls back with it."""
    meeting = await session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update())
    if meeting is None:
        raise NotFound()
    held = HeldMeeting(session, meeting, meeting.last_seq, meeting.last_seq)
    session.info.setdefault(_HELD, {})[meeting_id] = held
    try:
        yield held
    finally:
        del session.info[_HELD][meeting_id]
    if held.last_seq != held.stored_seq:
        await session.execute(update(Meeting).where(Meeting.id == meeting_id).values(last_seq=held.last_seq))


def held_meeting(session: AsyncSession, meeting_id: int) -> HeldMeeting | None:
    """The meeting row's lock, if this transaction holds it (:func:`meeting_held`)."""
    held: HeldMeeting | None = session.info.get(_HELD, {}).get(meeting_id)
    return held


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
    held = held_meeting(session, meeting_id)
    if held is not None:
        held.last_seq += len(items)
        last: int | None = held.last_seq
    else:
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
