"""Competitions read: loading with rights, the list's rows, the competition page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import User
from server.db.models.associations import Association, Membership, Role
from server.db.models.competitions import (
    Competition,
    CompetitionCriterion,
    CompetitionEntry,
    CompetitionJuror,
    CompetitionScore,
)
from server.db.models.files import StoredFile
from server.domain.accounts.permissions import membership_role, require_member
from server.domain.year.competitions.rules import FORMULA_RU, Phase, diploma_degree, entry_total, phase_of
from server.errors import NotFound


async def load_competition(session: AsyncSession, competition_id: int) -> Competition:
    c = await session.get(Competition, competition_id)
    if c is None:
        raise NotFound()
    return c


async def load_entry(session: AsyncSession, entry_id: int) -> tuple[CompetitionEntry, Competition]:
    e = await session.get(CompetitionEntry, entry_id)
    if e is None:
        raise NotFound()
    return e, await load_competition(session, e.competition_id)


async def load_criteria(session: AsyncSession, competition_id: int) -> list[CompetitionCriterion]:
    return list(
        (
            await session.scalars(
                select(CompetitionCriterion)
                .where(CompetitionCriterion.competition_id == competition_id)
                .order_by(CompetitionCriterion.position)
            )
        ).all()
    )


async def load_juror_ids(session: AsyncSession, competition_id: int) -> set[int]:
    return set(
        (
            await session.scalars(
                select(CompetitionJuror.user_id).where(CompetitionJuror.competition_id == competition_id)
            )
        ).all()
    )


async def is_organiser(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def load_member_ids(session: AsyncSession, association_id: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Membership.user_id).where(Membership.association_id == association_id)
            )
        ).all()
    )


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
    c = await load_competition(session, competition_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    association = await session.get(Association, c.association_id)
    assert association is not None
    criteria = await load_criteria(session, c.id)
    juror_ids = await load_juror_ids(session, c.id)
    jurors = list(
        (await session.scalars(select(User).where(User.id.in_(juror_ids)).order_by(User.last_name))).all()
    )
    organiser = await is_organiser(session, user, c.association_id)
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
