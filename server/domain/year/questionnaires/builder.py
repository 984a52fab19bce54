"""Building a questionnaire: settings, questions and their order, publishing and closing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, Membership, User
from server.db.models.notifications import NotificationKind
from server.db.models.questionnaires import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnairePurpose,
    QuestionnaireStatus,
    QuestionnaireTemplate,
)
from server.db.types import utcnow
from server.domain.accounts.associations import MAX_ID, get_association
from server.domain.accounts.permissions import require_methodist
from server.domain.community.notifications import notify
from server.domain.year import anonymous
from server.domain.year.questionnaires.inputs import (
    MAX_QUESTIONS,
    QuestionInput,
    SettingsInput,
    check_question,
    q_error,
)
from server.domain.year.questionnaires.needs_template import NEEDS_DESCRIPTION, NEEDS_QUESTIONS, NEEDS_TITLE
from server.domain.year.questionnaires.reading import editable, managed, questions_of, school_year_at
from server.errors import NotFound, ValidationFailed


async def _check_settings(
    session: AsyncSession, association_id: int, data: SettingsInput, own_id: int | None
) -> None:
    errors: dict[str, str] = {}
    if data.opens_at and data.closes_at and data.closes_at <= data.opens_at:
        errors["closes_at"] = "closes_before_opens"
    if data.meeting_id is not None:
        meeting = await session.get(Meeting, data.meeting_id) if 0 < data.meeting_id <= MAX_ID else None
        if meeting is None or meeting.association_id != association_id:
            errors["meeting_id"] = "bad_choice"
        else:
            taken = await session.scalar(
                select(Questionnaire.id).where(
                    Questionnaire.meeting_id == data.meeting_id,
                    Questionnaire.purpose == QuestionnairePurpose.pre,
                )
            )
            if taken is not None and taken != own_id:
                errors["meeting_id"] = "meeting_taken"
    if errors:
        raise ValidationFailed(details={"fields": errors})


def _apply_settings(q: Questionnaire, data: SettingsInput) -> None:
    q.title = data.title[:300]
    q.description = data.description
    q.anonymous = data.anonymous
    q.opens_at = data.opens_at
    q.closes_at = data.closes_at
    q.meeting_id = data.meeting_id
    q.purpose = QuestionnairePurpose.pre if data.meeting_id is not None else QuestionnairePurpose.general
    q.school_year = school_year_at(data.opens_at)


async def create_questionnaire(
    session: AsyncSession, user: User | None, association_id: int, data: SettingsInput
) -> Questionnaire:
    await get_association(session, association_id)
    actor = await require_methodist(session, user, association_id)
    await _check_settings(session, association_id, data, None)
    q = Questionnaire(association_id=association_id, created_by_id=actor.id, status=QuestionnaireStatus.draft)
    _apply_settings(q, data)
    session.add(q)
    await session.flush()
    return q


async def create_from_needs_template(
    session: AsyncSession, user: User | None, association_id: int
) -> Questionnaire:
    """One click: a draft «Диагностика профессиональных потребностей педагогов»."""
    year = school_year_at(None)
    q = await create_questionnaire(
        session,
        user,
        association_id,
        SettingsInput(title=f"{NEEDS_TITLE} ({year}/{year + 1} уч. г.)", description=NEEDS_DESCRIPTION),
    )
    q.template = QuestionnaireTemplate.needs
    for spec in NEEDS_QUESTIONS:
        await _insert_question(session, q, spec)
    return q


async def update_settings(
    session: AsyncSession, user: User | None, questionnaire_id: int, data: SettingsInput
) -> None:
    q = await editable(session, user, questionnaire_id)
    await _check_settings(session, q.association_id, data, q.id)
    _apply_settings(q, data)
    await session.flush()


async def _insert_question(session: AsyncSession, q: Questionnaire, data: QuestionInput) -> Question:
    last = await session.scalar(select(func.max(Question.position)).where(Question.questionnaire_id == q.id))
    if (last or 0) >= MAX_QUESTIONS:
        raise q_error("too_many_questions")
    row = Question(questionnaire_id=q.id, position=(last or 0) + 1)
    _apply_question(row, data)
    session.add(row)
    await session.flush()
    return row


def _apply_question(row: Question, data: QuestionInput) -> None:
    choice = data.kind in (QuestionKind.single, QuestionKind.multiple)
    row.kind = data.kind
    row.text = data.text.strip()
    row.required = data.required
    row.options = [o.strip() for o in data.options if o.strip()] if choice else []
    row.allow_other = data.allow_other and choice
    row.tag = data.tag


async def add_question(
    session: AsyncSession, user: User | None, questionnaire_id: int, data: QuestionInput
) -> Question:
    q = await editable(session, user, questionnaire_id)
    errors = check_question(data)
    if errors:
        raise ValidationFailed(details={"fields": errors})
    return await _insert_question(session, q, data)


async def _own_question(session: AsyncSession, q: Questionnaire, question_id: int) -> Question:
    row = await session.get(Question, question_id) if 0 < question_id <= MAX_ID else None
    if row is None or row.questionnaire_id != q.id:
        raise NotFound()
    return row


async def update_question(
    session: AsyncSession, user: User | None, questionnaire_id: int, question_id: int, data: QuestionInput
) -> None:
    q = await editable(session, user, questionnaire_id)
    row = await _own_question(session, q, question_id)
    errors = check_question(data)
    if errors:
        raise ValidationFailed(details={"fields": errors})
    # The template's marks (topics of interest, experience) stay with the question.
    _apply_question(
        row, QuestionInput(data.kind, data.text, data.required, data.options, data.allow_other, row.tag)
    )
    await session.flush()


async def delete_question(
    session: AsyncSession, user: User | None, questionnaire_id: int, question_id: int
) -> None:
    q = await editable(session, user, questionnaire_id)
    row = await _own_question(session, q, question_id)
    await session.delete(row)
    await session.flush()
    await _renumber(session, q.id)


async def _renumber(session: AsyncSession, questionnaire_id: int, order: Sequence[int] | None = None) -> None:
    rows = await questions_of(session, questionnaire_id)
    if order is not None:
        index = {qid: i for i, qid in enumerate(order)}
        rows.sort(key=lambda r: index.get(r.id, len(index)))
    for position, row in enumerate(rows, start=1):
        row.position = position
    await session.flush()


async def move_question(
    session: AsyncSession, user: User | None, questionnaire_id: int, question_id: int, direction: int
) -> None:
    """Move one place up (-1) or down (+1)."""
    q = await editable(session, user, questionnaire_id)
    row = await _own_question(session, q, question_id)
    ids = [r.id for r in await questions_of(session, q.id)]
    i = ids.index(row.id)
    j = i + (1 if direction > 0 else -1)
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        await _renumber(session, q.id, ids)


async def delete_questionnaire(session: AsyncSession, user: User | None, questionnaire_id: int) -> int:
    q = await editable(session, user, questionnaire_id)
    association_id = q.association_id
    await session.delete(q)
    await session.flush()
    return association_id


async def publish(session: AsyncSession, user: User | None, questionnaire_id: int) -> Questionnaire:
    """Open it to members and notify them."""
    q = await editable(session, user, questionnaire_id)
    if not await questions_of(session, q.id):
        raise q_error("no_questions")
    now = utcnow()
    if q.closes_at is not None and q.closes_at <= now:
        raise q_error("closes_in_past")
    q.status = QuestionnaireStatus.open
    q.published_at = now
    q.school_year = school_year_at(q.opens_at or now)
    await session.flush()
    member_ids = (
        await session.scalars(select(Membership.user_id).where(Membership.association_id == q.association_id))
    ).all()
    await notify(
        session,
        member_ids,
        NotificationKind.announcement,
        dedupe_key=f"questionnaire:{q.id}",
        title=f"Новая анкета: {q.title}"[:300],
        url=f"/questionnaires/{q.id}",
        body=q.description[:1000],
        association_id=q.association_id,
    )
    return q


async def close(session: AsyncSession, user: User | None, questionnaire_id: int) -> Questionnaire:
    q = await managed(session, user, questionnaire_id)
    if q.status != QuestionnaireStatus.open:
        raise q_error("not_open")
    q.status = QuestionnaireStatus.closed
    q.closed_at = utcnow()
    if q.anonymous:
        await anonymous.open_sealed_responses(session, q)
    await session.flush()
    return q
