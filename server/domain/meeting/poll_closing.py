"""Closing polls: by a moderator, by the poll's timer, on a read after the deadline, or at
the meeting's end. The result is frozen once (server/domain/meeting/poll_results.py computes it).

Idempotent across processes: the closer locks the meeting row, then the poll row (the order
every poll action uses); of two closers the first freezes the result, the others find the
poll closed and return no events.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import sealing
from server.db.models import Association, Ballot, Meeting, MeetingGuest, Membership, Poll, SealedBallot
from server.db.models.polls import PollStatus
from server.db.types import utcnow
from server.domain.meeting.meeting_log import LoggedEvent, append_event
from server.domain.meeting.poll_results import tally
from server.domain.meeting.polls import (
    closes_at,
    get_poll,
    is_overdue,
    meeting_for_update,
    open_ballot,
    participant_id,
    poll_error,
    poll_key_name,
    present_from_log,
)
from server.errors import Forbidden


# --- close --------------------------------------------------------------------------------------
async def open_sealed_ballots(session: AsyncSession, poll: Poll) -> list[int]:
    """The close of a secret poll: open every sealed ballot, delete them all in this
    transaction, and destroy the poll's key once it commits. The counts go into the frozen
    result only; per-ballot rows never exist in the clear."""
    counts = [0] * len(poll.options)
    boxes = list(await session.scalars(select(SealedBallot.box).where(SealedBallot.poll_id == poll.id)))
    name = poll_key_name(poll.id)
    if boxes:
        key = sealing.load_key(session, name)
        if key is None:
            raise RuntimeError(f"the key of secret poll {poll.id} is missing from {sealing.key_dir(session)}")
        for box in boxes:
            for c in open_ballot(key, poll.id, box):
                counts[c] += 1
    if len(boxes) != poll.ballots:
        raise RuntimeError(f"secret poll {poll.id}: {len(boxes)} sealed ballots for {poll.ballots} voters")
    await session.execute(delete(SealedBallot).where(SealedBallot.poll_id == poll.id))

    # Committed closed (a rolled-back SAVEPOINT expires the attributes): the key can go. The
    # closure holds the poll itself: the session only keeps it weakly.
    def closed(p: Poll = poll) -> bool:
        return bool(inspect(p).dict.get("status") == PollStatus.closed)

    sealing.destroy_after_commit(session, name, closed)
    return counts


async def sweep_poll_keys(session: AsyncSession) -> int:
    """Destroy the keys left behind by polls that are no longer open (a crash between a close's
    commit and the key's destruction). Returns how many were destroyed."""
    directory = sealing.key_dir(session)
    names = dict(sealing.key_names(directory, "poll"))
    if not names:
        return 0
    open_ids = set(
        await session.scalars(
            select(Poll.id).where(Poll.id.in_(names.values()), Poll.status != PollStatus.closed)
        )
    )
    stale = [name for name, pid in names.items() if pid not in open_ids]
    for name in stale:
        sealing.destroy_key(directory, name)
    return len(stale)


async def poll_counts(session: AsyncSession, poll: Poll) -> list[int]:
    if poll.secret:
        return await open_sealed_ballots(session, poll)
    counts = [0] * len(poll.options)
    for choices in await session.scalars(select(Ballot.choices).where(Ballot.poll_id == poll.id)):
        for c in choices:
            counts[c] += 1
    return counts


async def _freeze_result(
    session: AsyncSession, meeting: Meeting, poll: Poll, present_keys: Collection[str]
) -> dict[str, Any]:
    member_ids = set(
        await session.scalars(
            select(Membership.user_id).where(Membership.association_id == meeting.association_id)
        )
    )
    guest_ids: set[int] = set()
    if poll.guests_vote:
        guest_ids = set(
            await session.scalars(select(MeetingGuest.id).where(MeetingGuest.meeting_id == meeting.id))
        )
    members_present = sum(1 for k in present_keys if participant_id(k, "u") in member_ids)
    guests_present = sum(1 for k in present_keys if participant_id(k, "g") in guest_ids)
    association = await session.get(Association, meeting.association_id)
    quorum_rule = association.quorum_rule.value if association is not None else "more_than_half"
    result = tally(
        kind=poll.kind.value,
        rule=poll.rule.value,
        counts=await poll_counts(session, poll),
        cast=poll.ballots,
        eligible=len(member_ids) + len(guest_ids),
        present=members_present + guests_present,
        members=len(member_ids),
        members_present=members_present,
        quorum_rule=quorum_rule,
    )
    return result.model_dump(mode="json")


async def close_poll(
    session: AsyncSession,
    meeting_id: int,
    poll_id: int,
    actor: str,
    moderator: bool,
    present_keys: Collection[str] | None = None,
    automatic: bool = False,
    *,
    force: bool = False,
) -> tuple[Poll, list[LoggedEvent]]:
    """Close an open poll and freeze its result (idempotent: a closed poll returns no events).

    ``present_keys``: participants connected now (the room's presence); None = fold the log.
    ``automatic``: the poll's timer (actor "system"; refused before the deadline).
    ``force``: the meeting's end closes its open polls (actor "system", marked automatic).
    """
    if force:
        automatic = True
    if not moderator and not automatic:
        raise Forbidden()
    meeting = await meeting_for_update(session, meeting_id)
    poll = await get_poll(session, meeting_id, poll_id, lock=True)
    if poll.status == PollStatus.closed:
        return poll, []
    if poll.status == PollStatus.draft:
        raise poll_error("poll_not_open")
    if automatic and not force and not is_overdue(poll):
        return poll, []
    if present_keys is None:
        present_keys = await present_from_log(session, meeting_id)
    poll.result = await _freeze_result(session, meeting, poll, present_keys)
    poll.status = PollStatus.closed
    poll.closed_at = utcnow()
    reason = "meeting_ended" if force else "timer" if automatic else "moderator"
    payload = {"poll_id": poll.id, "result": poll.result, "automatic": automatic, "reason": reason}
    event = await append_event(session, meeting_id, "poll.closed", "system" if automatic else actor, payload)
    return poll, [event]


async def close_overdue_polls(
    session: AsyncSession, meeting_id: int | None = None, present_keys: Collection[str] | None = None
) -> list[LoggedEvent]:
    """Close every open poll whose timer has run out (after a restart, or on any read)."""
    query = select(Poll.id, Poll.meeting_id).where(
        Poll.status == PollStatus.open, Poll.closes_in_seconds.is_not(None)
    )
    if meeting_id is not None:
        query = query.where(Poll.meeting_id == meeting_id)
    events: list[LoggedEvent] = []
    now = utcnow()
    for pid, mid in (await session.execute(query)).all():
        poll = await session.get(Poll, pid)
        if poll is not None and is_overdue(poll, now):
            events += (await close_poll(session, mid, pid, "system", False, present_keys, automatic=True))[1]
    return events


async def open_poll_deadlines(session: AsyncSession) -> list[tuple[int, int, datetime]]:
    """(meeting id, poll id, deadline) of every open poll with a timer: to re-arm after a restart."""
    rows = await session.scalars(
        select(Poll).where(Poll.status == PollStatus.open, Poll.closes_in_seconds.is_not(None))
    )
    return [(p.meeting_id, p.id, d) for p in rows if (d := closes_at(p)) is not None]


async def close_open_polls(
    session: AsyncSession, meeting_id: int, present_keys: Collection[str] | None = None
) -> list[LoggedEvent]:
    """The meeting is ending: close every open poll (actor "system", ``automatic``). Call it
    inside the end action, before ``meeting.ended`` is appended."""
    ids = list(
        await session.scalars(
            select(Poll.id).where(Poll.meeting_id == meeting_id, Poll.status == PollStatus.open)
        )
    )
    events: list[LoggedEvent] = []
    for poll_id in ids:
        events += (await close_poll(session, meeting_id, poll_id, "system", False, present_keys, force=True))[
            1
        ]
    return events
