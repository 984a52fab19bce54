"""The call: the methodist announces a competition with its dates, criteria and jury."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import User
from server.db.models.associations import Association, Membership
from server.db.models.competitions import Competition, CompetitionCriterion, CompetitionJuror
from server.db.models.notifications import NotificationKind
from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.community.notifications import notify
from server.domain.year.competitions.reading import is_organiser, load_member_ids
from server.errors import NotFound, ValidationFailed


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
    return association, await is_organiser(session, user, association_id), list(rows)


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
    members = set(await load_member_ids(session, association_id))
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
