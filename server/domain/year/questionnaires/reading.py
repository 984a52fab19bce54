"""Questionnaires read: lookups, who may see and manage one, the association's list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingStatus, Membership, Role, User
from server.db.models.questionnaires import (
    Question,
    Questionnaire,
    QuestionnaireParticipant,
    QuestionnaireResponse,
    QuestionnaireStatus,
)
from server.db.types import utcnow
from server.domain.accounts.associations import MAX_ID, get_association
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.protocol import russian as ru
from server.domain.protocol.workflow import school_year_of
from server.domain.year import anonymous
from server.domain.year.questionnaires.inputs import q_error
from server.errors import NotFound


async def _get(session: AsyncSession, questionnaire_id: int) -> Questionnaire:
    q = await session.get(Questionnaire, questionnaire_id) if 0 < questionnaire_id <= MAX_ID else None
    if q is None:
        raise NotFound()
    return q


async def questions_of(session: AsyncSession, questionnaire_id: int) -> list[Question]:
    return list(
        (
            await session.scalars(
                select(Question)
                .where(Question.questionnaire_id == questionnaire_id)
                .order_by(Question.position)
            )
        ).all()
    )


async def is_methodist(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def managed(session: AsyncSession, user: User | None, questionnaire_id: int) -> Questionnaire:
    """The questionnaire, for a methodist of its association or an administrator."""
    require_login(user)
    q = await _get(session, questionnaire_id)
    await require_methodist(session, user, q.association_id)
    return q


async def editable(session: AsyncSession, user: User | None, questionnaire_id: int) -> Questionnaire:
    q = await managed(session, user, questionnaire_id)
    if q.status != QuestionnaireStatus.draft:
        raise q_error("not_draft")
    return q


async def visible(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> tuple[Questionnaire, bool]:
    """(questionnaire, can_manage) for members; a draft is a 404 for everyone but managers."""
    require_login(user)
    q = await _get(session, questionnaire_id)
    await require_member(session, user, q.association_id)
    manage = await is_methodist(session, user, q.association_id)
    if q.status == QuestionnaireStatus.draft and not manage:
        raise NotFound()
    return q, manage


def accepting(q: Questionnaire, now: datetime | None = None) -> bool:
    """Open and inside its dates."""
    now = now or utcnow()
    if q.status != QuestionnaireStatus.open:
        return False
    if q.opens_at is not None and now < q.opens_at:
        return False
    return not (q.closes_at is not None and now >= q.closes_at)


async def has_answered(session: AsyncSession, user: User | None, questionnaire_id: int) -> bool:
    if user is None:
        return False
    return (
        await session.scalar(
            select(QuestionnaireParticipant.user_id).where(
                QuestionnaireParticipant.questionnaire_id == questionnaire_id,
                QuestionnaireParticipant.user_id == user.id,
            )
        )
    ) is not None


async def response_count(session: AsyncSession, questionnaire_id: int) -> int:
    """Responses so far: the opened ones and those still sealed."""
    opened = (
        await session.scalar(
            select(func.count(QuestionnaireResponse.id)).where(
                QuestionnaireResponse.questionnaire_id == questionnaire_id
            )
        )
        or 0
    )
    return opened + await anonymous.sealed_count(session, [questionnaire_id])


async def member_count(session: AsyncSession, association_id: int) -> int:
    return (
        await session.scalar(
            select(func.count(Membership.id)).where(Membership.association_id == association_id)
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class ListRow:
    q: Questionnaire
    responses: int
    answered: bool
    accepting: bool


@dataclass(frozen=True, slots=True)
class ListPage:
    association: Association
    rows: list[ListRow]
    can_manage: bool
    meetings: list[Meeting]  # upcoming meetings (for attaching a pre-meeting questionnaire)


async def list_page(session: AsyncSession, user: User | None, association_id: int) -> ListPage:
    require_login(user)
    association = await get_association(session, association_id)
    await require_member(session, user, association_id)
    manage = await is_methodist(session, user, association_id)
    query = select(Questionnaire).where(Questionnaire.association_id == association_id)
    if not manage:
        query = query.where(Questionnaire.status != QuestionnaireStatus.draft)
    qs = (
        await session.scalars(query.order_by(Questionnaire.created_at.desc(), Questionnaire.id.desc()))
    ).all()
    rows = [
        ListRow(q, await response_count(session, q.id), await has_answered(session, user, q.id), accepting(q))
        for q in qs
    ]
    return ListPage(
        association, rows, manage, await upcoming_meetings(session, association_id) if manage else []
    )


async def upcoming_meetings(session: AsyncSession, association_id: int) -> list[Meeting]:
    return list(
        (
            await session.scalars(
                select(Meeting)
                .where(
                    Meeting.association_id == association_id,
                    Meeting.status.in_((MeetingStatus.scheduled, MeetingStatus.live)),
                )
                .order_by(Meeting.starts_at)
                .limit(50)
            )
        ).all()
    )


def school_year_at(moment: datetime | None) -> int:
    """The school year (its first calendar year) of a moment, in Moscow time; now by default."""
    return school_year_of(ru.moscow(moment or utcnow()).date())
