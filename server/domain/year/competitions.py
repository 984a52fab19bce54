"""Competitions (конкурсы, clause 3.5): the methodist announces a competition with its dates,
criteria and jury; members submit one entry each (a file with a title and an annotation)
while entries are open; the jury scores every entry by every criterion; the methodist
publishes the results (totals, ranking, winners); participants and winners get certificates.

Phases follow the dates: «объявлен» before ``entries_from``, «приём работ» until
``entries_until`` (exclusive), then «работа жюри» until the methodist publishes the results
(``judging_until`` is the jury's target date, shown on the page), then «итоги».

The total of an entry (the formula shown on the page):
    total = Σ over criteria of (the mean of the jurors' scores for that criterion);
a criterion nobody scored counts 0. Totals are compared exactly (fractions); equal totals
share a place and the next place is skipped (1, 1, 3). Places 1..winners_count are winners.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import Organisation, User
from server.db.models.associations import Association, Membership, Role
from server.db.models.competitions import (
    Competition,
    CompetitionCriterion,
    CompetitionEntry,
    CompetitionJuror,
    CompetitionScore,
)
from server.db.models.files import StoredFile
from server.db.models.notifications import NotificationKind
from server.db.types import utcnow
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.community.notifications import notify
from server.domain.year.activity import activity_metric
from server.errors import AppError, Forbidden, NotFound, ValidationFailed
from server.files import DOCUMENTS, Upload, save_upload
from server.settings import Settings

Phase = Literal["upcoming", "entries", "judging", "results"]
FORMULA_RU = (
    "Итоговый балл = сумма по критериям среднего балла членов жюри по критерию; "
    "равные баллы — одно место, следующее место пропускается (1, 1, 3)."
)


class EntriesClosed(AppError):
    code, status = "competition_entries_closed", 409


class NotJudging(AppError):
    code, status = "competition_not_judging", 409


class AlreadyPublished(AppError):
    code, status = "competition_published", 409


class NotPublished(AppError):
    code, status = "competition_not_published", 409


class NotJuror(AppError):
    code, status = "competition_not_juror", 403


class OwnEntry(AppError):
    code, status = "competition_own_entry", 403


# --- pure ranking -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranked:
    entry_id: int
    total: Fraction
    place: int


def entry_total(criteria_ids: Sequence[int], scores: Sequence[tuple[int, int]]) -> Fraction:
    """Σ over criteria of the mean score for that criterion; ``scores`` are (criterion_id, score)."""
    by_criterion: dict[int, list[int]] = defaultdict(list)
    for cid, score in scores:
        by_criterion[cid].append(score)
    total = Fraction(0)
    for cid in criteria_ids:
        values = by_criterion.get(cid)
        if values:
            total += Fraction(sum(values), len(values))
    return total


def rank(totals: dict[int, Fraction]) -> list[Ranked]:
    """Highest total first; ties share a place, the next place is skipped; ties ordered by id."""
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[Ranked] = []
    for i, (entry_id, total) in enumerate(ordered):
        place = out[-1].place if out and out[-1].total == total else i + 1
        out.append(Ranked(entry_id, total, place))
    return out


def diploma_degree(place: int | None, winners_count: int) -> int | None:
    """I, II or III degree for a winning place; None for a participant's certificate."""
    if place is None or place > min(winners_count, 3):
        return None
    return place


def phase_of(c: Competition, now: datetime | None = None) -> Phase:
    now = now or utcnow()
    if c.results_published_at is not None:
        return "results"
    if now < c.entries_from:
        return "upcoming"
    if now < c.entries_until:
        return "entries"
    return "judging"


# --- loading ----------------------------------------------------------------------------


async def _competition(session: AsyncSession, competition_id: int) -> Competition:
    c = await session.get(Competition, competition_id)
    if c is None:
        raise NotFound()
    return c


async def _entry(session: AsyncSession, entry_id: int) -> tuple[CompetitionEntry, Competition]:
    e = await session.get(CompetitionEntry, entry_id)
    if e is None:
        raise NotFound()
    return e, await _competition(session, e.competition_id)


async def _criteria(session: AsyncSession, competition_id: int) -> list[CompetitionCriterion]:
    return list(
        (
            await session.scalars(
                select(CompetitionCriterion)
                .where(CompetitionCriterion.competition_id == competition_id)
                .order_by(CompetitionCriterion.position)
            )
        ).all()
    )


async def _juror_ids(session: AsyncSession, competition_id: int) -> set[int]:
    return set(
        (
            await session.scalars(
                select(CompetitionJuror.user_id).where(CompetitionJuror.competition_id == competition_id)
            )
        ).all()
    )


async def _is_organiser(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def _member_ids(session: AsyncSession, association_id: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Membership.user_id).where(Membership.association_id == association_id)
            )
        ).all()
    )


# --- the call ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionInput:
    name: str
    max_score: int


@dataclass(frozen=True, slots=True)
class CompetitionInput:
    title: str
    description: str
    entries_from: datetime
    entries_until: datetime
    judging_until: datetime
    winners_count: int
    criteria: list[CriterionInput]
    jury: list[int]


async def list_competitions(
    session: AsyncSession, user: User | None, association_id: int
) -> tuple[Association, bool, list[Competition]]:
    association = await session.get(Association, association_id)
    if association is None:
        raise NotFound()
    await require_member(session, user, association_id)
    rows = (
        await session.scalars(
            select(Competition)
            .where(Competition.association_id == association_id)
            .order_by(Competition.entries_from.desc(), Competition.id.desc())
        )
    ).all()
    return association, await _is_organiser(session, user, association_id), list(rows)


async def jury_candidates(session: AsyncSession, user: User | None, association_id: int) -> list[User]:
    """The association's members, for the jury's choice (methodists only)."""
    await require_methodist(session, user, association_id)
    return list(
        (
            await session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.association_id == association_id)
                .order_by(User.last_name, User.first_name, User.id)
            )
        ).all()
    )


async def create_competition(
    session: AsyncSession, user: User | None, association_id: int, data: CompetitionInput
) -> Competition:
    actor = await require_methodist(session, user, association_id)
    if await session.get(Association, association_id) is None:
        raise NotFound()
    members = set(await _member_ids(session, association_id))
    if not data.jury or not set(data.jury) <= members:
        raise ValidationFailed(details={"fields": {"jury": "jury_members"}})
    c = Competition(
        association_id=association_id,
        title=data.title,
        description=data.description,
        entries_from=data.entries_from,
        entries_until=data.entries_until,
        judging_until=data.judging_until,
        winners_count=data.winners_count,
        created_by_id=actor.id,
    )
    session.add(c)
    await session.flush()
    for i, crit in enumerate(data.criteria, start=1):
        session.add(
            CompetitionCriterion(competition_id=c.id, position=i, name=crit.name, max_score=crit.max_score)
        )
    for uid in sorted(set(data.jury)):
        session.add(CompetitionJuror(competition_id=c.id, user_id=uid))
    await session.flush()
    await notify(
        session,
        members,
        NotificationKind.competition,
        dedupe_key=f"competition:{c.id}:announced",
        title=f"Объявлен конкурс «{c.title}»"[:300],
        url=f"/competitions/{c.id}",
        association_id=association_id,
    )
    return c


# --- the page ---------------------------------------------------------------------------


@dataclass(slots=True)
class EntryRow:
    entry: CompetitionEntry
    author: User
    file: StoredFile
    total: Fraction | None = None  # shown to the organiser before publishing, to all after
    my_scores: dict[int, int] = field(default_factory=dict)  # the viewing juror's scores
    scored_by: int = 0  # how many jurors scored it completely
    degree: int | None = None


@dataclass(slots=True)
class CompetitionPage:
    competition: Competition
    association: Association
    criteria: list[CompetitionCriterion]
    jurors: list[User]
    phase: Phase
    is_organiser: bool
    is_juror: bool
    my_entry: EntryRow | None
    entries: list[EntryRow]  # what this viewer may see (see competition_page)
    formula: str = FORMULA_RU

    @property
    def max_total(self) -> int:
        return sum(c.max_score for c in self.criteria)


async def competition_page(session: AsyncSession, user: User | None, competition_id: int) -> CompetitionPage:
    """Members see the call, their own entry and (after publishing) the results; jurors see every
    entry with their own scores; the organiser (methodist, admin) sees everything."""
    c = await _competition(session, competition_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    association = await session.get(Association, c.association_id)
    assert association is not None
    criteria = await _criteria(session, c.id)
    juror_ids = await _juror_ids(session, c.id)
    jurors = list(
        (await session.scalars(select(User).where(User.id.in_(juror_ids)).order_by(User.last_name))).all()
    )
    organiser = await _is_organiser(session, user, c.association_id)
    is_juror = user.id in juror_ids
    phase = phase_of(c)
    rows = (
        await session.execute(
            select(CompetitionEntry, User, StoredFile)
            .join(User, User.id == CompetitionEntry.user_id)
            .join(StoredFile, StoredFile.id == CompetitionEntry.file_id)
            .where(CompetitionEntry.competition_id == c.id)
            .order_by(CompetitionEntry.id)
        )
    ).all()
    entries = [EntryRow(e, u, f) for e, u, f in rows]
    scores = (
        await session.execute(
            select(
                CompetitionScore.entry_id,
                CompetitionScore.juror_id,
                CompetitionScore.criterion_id,
                CompetitionScore.score,
            )
            .join(CompetitionEntry, CompetitionEntry.id == CompetitionScore.entry_id)
            .where(CompetitionEntry.competition_id == c.id)
        )
    ).all()
    per_entry: dict[int, list[tuple[int, int]]] = defaultdict(list)
    per_juror: dict[tuple[int, int], int] = defaultdict(int)
    for entry_id, juror_id, cid, score in scores:
        per_entry[entry_id].append((cid, score))
        per_juror[(entry_id, juror_id)] += 1
        if juror_id == user.id:
            for row in entries:
                if row.entry.id == entry_id:
                    row.my_scores[cid] = score
    crit_ids = [cr.id for cr in criteria]
    for row in entries:
        row.scored_by = sum(
            1 for (eid, _), n in per_juror.items() if eid == row.entry.id and n >= len(crit_ids)
        )
        if phase == "results" and row.entry.total is not None:
            row.total = Fraction(row.entry.total).limit_denominator(10_000)
            row.degree = diploma_degree(row.entry.place, c.winners_count)
        elif organiser:
            row.total = entry_total(crit_ids, per_entry.get(row.entry.id, []))
    mine = next((r for r in entries if r.entry.user_id == user.id), None)
    if phase == "results":
        entries.sort(key=lambda r: (r.entry.place or 10**6, r.entry.id))
        visible = entries
    elif organiser:
        visible = entries
    elif is_juror and phase == "judging":
        visible = entries
    else:
        visible = []
    if mine is not None and phase != "results" and not organiser:
        mine.total = None  # scores stay hidden from participants until the results
    return CompetitionPage(c, association, criteria, jurors, phase, organiser, is_juror, mine, visible)


# --- entries ----------------------------------------------------------------------------


async def submit_entry(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    competition_id: int,
    *,
    title: str,
    annotation: str,
    upload: Upload | None,
) -> CompetitionEntry:
    """Create the member's entry or change it (the file may be replaced) while entries are open."""
    c = await _competition(session, competition_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    if phase_of(c) != "entries":
        raise EntriesClosed()
    entry = await session.scalar(
        select(CompetitionEntry).where(
            CompetitionEntry.competition_id == c.id, CompetitionEntry.user_id == user.id
        )
    )
    if entry is None and upload is None:
        raise ValidationFailed(details={"fields": {"file": "missing"}})
    stored = await save_upload(session, settings, upload, allowed=DOCUMENTS, user=user) if upload else None
    now = utcnow()
    if entry is None:
        assert stored is not None
        entry = CompetitionEntry(
            competition_id=c.id, user_id=user.id, title=title, annotation=annotation, file_id=stored.id,
            submitted_at=now, updated_at=now,
        )  # fmt: skip
        session.add(entry)
    else:
        entry.title, entry.annotation, entry.updated_at = title, annotation, now
        if stored is not None:
            entry.file_id = stored.id
    await session.flush()
    return entry


async def entry_file(session: AsyncSession, user: User | None, entry_id: int) -> StoredFile:
    """The entry's file: its author, the jury and the organiser; every member once published."""
    entry, c = await _entry(session, entry_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    allowed = (
        entry.user_id == user.id
        or c.results_published_at is not None
        or await _is_organiser(session, user, c.association_id)
        or user.id in await _juror_ids(session, c.id)
    )
    if not allowed:
        raise Forbidden()
    stored = await session.get(StoredFile, entry.file_id)
    if stored is None:
        raise NotFound()
    return stored


# --- the jury ---------------------------------------------------------------------------


async def score_entry(
    session: AsyncSession, user: User | None, competition_id: int, entry_id: int, raw: dict[str, str]
) -> None:
    """A juror's scores for one entry, one per criterion (``raw``: "c<criterion id>" -> text).

    Only jurors (403), never for their own entry (403), only after entries close and before
    the results (409); every criterion 0..max (422, nothing saved)."""
    user = require_login(user)
    entry, c = await _entry(session, entry_id)
    if c.id != competition_id:
        raise NotFound()
    await require_member(session, user, c.association_id)
    if user.id not in await _juror_ids(session, c.id):
        raise NotJuror()
    if entry.user_id == user.id:
        raise OwnEntry()
    if phase_of(c) != "judging":
        raise NotJudging()
    criteria = await _criteria(session, c.id)
    values: dict[int, int] = {}
    errors: dict[str, str] = {}
    for crit in criteria:
        key = f"c{crit.id}"
        text = (raw.get(key) or "").strip()
        if not text:
            errors[key] = "missing"
            continue
        try:
            value = int(text)
        except ValueError:
            errors[key] = "int_parsing"
            continue
        if not 0 <= value <= crit.max_score:
            errors[key] = "out_of_range"
            continue
        values[crit.id] = value
    if errors:
        raise ValidationFailed(details={"fields": errors, "entry": entry.id})
    existing = {
        s.criterion_id: s
        for s in (
            await session.scalars(
                select(CompetitionScore).where(
                    CompetitionScore.entry_id == entry.id, CompetitionScore.juror_id == user.id
                )
            )
        ).all()
    }
    now = utcnow()
    for cid, value in values.items():
        if cid in existing:
            existing[cid].score, existing[cid].scored_at = value, now
        else:
            session.add(
                CompetitionScore(
                    entry_id=entry.id, criterion_id=cid, juror_id=user.id, score=value, scored_at=now
                )
            )
    await session.flush()


async def publish_results(session: AsyncSession, user: User | None, competition_id: int) -> list[Ranked]:
    """Rank the entries, number the certificates, notify the members. Once only."""
    c = await _competition(session, competition_id)
    actor = await require_methodist(session, user, c.association_id)
    if c.results_published_at is not None:
        raise AlreadyPublished()
    if phase_of(c) != "judging":
        raise NotJudging()
    crit_ids = [cr.id for cr in await _criteria(session, c.id)]
    entries = list(
        (await session.scalars(select(CompetitionEntry).where(CompetitionEntry.competition_id == c.id))).all()
    )
    scores: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry_id, cid, score in (
        await session.execute(
            select(CompetitionScore.entry_id, CompetitionScore.criterion_id, CompetitionScore.score).where(
                CompetitionScore.entry_id.in_([e.id for e in entries])
            )
        )
    ).all():
        scores[entry_id].append((cid, score))
    ranking = rank({e.id: entry_total(crit_ids, scores.get(e.id, [])) for e in entries})
    by_id = {e.id: e for e in entries}
    for n, r in enumerate(ranking, start=1):
        e = by_id[r.entry_id]
        e.total = float(r.total)
        e.place = r.place
        e.certificate_number = f"{c.association_id}-{c.id}-{n:03d}"
    c.results_published_at = utcnow()
    c.published_by_id = actor.id
    await session.flush()
    await notify(
        session,
        await _member_ids(session, c.association_id),
        NotificationKind.competition,
        dedupe_key=f"competition:{c.id}:results",
        title=f"Подведены итоги конкурса «{c.title}»"[:300],
        url=f"/competitions/{c.id}",
        association_id=c.association_id,
    )
    return ranking


# --- certificates -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateData:
    number: str
    full_name: str
    school: str
    competition_title: str
    association_name: str
    founder_name: str
    place: int
    degree: int | None  # I/II/III for winners, None for a participant's certificate
    issued: datetime
    methodist_name: str  # «И.О. Фамилия»


async def certificate_data(session: AsyncSession, user: User | None, entry_id: int) -> CertificateData:
    """The person's own certificate, or any of the competition's for its organiser."""
    user = require_login(user)
    entry, c = await _entry(session, entry_id)
    if entry.user_id != user.id and not await _is_organiser(session, user, c.association_id):
        raise Forbidden()
    if c.results_published_at is None or entry.place is None or entry.certificate_number is None:
        raise NotPublished()
    person = await session.get(User, entry.user_id)
    association = await session.get(Association, c.association_id)
    assert person is not None and association is not None
    school = ""
    if person.organisation_id is not None:
        school = (
            await session.scalar(select(Organisation.name).where(Organisation.id == person.organisation_id))
            or ""
        )
    methodist = await session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == c.association_id, Membership.role == Role.methodist)
        .order_by(Membership.id)
        .limit(1)
    )
    if methodist is None and c.published_by_id is not None:
        methodist = await session.get(User, c.published_by_id)
    return CertificateData(
        number=entry.certificate_number,
        full_name=person.full_name,
        school=school,
        competition_title=c.title,
        association_name=association.name,
        founder_name=association.founder_name,
        place=entry.place,
        degree=diploma_degree(entry.place, c.winners_count),
        issued=c.results_published_at,
        methodist_name=methodist.short_name if methodist else "",
    )


# --- for the annual analysis and the activity statistics --------------------------------


@dataclass(frozen=True, slots=True)
class CompetitionResult:
    competition_id: int
    title: str
    entries: int
    winners: list[tuple[str, int]]  # (full name, place), best first; empty until published
    published: bool


async def competition_results(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> list[CompetitionResult]:
    """The association's competitions whose entries closed within [start, end), oldest first."""
    comps = (
        await session.scalars(
            select(Competition)
            .where(
                Competition.association_id == association_id,
                Competition.entries_until >= start,
                Competition.entries_until < end,
            )
            .order_by(Competition.entries_until, Competition.id)
        )
    ).all()
    out: list[CompetitionResult] = []
    for c in comps:
        count = await session.scalar(
            select(func.count(CompetitionEntry.id)).where(CompetitionEntry.competition_id == c.id)
        )
        winners: list[tuple[str, int]] = []
        if c.results_published_at is not None:
            rows = (
                await session.execute(
                    select(User, CompetitionEntry.place)
                    .join(CompetitionEntry, CompetitionEntry.user_id == User.id)
                    .where(
                        CompetitionEntry.competition_id == c.id,
                        CompetitionEntry.place.is_not(None),
                        CompetitionEntry.place <= c.winners_count,
                    )
                    .order_by(CompetitionEntry.place, User.last_name, User.first_name)
                )
            ).all()
            winners = [(u.full_name, int(place or 0)) for u, place in rows]
        out.append(
            CompetitionResult(c.id, c.title, int(count or 0), winners, c.results_published_at is not None)
        )
    return out


@activity_metric("competition_entries", label_key="competitions.metric.entries", weight=2, order=70)
async def _entries_metric(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    """Entries submitted within the period."""
    rows = (
        await session.execute(
            select(CompetitionEntry.user_id, func.count(CompetitionEntry.id))
            .join(Competition, Competition.id == CompetitionEntry.competition_id)
            .where(
                Competition.association_id == association_id,
                CompetitionEntry.submitted_at >= start,
                CompetitionEntry.submitted_at < end,
            )
            .group_by(CompetitionEntry.user_id)
        )
    ).all()
    return {int(uid): float(n) for uid, n in rows}


@activity_metric("competition_places", label_key="competitions.metric.places", weight=1, order=71)
async def _places_metric(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    """Prize places in competitions whose results were published within the period, in points:
    I place — 3, II — 2, III — 1."""
    rows = (
        await session.execute(
            select(CompetitionEntry.user_id, CompetitionEntry.place, Competition.winners_count)
            .join(Competition, Competition.id == CompetitionEntry.competition_id)
            .where(
                Competition.association_id == association_id,
                Competition.results_published_at >= start,
                Competition.results_published_at < end,
                CompetitionEntry.place.is_not(None),
            )
        )
    ).all()
    out: dict[int, float] = {}
    for uid, place, winners_count in rows:
        degree = diploma_degree(place, winners_count)
        if degree is not None:
            out[int(uid)] = out.get(int(uid), 0.0) + float(4 - degree)
    return out
