"""Topic proposals (clauses 1.3, 6.1): members propose topics for future meetings with a short
rationale and support each other's proposals (one support per person, a unique constraint);
the methodist accepts a proposal into the work plan (it becomes a plan row, once) or declines
it with a reason. The proposer is notified of the decision, the methodists of new proposals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Membership, PlanRowSource, Role, User
from server.db.models.notifications import NotificationKind
from server.db.models.topics import TopicProposal, TopicStatus, TopicSupport
from server.db.types import utcnow
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.community.notifications import notify
from server.domain.year.plans import add_plan_row, current_school_year, school_year_label
from server.errors import Conflict, NotFound, ValidationFailed


class TopicDecided(Conflict):
    """The proposal was already accepted or declined."""

    code = "topic_decided"


@dataclass
class TopicRow:
    proposal: TopicProposal
    author: str
    supports: int
    supported_by_me: bool


@dataclass
class TopicBoard:
    association: Association
    rows: list[TopicRow]
    is_methodist: bool
    years: list[int]  # the school years a proposal may be accepted into (current, next)


def plan_years() -> list[int]:
    year = current_school_year()
    return [year, year + 1]


async def _proposal(session: AsyncSession, proposal_id: int, *, lock: bool = False) -> TopicProposal:
    if not 0 < proposal_id < 2**31:
        raise NotFound()
    query = select(TopicProposal).where(TopicProposal.id == proposal_id)
    if lock and session.bind is not None and session.bind.dialect.name != "sqlite":
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound()
    return row


async def topic_board(session: AsyncSession, user: User | None, association_id: int) -> TopicBoard:
    """Open proposals by support (most first), then the decided ones (newest decision first)."""
    association = await get_association(session, association_id)
    role = await require_member(session, user, association_id)
    assert user is not None
    counts = (
        select(TopicSupport.proposal_id, func.count(TopicSupport.id).label("n"))
        .group_by(TopicSupport.proposal_id)
        .subquery()
    )
    rows = await session.execute(
        select(TopicProposal, func.coalesce(counts.c.n, 0), User)
        .outerjoin(counts, counts.c.proposal_id == TopicProposal.id)
        .outerjoin(User, User.id == TopicProposal.author_id)
        .where(TopicProposal.association_id == association_id)
    )
    mine = set(
        await session.scalars(
            select(TopicSupport.proposal_id)
            .join(TopicProposal, TopicProposal.id == TopicSupport.proposal_id)
            .where(TopicProposal.association_id == association_id, TopicSupport.user_id == user.id)
        )
    )
    board = [TopicRow(p, u.short_name if u else "", int(n), p.id in mine) for p, n, u in rows]
    order = {TopicStatus.open: 0, TopicStatus.accepted: 1, TopicStatus.declined: 2}

    def key(r: TopicRow) -> tuple[int, float, float, int]:
        p = r.proposal
        if p.status == TopicStatus.open:
            return (0, -r.supports, p.created_at.timestamp(), p.id)
        return (order[p.status], -(p.decided_at or p.created_at).timestamp(), 0.0, p.id)

    board.sort(key=key)
    return TopicBoard(association, board, user.is_admin or role == Role.methodist, plan_years())


async def propose_topic(
    session: AsyncSession, user: User | None, association_id: int, *, title: str, rationale: str
) -> TopicProposal:
    association = await get_association(session, association_id)
    await require_member(session, user, association_id)
    assert user is not None
    row = TopicProposal(association_id=association_id, author_id=user.id, title=title, rationale=rationale)
    session.add(row)
    await session.flush()
    methodists = await session.scalars(
        select(Membership.user_id).where(
            Membership.association_id == association_id,
            Membership.role == Role.methodist,
            Membership.user_id != user.id,
        )
    )
    await notify(
        session,
        list(methodists),
        NotificationKind.topic_proposal,
        dedupe_key=f"topic:{row.id}:proposed",
        title=f"{association.name}: предложена тема «{title[:200]}»",
        body=f"Предложил(а): {user.short_name}.\n{rationale[:1000]}",
        url=f"/associations/{association_id}/topics#topic-{row.id}",
        association_id=association_id,
    )
    return row


async def set_support(
    session: AsyncSession, user: User | None, proposal_id: int, *, on: bool
) -> TopicProposal:
    """Support (or withdraw the support of) an open proposal; idempotent. The unique
    constraint plus ``ON CONFLICT DO NOTHING`` keep one row per person under concurrency."""
    row = await _proposal(session, proposal_id)
    await require_member(session, user, row.association_id)
    assert user is not None
    if row.status != TopicStatus.open:
        raise TopicDecided()
    if on:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        ins = pg_insert(TopicSupport) if dialect == "postgresql" else sqlite_insert(TopicSupport)
        await session.execute(
            ins.values(proposal_id=row.id, user_id=user.id, created_at=utcnow()).on_conflict_do_nothing(
                index_elements=["proposal_id", "user_id"]
            )
        )
    else:
        await session.execute(
            delete(TopicSupport).where(TopicSupport.proposal_id == row.id, TopicSupport.user_id == user.id)
        )
    return row


async def support_count(session: AsyncSession, proposal_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(TopicSupport.id)).where(TopicSupport.proposal_id == proposal_id)
        )
        or 0
    )


async def accept_topic(
    session: AsyncSession, user: User | None, proposal_id: int, *, school_year: int
) -> TopicProposal:
    """Put the proposal into the plan of ``school_year`` (the current or the next one): one
    plan row, once — the proposal's row is locked and its status checked first."""
    row = await _proposal(session, proposal_id, lock=True)
    methodist = await require_methodist(session, user, row.association_id)
    if school_year not in plan_years():
        raise ValidationFailed(details={"fields": {"school_year": "invalid"}})
    if row.status != TopicStatus.open:
        raise TopicDecided()
    supports = await support_count(session, row.id)
    author = await session.get(User, row.author_id) if row.author_id else None
    note = "Предложение участника" + (f" {author.short_name}" if author else "")
    note += f"; поддержали: {supports}."
    plan_row = await add_plan_row(
        session,
        row.association_id,
        school_year,
        topic=row.title,
        questions=row.rationale,
        source=PlanRowSource.topic,
        note=note,
    )
    row.status, row.plan_row_id, row.school_year = TopicStatus.accepted, plan_row.id, school_year
    row.decided_by_id, row.decided_at = methodist.id, utcnow()
    await session.flush()
    await _tell_author(
        session,
        row,
        f"Ваша тема «{row.title[:200]}» включена в план на {school_year_label(school_year)} учебный год",
    )
    return row


async def _tell_author(session: AsyncSession, row: TopicProposal, title: str, body: str = "") -> None:
    """The proposer learns the methodist's decision (once per proposal)."""
    if row.author_id:
        await notify(
            session,
            [row.author_id],
            NotificationKind.topic_proposal,
            dedupe_key=f"topic:{row.id}:decided",
            title=title,
            body=body,
            url=f"/associations/{row.association_id}/topics#topic-{row.id}",
            association_id=row.association_id,
        )


async def decline_topic(
    session: AsyncSession, user: User | None, proposal_id: int, *, reason: str
) -> TopicProposal:
    row = await _proposal(session, proposal_id, lock=True)
    methodist = await require_methodist(session, user, row.association_id)
    if row.status != TopicStatus.open:
        raise TopicDecided()
    row.status, row.decline_reason = TopicStatus.declined, reason
    row.decided_by_id, row.decided_at = methodist.id, utcnow()
    await session.flush()
    await _tell_author(session, row, f"Ваша тема «{row.title[:200]}» отклонена", body=f"Причина: {reason}")
    return row


async def proposal_association(session: AsyncSession, proposal_id: int) -> int:
    return (await _proposal(session, proposal_id)).association_id
