"""Consultations read: the association's threads with search, one thread."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, Membership, Role, User
from server.db.models.consultations import ConsultationAnswer, ConsultationExpert, ConsultationQuestion
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_member
from server.domain.year.consultations.experts import is_expert, is_manager
from server.domain.year.consultations.rules import AnswerRow, ConsultationsPage, QuestionRow, ThreadView
from server.domain.year.consultations.threads import readable_question
from server.search import matching_ids, stem_words


async def _users(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(ids)))).all()}


async def consultations_page(
    session: AsyncSession, user: User | None, association_id: int, q: str = ""
) -> ConsultationsPage:
    association = await get_association(session, association_id)
    await require_member(session, user, association_id)
    stmt = select(ConsultationQuestion).where(ConsultationQuestion.association_id == association_id)
    if q and stem_words(q):
        m = matching_ids(session, "question", q).subquery()
        stmt = stmt.join(m, m.c.object_id == ConsultationQuestion.id).order_by(
            m.c.rank.desc(), ConsultationQuestion.id.desc()
        )
    else:
        stmt = stmt.order_by(ConsultationQuestion.created_at.desc(), ConsultationQuestion.id.desc())
    questions = (await session.scalars(stmt.limit(200))).all()
    counts: dict[int, tuple[int, int]] = {}
    if questions:
        for qid, total, expert in (
            await session.execute(
                select(
                    ConsultationAnswer.question_id,
                    func.count(ConsultationAnswer.id),
                    func.count(ConsultationAnswer.id).filter(ConsultationAnswer.is_expert.is_(True)),
                )
                .where(ConsultationAnswer.question_id.in_([x.id for x in questions]))
                .group_by(ConsultationAnswer.question_id)
            )
        ).all():
            counts[qid] = (int(total), int(expert))
    authors = await _users(session, {x.author_id for x in questions if x.author_id is not None})
    experts = list(
        (
            await session.scalars(
                select(User)
                .join(ConsultationExpert, ConsultationExpert.user_id == User.id)
                .where(ConsultationExpert.association_id == association_id)
                .order_by(User.last_name, User.first_name, User.id)
            )
        ).all()
    )
    manager = await is_manager(session, user, association_id)
    members: list[User] = []
    if manager:
        members = list(
            (
                await session.scalars(
                    select(User)
                    .join(Membership, Membership.user_id == User.id)
                    .where(Membership.association_id == association_id, Membership.role != Role.methodist)
                    .order_by(User.last_name, User.first_name, User.id)
                )
            ).all()
        )
    return ConsultationsPage(
        association=association,
        questions=[
            QuestionRow(
                question=x,
                author=authors.get(x.author_id) if x.author_id is not None else None,
                answers=counts.get(x.id, (0, 0))[0],
                expert_answers=counts.get(x.id, (0, 0))[1],
            )
            for x in questions
        ],
        experts=experts,
        members=members,
        can_manage=manager,
    )


async def thread_view(session: AsyncSession, user: User | None, question_id: int) -> ThreadView:
    q = await readable_question(session, user, question_id)
    assert user is not None
    association = await get_association(session, q.association_id)
    answers = (
        await session.scalars(
            select(ConsultationAnswer)
            .where(ConsultationAnswer.question_id == q.id)
            .order_by(ConsultationAnswer.created_at, ConsultationAnswer.id)
        )
    ).all()
    people = await _users(
        session,
        {a.author_id for a in answers if a.author_id is not None} | ({q.author_id} if q.author_id else set()),
    )
    manager = await is_manager(session, user, q.association_id)
    meeting = await session.get(Meeting, q.meeting_id) if q.meeting_id is not None else None
    return ThreadView(
        association=association,
        question=q,
        author=people.get(q.author_id) if q.author_id is not None else None,
        answers=[AnswerRow(a, people.get(a.author_id) if a.author_id is not None else None) for a in answers],
        meeting=meeting,
        can_mark=manager or q.author_id == user.id,
        answers_as_expert=await is_expert(session, user, q.association_id),
        can_start_live=manager,
    )
