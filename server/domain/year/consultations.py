"""Network consultations (clause 3.3): members ask questions in threads; methodists and the
experts the methodist names answer; the asker or a methodist marks one answer as the solution.

Decision on who answers: every member of the association may reply in a thread (discussion is
welcome), but only replies by a methodist, a named expert or an administrator are *expert
answers* (marked so, counted as "answered" in the annual analysis and in the activity metric
``consultation_answers``). Any reply may be marked as the solution — the asker decides what
helped. Threads are members-only (and administrators); their search entries carry the
association.

A live consultation is a meeting of the form «консультация» created from a thread by a
methodist (``start_live_consultation``) and linked from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingForm, MeetingStatus, Membership, Role, User
from server.db.models.consultations import ConsultationAnswer, ConsultationExpert, ConsultationQuestion
from server.db.models.notifications import NotificationKind
from server.db.types import utcnow
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.community.notifications import notify
from server.domain.meeting.meetings import MeetingInput, create_meeting
from server.domain.year.activity import activity_metric
from server.errors import Forbidden, NotFound, ValidationFailed
from server.search import index_entry, matching_ids, stem_words

MAX_ID = 2**31 - 1
MAX_TITLE = 300
MAX_BODY = 10_000
LIVE_MINUTES = 60
LOCAL_TZ = ZoneInfo("Europe/Moscow")  # the region's time (Kostroma)


@dataclass(frozen=True, slots=True)
class ConsultationsSummary:
    questions: int  # asked within the period
    answered: int  # of those: with at least one expert answer
    solved: int  # of those: with an answer marked as the solution


@dataclass(slots=True)
class QuestionRow:
    question: ConsultationQuestion
    author: User | None
    answers: int
    expert_answers: int


@dataclass(slots=True)
class ConsultationsPage:
    association: Association
    questions: list[QuestionRow]
    experts: list[User]
    members: list[User]  # candidates for experts (methodists' form)
    can_manage: bool


@dataclass(slots=True)
class AnswerRow:
    answer: ConsultationAnswer
    author: User | None


@dataclass(slots=True)
class ThreadView:
    association: Association
    question: ConsultationQuestion
    author: User | None
    answers: list[AnswerRow]
    meeting: Meeting | None
    can_mark: bool  # the asker, methodists, administrators
    answers_as_expert: bool  # the reader's replies count as expert answers
    can_start_live: bool


# ---------------------------------------------------------------- who is who


async def is_expert(session: AsyncSession, user: User | None, association_id: int) -> bool:
    """Methodists, named experts and administrators give expert answers."""
    if user is None:
        return False
    if user.is_admin or await membership_role(session, user, association_id) == Role.methodist:
        return True
    return bool(
        await session.scalar(
            select(
                exists().where(
                    ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == user.id
                )
            )
        )
    )


async def _is_manager(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def add_expert(session: AsyncSession, user: User | None, association_id: int, expert_id: int) -> None:
    """Name a member an expert (methodists)."""
    await get_association(session, association_id)
    actor = await require_methodist(session, user, association_id)
    target = await session.get(User, expert_id) if 0 < expert_id <= MAX_ID else None
    if target is None or await membership_role(session, target, association_id) is None:
        raise ValidationFailed(details={"fields": {"user_id": "consultations_not_member"}})
    exists_already = await session.scalar(
        select(ConsultationExpert.id).where(
            ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == expert_id
        )
    )
    if exists_already is None:
        session.add(
            ConsultationExpert(association_id=association_id, user_id=expert_id, named_by_id=actor.id)
        )
        await session.flush()


async def remove_expert(
    session: AsyncSession, user: User | None, association_id: int, expert_id: int
) -> None:
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    row = await session.scalar(
        select(ConsultationExpert).where(
            ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == expert_id
        )
    )
    if row is None:
        raise NotFound()
    await session.delete(row)
    await session.flush()


# ---------------------------------------------------------------- threads


def _check_text(title: str | None, body: str) -> None:
    errors: dict[str, str] = {}
    if title is not None:
        if not title.strip():
            errors["title"] = "missing"
        elif len(title) > MAX_TITLE:
            errors["title"] = "string_too_long"
    if not body.strip():
        errors["body"] = "missing"
    elif len(body) > MAX_BODY:
        errors["body"] = "string_too_long"
    if errors:
        raise ValidationFailed(details={"fields": errors})


async def _question(session: AsyncSession, question_id: int) -> ConsultationQuestion:
    q = await session.get(ConsultationQuestion, question_id) if 0 < question_id <= MAX_ID else None
    if q is None:
        raise NotFound()
    return q


async def readable_question(
    session: AsyncSession, user: User | None, question_id: int
) -> ConsultationQuestion:
    """Members of the question's association and administrators; others get 404."""
    user = require_login(user)
    q = await _question(session, question_id)
    if not user.is_admin and await membership_role(session, user, q.association_id) is None:
        raise NotFound()
    return q


async def _reindex(session: AsyncSession, q: ConsultationQuestion) -> None:
    expert_texts = (
        await session.scalars(
            select(ConsultationAnswer.body)
            .where(ConsultationAnswer.question_id == q.id, ConsultationAnswer.is_expert.is_(True))
            .order_by(ConsultationAnswer.id)
        )
    ).all()
    await index_entry(
        session,
        kind="question",
        object_id=q.id,
        association_id=q.association_id,  # members only
        title=q.title,
        body="\n".join([q.body, *expert_texts]),
        url=f"/consultations/{q.id}",
    )


async def ask_question(
    session: AsyncSession, user: User | None, association_id: int, *, title: str, body: str
) -> ConsultationQuestion:
    await get_association(session, association_id)
    await require_member(session, user, association_id)
    assert user is not None
    _check_text(title, body)
    q = ConsultationQuestion(
        association_id=association_id, author_id=user.id, title=title.strip(), body=body.strip()
    )
    session.add(q)
    await session.flush()
    await _reindex(session, q)
    return q


async def answer_question(
    session: AsyncSession, user: User | None, question_id: int, *, body: str
) -> ConsultationAnswer:
    """A reply in the thread (any member); an expert answer when the author is one."""
    q = await readable_question(session, user, question_id)
    assert user is not None
    _check_text(None, body)
    answer = ConsultationAnswer(
        question_id=q.id,
        author_id=user.id,
        body=body.strip(),
        is_expert=await is_expert(session, user, q.association_id),
        is_solution=False,
    )
    session.add(answer)
    await session.flush()
    if answer.is_expert:
        await _reindex(session, q)
    if q.author_id is not None and q.author_id != user.id:
        kind = "Ответ эксперта" if answer.is_expert else "Новый ответ"
        await notify(
            session,
            [q.author_id],
            NotificationKind.question_answered,
            dedupe_key=f"question_answered:{answer.id}",
            title=f"{kind} на ваш вопрос: {q.title}"[:300],
            body=answer.body[:500],
            url=f"/consultations/{q.id}#answer-{answer.id}",
            association_id=q.association_id,
        )
    return answer


async def mark_solution(
    session: AsyncSession, user: User | None, question_id: int, answer_id: int
) -> ConsultationAnswer:
    """The asker or a methodist marks one reply as the solution (replacing an earlier one)."""
    q = await readable_question(session, user, question_id)
    assert user is not None
    if q.author_id != user.id and not await _is_manager(session, user, q.association_id):
        raise Forbidden()
    answer = await session.get(ConsultationAnswer, answer_id) if 0 < answer_id <= MAX_ID else None
    if answer is None or answer.question_id != q.id:
        raise NotFound()
    await session.execute(
        update(ConsultationAnswer)
        .where(ConsultationAnswer.question_id == q.id, ConsultationAnswer.id != answer.id)
        .values(is_solution=False)
    )
    answer.is_solution = True
    q.solved_at = utcnow()
    await session.flush()
    return answer


async def start_live_consultation(session: AsyncSession, user: User | None, question_id: int) -> Meeting:
    """Create (or return the already planned) meeting of the form «консультация» for a thread.

    Prefilled: tomorrow 16:00 Moscow time, one hour; the methodist adjusts it on the meeting's
    edit page."""
    q = await readable_question(session, user, question_id)
    await require_methodist(session, user, q.association_id)
    if q.meeting_id is not None:
        existing = await session.get(Meeting, q.meeting_id)
        if existing is not None and existing.status != MeetingStatus.cancelled:
            return existing
    local = (utcnow().astimezone(LOCAL_TZ) + timedelta(days=1)).replace(
        hour=16, minute=0, second=0, microsecond=0
    )
    data = MeetingInput(
        title=f"Консультация: {q.title}"[:300],
        form=MeetingForm.consultation,
        description=f"Онлайн-консультация по вопросу «{q.title}».\n\n{q.body}"[:5000],
        starts_at=local,
        ends_at=local + timedelta(minutes=LIVE_MINUTES),
    )
    meeting = await create_meeting(session, user, q.association_id, data)
    q.meeting_id = meeting.id
    await session.flush()
    return meeting


# ---------------------------------------------------------------- reading


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
    manager = await _is_manager(session, user, association_id)
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
    manager = await _is_manager(session, user, q.association_id)
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


# ---------------------------------------------------------------- analysis & activity


async def consultations_summary(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> ConsultationsSummary:
    """Questions asked within [start, end): how many, how many got an expert answer, how many solved."""
    in_period = (
        ConsultationQuestion.association_id == association_id,
        ConsultationQuestion.created_at >= start,
        ConsultationQuestion.created_at < end,
    )
    questions = int(await session.scalar(select(func.count(ConsultationQuestion.id)).where(*in_period)) or 0)
    answered = int(
        await session.scalar(
            select(func.count(distinct(ConsultationQuestion.id)))
            .join(ConsultationAnswer, ConsultationAnswer.question_id == ConsultationQuestion.id)
            .where(*in_period, ConsultationAnswer.is_expert.is_(True))
        )
        or 0
    )
    solved = int(
        await session.scalar(
            select(func.count(distinct(ConsultationQuestion.id)))
            .join(ConsultationAnswer, ConsultationAnswer.question_id == ConsultationQuestion.id)
            .where(*in_period, ConsultationAnswer.is_solution.is_(True))
        )
        or 0
    )
    return ConsultationsSummary(questions=questions, answered=answered, solved=solved)


@activity_metric("consultation_answers", label_key="consultations.activity.answers", weight=2, order=65)
async def consultation_answers_metric(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    """Per person: expert answers given in the association's consultations within [start, end)."""
    rows = (
        await session.execute(
            select(ConsultationAnswer.author_id, func.count(ConsultationAnswer.id))
            .join(ConsultationQuestion, ConsultationQuestion.id == ConsultationAnswer.question_id)
            .where(
                ConsultationQuestion.association_id == association_id,
                ConsultationAnswer.is_expert.is_(True),
                ConsultationAnswer.author_id.is_not(None),
                ConsultationAnswer.created_at >= start,
                ConsultationAnswer.created_at < end,
            )
            .group_by(ConsultationAnswer.author_id)
        )
    ).all()
    return {int(uid): float(n) for uid, n in rows if uid is not None}
