"""What the poll exports show: a closed poll's counts, a named poll's ballots with names.

Members of the association (any role) and site administrators only. A secret poll has no
ballot export at all: its ballots are per-option counters (server/db/models/polls.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Ballot, Meeting, MeetingGuest, Organisation, Poll, User
from server.db.models.polls import PollStatus
from server.domain.accounts.permissions import require_member
from server.domain.meeting.polls import poll_error
from server.names import order_key, parse_name


@dataclass(frozen=True)
class VoteRow:
    name: str  # «Фамилия Имя Отчество», or the guest's name
    organisation: str
    guest: bool
    choices: list[str]


async def readable_poll(session: AsyncSession, user: User | None, meeting_id: int, poll_id: int) -> Poll:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise poll_error("not_found", 404)
    await require_member(session, user, meeting.association_id)
    poll = await session.scalar(select(Poll).where(Poll.id == poll_id, Poll.meeting_id == meeting_id))
    if poll is None:
        raise poll_error("poll_not_found", 404)
    return poll


async def poll_results(
    session: AsyncSession, user: User | None, meeting_id: int, poll_id: int
) -> tuple[Poll, dict[str, Any]]:
    """The poll and its frozen result (counts only exist once the poll is closed)."""
    poll = await readable_poll(session, user, meeting_id, poll_id)
    if poll.status != PollStatus.closed or poll.result is None:
        raise poll_error("poll_not_closed")
    return poll, poll.result


async def poll_votes(
    session: AsyncSession, user: User | None, meeting_id: int, poll_id: int
) -> tuple[Poll, list[VoteRow]]:
    """Who voted what in a named poll, sorted by name; a secret poll is refused."""
    poll = await readable_poll(session, user, meeting_id, poll_id)
    if poll.secret:
        raise poll_error("poll_secret", 403)
    ballots = list(await session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)))
    user_ids = [int(b.voter[2:]) for b in ballots if b.voter.startswith("u:")]
    guest_ids = [int(b.voter[2:]) for b in ballots if b.voter.startswith("g:")]
    people: dict[str, tuple[str, str, bool]] = {}
    if user_ids:
        rows = await session.execute(
            select(User, Organisation.name)
            .outerjoin(Organisation, Organisation.id == User.organisation_id)
            .where(User.id.in_(user_ids))
        )
        for person, org in rows:
            people[f"u:{person.id}"] = (person.full_name, org or "", False)
    if guest_ids:
        for g in await session.scalars(select(MeetingGuest).where(MeetingGuest.id.in_(guest_ids))):
            people[f"g:{g.id}"] = (parse_name(g.name).full or g.name, g.organisation, True)
    result = []
    for ballot in ballots:
        name, org, guest = people.get(ballot.voter, (ballot.voter, "", ballot.voter.startswith("g:")))
        result.append(VoteRow(name, org, guest, [poll.options[c] for c in ballot.choices]))
    result.sort(key=lambda r: (order_key(r.name), r.organisation))
    return poll, result
