"""Consultation threads: asking, answering, marking the solution, a live consultation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, MeetingForm, MeetingStatus, User
from server.db.models.consultations import ConsultationAnswer, ConsultationQuestion
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
from server.domain.year.consultations.experts import is_expert, is_manager
from server.domain.year.consultations.rules import LIVE_MINUTES, LOCAL_TZ, MAX_BODY, MAX_ID, MAX_TITLE
from server.errors import Forbidden, NotFound, ValidationFailed
from server.search import index_entry


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
    if q.author_id != user.id and not await is_manager(session, user, q.association_id):
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
