"""Members' activity in a school year (clause 6.1): the meeting-derived metrics, the table of
every registered metric and the ranked list for award recommendations.

The meeting metrics are a fold of the year's event logs (``server.domain.protocol.fold.fold_log``,
the protocol's own fold): attendance merges a person's connection intervals, speaking time
merges the floor (``floor.granted``/``floor.ended``) with detected speech
(``speech.started``/``speech.ended``), chat counts public messages, votes count named ballots
from the log plus secret-poll participation (``poll_participations``: who took part, never
what they chose). The whole year is read with one query for the meetings, one for their
events and two small ones (protocol presence rules, secret participation) — never per member
or per meeting — and the result is cached on the session, so the four metrics share it.

Other features add their metrics with ``@activity_metric`` (server/domain/year/activity.py); the
table shows all of them and the ranking is Σ weight × value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Association,
    Meeting,
    MeetingEvent,
    MeetingForm,
    MeetingStatus,
    Membership,
    Organisation,
    Poll,
    PollParticipation,
    Role,
    User,
)
from server.db.models.protocols import MeetingProtocol
from server.domain.accounts.permissions import require_member
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import russian as ru
from server.domain.protocol.fold import Poll as FoldPoll
from server.domain.protocol.fold import fold_log, merged_seconds
from server.domain.year.activity import Metric, activity_metric, member_activity, metrics
from server.domain.year.plans import current_school_year, school_year_label
from server.errors import NotFound
from server.i18n import translate
from server.spreadsheet import csv_text

# The event types the statistics read (everything else in the log is irrelevant to them).
_TYPES = (
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "floor.granted",
    "floor.ended",
    "speech.started",
    "speech.ended",
    "agenda.item.started",
    "chat.message",
    "poll.created",
    "vote.cast",
    "poll.closed",
)
DEFAULT_PRESENCE_SHARE = 0.5


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 September of ``year``, 1 September of the next year), Moscow time, as UTC."""
    start = datetime(year, 9, 1, tzinfo=ru.MOSCOW).astimezone(UTC)
    end = datetime(year + 1, 9, 1, tzinfo=ru.MOSCOW).astimezone(UTC)
    return start, end


# --- the fold of a year's meetings ----------------------------------------------------------------
@dataclass(slots=True)
class PersonFacts:
    name: str
    role: str
    seconds_present: int = 0
    counted: bool = False  # present by the protocol's presence rule
    speaking_seconds: int = 0
    chat: int = 0
    votes: int = 0


@dataclass(slots=True)
class MeetingFacts:
    meeting_id: int
    title: str
    form: MeetingForm
    day: date  # Moscow date of the start
    start: datetime | None
    end: datetime | None
    presence_share: float
    people: dict[str, PersonFacts] = field(default_factory=dict)  # participant key -> facts
    polls: list[FoldPoll] = field(default_factory=list)
    events: list[LoggedEvent] = field(default_factory=list)  # the events read (see _TYPES)

    @property
    def duration_seconds(self) -> int:
        return round((self.end - self.start).total_seconds()) if self.start and self.end else 0

    def present_users(self) -> set[int]:
        return {int(k[2:]) for k, p in self.people.items() if k.startswith("u:") and p.counted}

    def speaking_seconds(self) -> int:
        return sum(p.speaking_seconds for p in self.people.values())


def _fold_meeting(meeting: Meeting, events: list[LoggedEvent], share: float) -> MeetingFacts:
    state = fold_log(events, None)
    start, end = state.start, state.end
    duration = (end - start).total_seconds() if start and end else 0.0
    facts = MeetingFacts(
        meeting.id,
        meeting.title,
        meeting.form,
        ru.moscow(meeting.started_at or meeting.starts_at).date(),
        start,
        end,
        share,
        polls=sorted(state.polls.values(), key=lambda p: p.seq),
        events=events,
    )

    def person(key: str) -> PersonFacts:
        if key not in facts.people:
            known = state.people.get(key)
            facts.people[key] = PersonFacts(known.full_name if known else key, known.role if known else "")
        return facts.people[key]

    for key, p in state.people.items():
        seconds = merged_seconds(p.intervals)
        row = person(key)
        row.seconds_present = seconds
        row.counted = bool(p.intervals) and seconds >= share * duration
    speaking: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for (_, who), intervals in state.speaking.items():
        speaking[who].extend(intervals)
    for who, intervals in speaking.items():
        if who != "system":
            person(who).speaking_seconds = merged_seconds(intervals)
    for line in state.chat:
        if line.participant != "system":
            person(line.participant).chat += 1
    for poll in state.polls.values():
        for voter in poll.ballots:  # named polls: one ballot per voter, however often changed
            person(voter).votes += 1
    return facts


@dataclass(slots=True)
class YearFacts:
    meetings: list[MeetingFacts]


async def year_facts(session: AsyncSession, association_id: int, start: datetime, end: datetime) -> YearFacts:
    """Every ended meeting of the association started within [start, end), folded. Cached on
    the session: the metrics, the table and the analysis read it once per request."""
    cache_key = ("stats.year_facts", association_id, start, end)
    cached = session.info.get(cache_key)
    if isinstance(cached, YearFacts):
        return cached
    meetings = list(
        await session.scalars(
            select(Meeting)
            .where(
                Meeting.association_id == association_id,
                Meeting.status == MeetingStatus.ended,
                or_(
                    and_(
                        Meeting.started_at.is_not(None), Meeting.started_at >= start, Meeting.started_at < end
                    ),
                    and_(Meeting.started_at.is_(None), Meeting.starts_at >= start, Meeting.starts_at < end),
                ),
            )
            .order_by(func.coalesce(Meeting.started_at, Meeting.starts_at), Meeting.id)
        )
    )
    ids = [m.id for m in meetings]
    by_meeting: dict[int, list[LoggedEvent]] = defaultdict(list)
    shares: dict[int, float] = {}
    secret_votes: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(
                MeetingEvent.meeting_id,
                MeetingEvent.seq,
                MeetingEvent.type,
                MeetingEvent.actor,
                MeetingEvent.payload,
                MeetingEvent.created_at,
            )
            .where(MeetingEvent.meeting_id.in_(ids), MeetingEvent.type.in_(_TYPES))
            .order_by(MeetingEvent.meeting_id, MeetingEvent.seq)
        )
        for mid, seq, type_, actor, payload, at in rows:
            by_meeting[mid].append(LoggedEvent(mid, seq, type_, actor, payload, at))
        shares = {
            mid: share
            for mid, share in await session.execute(
                select(MeetingProtocol.meeting_id, MeetingProtocol.presence_share).where(
                    MeetingProtocol.meeting_id.in_(ids)
                )
            )
        }
        for mid, voter in await session.execute(
            select(Poll.meeting_id, PollParticipation.voter)
            .join(Poll, Poll.id == PollParticipation.poll_id)
            .where(Poll.meeting_id.in_(ids))
        ):
            secret_votes[mid].append(voter)
    folded = []
    for m in meetings:
        facts = _fold_meeting(m, by_meeting.get(m.id, []), shares.get(m.id, DEFAULT_PRESENCE_SHARE))
        for voter in secret_votes.get(m.id, []):
            if voter not in facts.people:
                facts.people[voter] = PersonFacts(voter, "")
            facts.people[voter].votes += 1
        folded.append(facts)
    result = YearFacts(folded)
    session.info[cache_key] = result
    return result


def _per_user(
    facts: YearFacts, value: Literal["attended", "present", "speaking", "chat", "votes"]
) -> dict[int, float]:
    out: dict[int, float] = defaultdict(float)
    for m in facts.meetings:
        for key, p in m.people.items():
            if not key.startswith("u:"):
                continue
            uid = int(key[2:])
            if value == "attended":
                out[uid] += 1 if p.counted else 0
            elif value == "present":
                out[uid] += p.seconds_present / 60
            elif value == "speaking":
                out[uid] += p.speaking_seconds / 60
            elif value == "chat":
                out[uid] += p.chat
            else:
                out[uid] += p.votes
    return {uid: round(v, 1) for uid, v in out.items() if v}


# --- the metrics this module registers -----------------------------------------------------------
@activity_metric("meetings_attended", label_key="stats.metric.meetings_attended", weight=3, order=10)
async def meetings_attended(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    return _per_user(await year_facts(session, association_id, start, end), "attended")


@activity_metric("time_present", label_key="stats.metric.time_present", weight=0, unit="minutes", order=11)
async def time_present(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    return _per_user(await year_facts(session, association_id, start, end), "present")


@activity_metric(
    "speaking_minutes", label_key="stats.metric.speaking_minutes", weight=1, unit="minutes", order=12
)
async def speaking_minutes(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    return _per_user(await year_facts(session, association_id, start, end), "speaking")


@activity_metric("chat_messages", label_key="stats.metric.chat_messages", weight=0.5, order=13)
async def chat_messages(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    return _per_user(await year_facts(session, association_id, start, end), "chat")


@activity_metric("votes_cast", label_key="stats.metric.votes_cast", weight=1, order=14)
async def votes_cast(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    return _per_user(await year_facts(session, association_id, start, end), "votes")


# --- the table and the ranking ----------------------------------------------------------------
@dataclass(slots=True)
class MemberRow:
    user_id: int
    full_name: str
    short_name: str
    organisation: str
    role: Role
    values: dict[str, float]
    score: float
    rank: int = 0


@dataclass(slots=True)
class ActivityTable:
    association: Association
    year: int
    years: list[int]
    metrics: list[Metric]
    rows: list[MemberRow]  # alphabetical
    ranking: list[MemberRow]  # by score, ranked members only (score > 0)
    full: bool  # the viewer sees everyone (methodist, administrator)

    @property
    def label(self) -> str:
        return school_year_label(self.year)

    @property
    def weighted(self) -> list[Metric]:
        return [m for m in self.metrics if m.weight]


def score_of(values: dict[str, float], ranked: list[Metric]) -> float:
    return round(sum(m.weight * values.get(m.key, 0.0) for m in ranked), 2)


def rank_rows(rows: list[MemberRow]) -> list[MemberRow]:
    """Rows with a positive score, best first; equal scores share a place (1, 2, 2, 4)."""
    ranked = sorted(
        (r for r in rows if r.score > 0), key=lambda r: (-r.score, r.full_name.casefold(), r.user_id)
    )
    for n, row in enumerate(ranked, start=1):
        row.rank = ranked[n - 2].rank if n > 1 and ranked[n - 2].score == row.score else n
    return ranked


async def available_years(session: AsyncSession, association_id: int) -> list[int]:
    """From the school year of the association's first meeting up to the current one, newest first."""
    first = await session.scalar(
        select(func.min(Meeting.starts_at)).where(Meeting.association_id == association_id)
    )
    now = current_school_year()
    since = (
        min(now, ru.moscow(first).date().year - (1 if ru.moscow(first).month < 9 else 0)) if first else now
    )
    return list(range(now, since - 1, -1))


async def members_of(session: AsyncSession, association_id: int) -> list[tuple[User, Role, str]]:
    rows = await session.execute(
        select(User, Membership.role, Organisation.name)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .where(Membership.association_id == association_id)
        .order_by(User.last_name, User.first_name, User.id)
    )
    return [(u, role, org or "") for u, role, org in rows]


async def activity_rows(session: AsyncSession, association_id: int, year: int) -> list[MemberRow]:
    """Every current member with every registered metric (0 when absent) and their score."""
    start, end = year_bounds(year)
    values = await member_activity(session, association_id, start, end)
    ranked = [m for m in metrics() if m.weight]
    rows = []
    for user, role, org in await members_of(session, association_id):
        mine = {m.key: values.get(user.id, {}).get(m.key, 0.0) for m in metrics()}
        rows.append(
            MemberRow(user.id, user.full_name, user.short_name, org, role, mine, score_of(mine, ranked))
        )
    return rows


async def activity_table(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> ActivityTable:
    """Methodists and administrators see every member and the ranking; any other member sees
    only their own row (the list for award recommendations is the methodist's tool, 6.1)."""
    association = await session.get(Association, association_id)
    if association is None:
        raise NotFound()
    role = await require_member(session, user, association_id)
    assert user is not None
    full = user.is_admin or role == Role.methodist
    rows = await activity_rows(session, association_id, year)
    ranking = rank_rows(rows)
    if not full:  # their own row, without their place in the list
        rows = [r for r in rows if r.user_id == user.id]
        for r in rows:
            r.rank = 0
        ranking = []
    return ActivityTable(
        association, year, await available_years(session, association_id), metrics(), rows, ranking, full
    )


# --- words and numbers ----------------------------------------------------------------------------
def number_text(value: float, locale: str = "ru") -> str:
    """12 / 12,5 (ru) or 12.5 (en): whole numbers without a fraction."""
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if locale == "ru" else text


def metric_label(m: Metric, locale: str = "ru") -> str:
    return translate(m.label_key, locale)


def formula_symbols(table_metrics: list[Metric], locale: str = "ru") -> str:
    """«S = 3·x₁ + 1·x₂ + …» with the weights of the ranked metrics (the legend names each x)."""
    ranked = [m for m in table_metrics if m.weight]
    subscripts = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    terms = [
        f"{number_text(m.weight, locale)}·x{str(n).translate(subscripts)}" for n, m in enumerate(ranked, 1)
    ]
    return "S = Σ wᵢ·xᵢ = " + (" + ".join(terms) if terms else "0")


def formula_words(table_metrics: list[Metric], locale: str = "ru") -> str:
    ranked = [m for m in table_metrics if m.weight]
    parts = [f"{number_text(m.weight, locale)} × «{metric_label(m, locale)}»" for m in ranked]
    head = translate("stats.formula_words", locale)
    return f"{head} " + (" + ".join(parts) if parts else "0")


def csv_bytes(table: ActivityTable, locale: str = "ru") -> bytes:
    """The table as CSV for Excel: UTF-8 with a BOM, «;» between fields, decimal commas (ru)."""
    head = [translate(k, locale) for k in ("stats.col.name", "stats.col.organisation", "stats.col.role")]
    head += [metric_label(m, locale) for m in table.metrics]
    head += [translate("stats.col.score", locale), translate("stats.col.rank", locale)]
    rows: list[list[str]] = [head]
    for r in sorted(table.rows, key=lambda r: (r.rank == 0, r.rank, r.full_name.casefold(), r.user_id)):
        rows.append(
            [r.full_name, r.organisation, translate(f"stats.role.{r.role.value}", locale)]
            + [number_text(r.values.get(m.key, 0.0), locale) for m in table.metrics]
            + [number_text(r.score, locale), str(r.rank) if r.rank else ""]
        )
    return csv_text(rows).encode("utf-8")


def default_year(requested: str | None) -> int:
    if requested and requested.isdigit() and 2000 <= int(requested) <= 2100:
        return int(requested)
    return current_school_year()
