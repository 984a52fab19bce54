"""Polls and votes: create, open, cast a vote (closing: server/domain/meeting/poll_closing.py).

Every action takes the edge's session (it never commits), checks permission, changes state,
appends events, and returns the events to broadcast after the commit.

Locking: an action that changes a poll first locks the meeting row, then the poll row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), in
that order everywhere, so concurrent votes, closes and the meeting's end queue instead of
racing: a duplicate submission always sees the first one's ballot, and a close never misses
a ballot committed before it, and of two closers (a moderator, the timers of two processes)
the first freezes the result, the others do nothing. In the room service's transactions the
meeting row is locked from the first statement (``meeting_held``), so there the meeting and
the poll are read from the session's own copies, without a query per vote.

Secret polls: see server/db/models/polls.py and server/db/sealing.py. Opening a secret poll
creates its key (outside the database); a secret vote writes the participation and the
choice sealed under that key; the close opens them (server/domain/meeting/poll_closing.py). A secret
ballot cannot be changed (a secret poll refuses ``allow_change`` at creation), and a re-sent
secret vote is answered with the ballot count and ``already_voted`` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import and_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import sealing
from server.db.models import (
    AgendaItem,
    Ballot,
    Meeting,
    MeetingEvent,
    MeetingGuest,
    MeetingStatus,
    Membership,
    Poll,
    PollParticipation,
    SealedBallot,
)
from server.db.models.polls import PollKind, PollRule, PollStatus
from server.db.types import utcnow
from server.domain.meeting.events import DecisionRule, PollCreated
from server.domain.meeting.meeting_log import LoggedEvent, append_event, held_meeting
from server.domain.meeting.poll_results import DECISION_OPTIONS
from server.errors import AppError, Forbidden

MAX_OPTIONS = 20
MAX_ID = 2**31 - 1
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
OptionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=NO_NUL)
]


class PollDraft(BaseModel):
    """The ``poll.create`` payload (extra fields forbidden, no type coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=NO_NUL)
    ]
    kind: Literal["decision", "single", "multiple"]
    options: list[OptionText] | None = Field(default=None, max_length=MAX_OPTIONS)
    secret: bool = False
    agenda_item_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    decision_text: str = Field(default="", max_length=5000, pattern=NO_NUL)
    rule: DecisionRule = "majority_cast"
    guests_vote: bool = False
    allow_change: bool = False
    closes_in_seconds: int | None = Field(default=None, ge=1, le=86400)


def poll_error(code: str, status: int = 409, **details: Any) -> AppError:
    return AppError(code, status=status, details=details or None)


@dataclass
class VoteOutcome:
    ballots: int
    already_voted: bool = False
    events: list[LoggedEvent] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------------
async def meeting_for_update(session: AsyncSession, meeting_id: int) -> Meeting:
    if held_meeting(session, meeting_id) is not None:
        # Locked since the transaction's first statement, and changed since only through the
        # ORM (its status) or not read (last_seq): the session's own copy is current (an
        # expired one, after a rolled-back savepoint, is loaded again by ``get``).
        meeting = await session.get(Meeting, meeting_id)
        if meeting is not None:
            return meeting
    meeting = await session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if meeting is None:
        raise poll_error("not_found", 404)
    return meeting


async def get_poll(session: AsyncSession, meeting_id: int, poll_id: int, *, lock: bool) -> Poll:
    if lock and (held := held_meeting(session, meeting_id)) is not None:
        # Every writer of a poll holds its meeting's lock first, and this transaction has held
        # it since its first statement: the session's copy (a poll's burst of votes is one
        # batch, one transaction) is current, and a row lock of its own would add nothing.
        poll = await session.get(Poll, poll_id)
        if poll is None or poll.meeting_id != meeting_id:
            raise poll_error("poll_not_found", 404)
        held.kept[Poll, poll_id] = poll
        return poll
    query = select(Poll).where(Poll.id == poll_id, Poll.meeting_id == meeting_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    poll = await session.scalar(query)
    if poll is None:
        raise poll_error("poll_not_found", 404)
    return poll


def closes_at(poll: Poll) -> datetime | None:
    if poll.status != PollStatus.open or poll.opened_at is None or poll.closes_in_seconds is None:
        return None
    return poll.opened_at + timedelta(seconds=poll.closes_in_seconds)


def is_overdue(poll: Poll, now: datetime | None = None) -> bool:
    deadline = closes_at(poll)
    return deadline is not None and deadline <= (now or utcnow())


async def present_from_log(session: AsyncSession, meeting_id: int) -> set[str]:
    """Participants connected now, folded from the log's joined/left events (process-independent)."""
    rows = await session.execute(
        select(MeetingEvent.type, MeetingEvent.payload)
        .where(
            MeetingEvent.meeting_id == meeting_id,
            MeetingEvent.type.in_(("participant.joined", "participant.left")),
        )
        .order_by(MeetingEvent.seq)
    )
    present: set[str] = set()
    for event_type, payload in rows:
        key = str(payload.get("participant", ""))
        if event_type == "participant.joined":
            present.add(key)
        else:
            present.discard(key)
    return present


def participant_id(key: str, prefix: str) -> int | None:
    kind, _, number = key.partition(":")
    return int(number) if kind == prefix and number.isdigit() else None


# --- create / open ------------------------------------------------------------------------------
async def create_poll(
    session: AsyncSession, meeting_id: int, actor: str, moderator: bool, draft: PollDraft
) -> tuple[Poll, list[LoggedEvent]]:
    """A moderator prepares a poll (meeting scheduled or live); it starts as a draft."""
    if not moderator:
        raise Forbidden()
    meeting = await meeting_for_update(session, meeting_id)
    if meeting.status not in (MeetingStatus.scheduled, MeetingStatus.live):
        raise poll_error("meeting_ended")
    if draft.secret and draft.allow_change:
        raise poll_error("poll_secret_change", 422)
    if draft.kind == "decision":
        options = list(DECISION_OPTIONS)
    else:
        options = list(draft.options or [])
        if len(options) < 2 or len({o.casefold() for o in options}) != len(options):
            raise poll_error("poll_options_invalid", 422)
    if draft.agenda_item_id is not None:
        item = await session.get(AgendaItem, draft.agenda_item_id)
        if item is None or item.meeting_id != meeting_id:
            raise poll_error("agenda_item_not_found", 404)
    poll = Poll(
        meeting_id=meeting_id,
        agenda_item_id=draft.agenda_item_id,
        question=draft.question,
        decision_text=draft.decision_text.strip() if draft.kind == "decision" else "",
        kind=PollKind(draft.kind),
        options=options,
        secret=draft.secret,
        rule=PollRule(draft.rule if draft.kind == "decision" else "majority_cast"),
        guests_vote=draft.guests_vote,
        allow_change=draft.allow_change,
        closes_in_seconds=draft.closes_in_seconds,
        status=PollStatus.draft,
        ballots=0,
        created_by=actor,
    )
    session.add(poll)
    await session.flush()
    payload = PollCreated(
        poll_id=poll.id,
        question=poll.question,
        kind=draft.kind,
        options=options,
        secret=poll.secret,
        agenda_item_id=poll.agenda_item_id,
        decision_text=poll.decision_text,
        rule=poll.rule.value,
        guests_vote=poll.guests_vote,
        allow_change=poll.allow_change,
        closes_in_seconds=poll.closes_in_seconds,
    ).model_dump(mode="json")
    return poll, [await append_event(session, meeting_id, "poll.created", actor, payload)]


async def open_poll(
    session: AsyncSession, meeting_id: int, poll_id: int, actor: str, moderator: bool
) -> tuple[Poll, list[LoggedEvent]]:
    """A moderator opens a draft poll for voting; the meeting must be live."""
    if not moderator:
        raise Forbidden()
    meeting = await meeting_for_update(session, meeting_id)
    poll = await get_poll(session, meeting_id, poll_id, lock=True)
    if poll.status == PollStatus.open:
        return poll, []  # a retried open
    if poll.status != PollStatus.draft:
        raise poll_error("poll_closed")
    if meeting.status != MeetingStatus.live:
        raise poll_error("meeting_not_live")
    if poll.secret:
        sealing.ensure_key(session, poll_key_name(poll.id))  # durable before anyone votes
    poll.status = PollStatus.open
    poll.opened_at = utcnow()
    event = await append_event(session, meeting_id, "poll.opened", actor, {"poll_id": poll.id})
    return poll, [event]


# --- vote ---------------------------------------------------------------------------------------
async def _check_eligible(session: AsyncSession, meeting: Meeting, poll: Poll, voter: str) -> Ballot | None:
    """Refuse a voter who may not vote in the poll; return their open ballot, if any.

    For a member of an open poll it is one query (membership and ballot): a vote is the
    hot path of a poll's burst."""
    guest_id = participant_id(voter, "g")
    if guest_id is not None:
        if not poll.guests_vote:
            raise poll_error("poll_guests_excluded", 403)
        guest = await session.get(MeetingGuest, guest_id)
        if guest is None or guest.meeting_id != meeting.id:
            raise poll_error("poll_not_eligible", 403)
        if poll.secret:
            return None
        return await session.scalar(select(Ballot).where(Ballot.poll_id == poll.id, Ballot.voter == voter))
    user_id = participant_id(voter, "u")
    if user_id is None:
        raise poll_error("poll_not_eligible", 403)
    member = (
        select(Membership.id)
        .where(Membership.association_id == meeting.association_id, Membership.user_id == user_id)
        .exists()
        .label("member")
    )
    if poll.secret:
        if not await session.scalar(select(member)):
            raise poll_error("poll_not_eligible", 403)
        return None
    anchor = select(literal(1).label("one")).subquery("anchor")
    row = (
        await session.execute(
            select(member, Ballot)
            .select_from(anchor)
            .outerjoin(Ballot, and_(Ballot.poll_id == poll.id, Ballot.voter == voter))
        )
    ).one()
    if not row.member:
        raise poll_error("poll_not_eligible", 403)
    ballot: Ballot | None = row.Ballot
    return ballot


def _normalise_choices(poll: Poll, choices: list[int]) -> list[int]:
    unique = sorted(set(choices))
    if not unique or len(unique) != len(choices):
        raise poll_error("poll_bad_choice", 422)
    if any(c < 0 or c >= len(poll.options) for c in unique):
        raise poll_error("poll_bad_choice", 422)
    if poll.kind != PollKind.multiple and len(unique) != 1:
        raise poll_error("poll_single_choice", 422)
    return unique


async def cast_vote(
    session: AsyncSession, meeting_id: int, poll_id: int, voter: str, present: bool, choices: list[int]
) -> VoteOutcome:
    """An eligible, present voter votes in an open poll of a live meeting.

    A re-sent identical vote returns the same answer and changes nothing; a different vote
    replaces the first only when the poll allows changes (named polls).
    """
    meeting = await meeting_for_update(session, meeting_id)
    poll = await get_poll(session, meeting_id, poll_id, lock=True)
    if meeting.status != MeetingStatus.live:
        raise poll_error("meeting_not_live")
    if poll.status == PollStatus.draft:
        raise poll_error("poll_not_open")
    if poll.status == PollStatus.closed or is_overdue(poll):
        raise poll_error("poll_closed")
    ballot = await _check_eligible(session, meeting, poll, voter)
    if not present:
        raise poll_error("poll_not_present", 403)
    chosen = _normalise_choices(poll, choices)
    if poll.secret:
        return await _cast_secret(session, poll, voter, chosen)
    if ballot is not None:
        if list(ballot.choices) == chosen:
            return VoteOutcome(poll.ballots, already_voted=True)
        if not poll.allow_change:
            raise poll_error("vote_already_cast")
        ballot.choices = chosen
        ballot.changed_at = utcnow()
    else:
        session.add(Ballot(poll_id=poll.id, voter=voter, choices=chosen))
        poll.ballots += 1
    payload = {"poll_id": poll.id, "ballots": poll.ballots, "voter": voter, "choices": chosen}
    event = await append_event(session, meeting_id, "vote.cast", voter, payload)
    return VoteOutcome(poll.ballots, events=[event])


# --- secret ballots -----------------------------------------------------------------------------
BALLOT_PLAINTEXT = 8  # sealed: 4-byte length + a 4-byte option bitmask (MAX_OPTIONS <= 32)


def poll_key_name(poll_id: int) -> str:
    return f"poll-{poll_id}"


def seal_ballot(key: bytes, poll_id: int, chosen: list[int]) -> bytes:
    mask = sum(1 << c for c in chosen)
    return sealing.seal(key, poll_key_name(poll_id), mask.to_bytes(4, "little"), BALLOT_PLAINTEXT)


def open_ballot(key: bytes, poll_id: int, box: bytes) -> list[int]:
    mask = int.from_bytes(sealing.unseal(key, poll_key_name(poll_id), box), "little")
    return [i for i in range(MAX_OPTIONS) if mask >> i & 1]


async def _cast_secret(session: AsyncSession, poll: Poll, voter: str, chosen: list[int]) -> VoteOutcome:
    """The participation and the sealed choice, nothing else: no counter moves until the close."""
    taken = await session.scalar(
        select(PollParticipation.id).where(
            PollParticipation.poll_id == poll.id, PollParticipation.voter == voter
        )
    )
    if taken is not None:
        return VoteOutcome(poll.ballots, already_voted=True)
    name = poll_key_name(poll.id)
    key = sealing.load_key(session, name)
    if key is None:
        if poll.ballots:  # sealed ballots exist under a key this process cannot see
            raise RuntimeError(f"the key of secret poll {poll.id} is missing from {sealing.key_dir(session)}")
        key = sealing.ensure_key(session, name)
    session.add(PollParticipation(poll_id=poll.id, voter=voter))
    session.add(SealedBallot(poll_id=poll.id, box=seal_ballot(key, poll.id, chosen)))
    poll.ballots += 1
    payload = {"poll_id": poll.id, "ballots": poll.ballots}
    event = await append_event(session, poll.meeting_id, "vote.cast", "system", payload)
    return VoteOutcome(poll.ballots, events=[event])
