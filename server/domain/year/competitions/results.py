"""After the results: certificate data, results for the annual analysis, activity metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import Organisation, User
from server.db.models.associations import Association, Membership, Role
from server.db.models.competitions import Competition, CompetitionEntry
from server.domain.accounts.permissions import require_login
from server.domain.year.activity import activity_metric
from server.domain.year.competitions.reading import is_organiser, load_entry
from server.domain.year.competitions.rules import NotPublished, diploma_degree
from server.errors import Forbidden


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
    entry, c = await load_entry(session, entry_id)
    if entry.user_id != user.id and not await is_organiser(session, user, c.association_id):
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
