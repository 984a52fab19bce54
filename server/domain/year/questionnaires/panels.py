"""Questionnaires on other pages: the meeting page's forms, the home page's open ones."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, Membership, Role, User
from server.db.models.questionnaires import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireParticipant,
    QuestionnairePurpose,
    QuestionnaireStatus,
)
from server.domain.accounts.permissions import membership_role
from server.domain.year import anonymous
from server.domain.year.questionnaires.reading import accepting, has_answered


@dataclass(frozen=True, slots=True)
class MeetingForms:
    pre: Questionnaire | None
    pre_answered: bool
    feedback: Questionnaire | None
    feedback_answered: bool
    feedback_responses: int
    feedback_average: float | None
    comments: list[str]  # «most useful» and proposals, anonymous
    member: bool
    manage: bool


async def meeting_forms(session: AsyncSession, user: User | None, meeting: Meeting) -> MeetingForms | None:
    if user is None:
        return None
    role = await membership_role(session, user, meeting.association_id)
    if role is None and not user.is_admin:
        return None
    manage = user.is_admin or role == Role.methodist
    rows = (
        await session.scalars(
            select(Questionnaire).where(
                Questionnaire.meeting_id == meeting.id, Questionnaire.status != QuestionnaireStatus.draft
            )
        )
    ).all()
    pre = next((x for x in rows if x.purpose == QuestionnairePurpose.pre), None)
    fb = next((x for x in rows if x.purpose == QuestionnairePurpose.feedback), None)
    if pre is None and fb is None:
        return None
    from server.domain.year.feedback import usefulness

    responses, average, comments = 0, None, []
    if fb is not None:
        responses, average = await usefulness(session, fb.id)
        comments = list(
            (
                await session.scalars(
                    select(QuestionnaireAnswer.text)
                    .join(Question, Question.id == QuestionnaireAnswer.question_id)
                    .where(
                        Question.questionnaire_id == fb.id,
                        Question.kind == QuestionKind.text,
                        QuestionnaireAnswer.text != "",
                    )
                    .order_by(QuestionnaireAnswer.response_id, Question.position)
                )
            ).all()
        )
        text_ids = set(
            await session.scalars(
                select(Question.id).where(
                    Question.questionnaire_id == fb.id, Question.kind == QuestionKind.text
                )
            )
        )
        comments += [
            a.text
            for a in await anonymous.sealed_answers(session, [fb.id])
            if a.question_id in text_ids and a.text
        ]
    return MeetingForms(
        pre,
        await has_answered(session, user, pre.id) if pre else False,
        fb,
        await has_answered(session, user, fb.id) if fb else False,
        responses,
        average,
        comments,
        role is not None,
        manage,
    )


async def open_for_me(session: AsyncSession, user: User | None) -> list[tuple[Questionnaire, Association]]:
    """Open questionnaires of my associations that I have not answered yet (home panel)."""
    if user is None:
        return []
    rows = (
        await session.execute(
            select(Questionnaire, Association)
            .join(Association, Association.id == Questionnaire.association_id)
            .join(Membership, Membership.association_id == Questionnaire.association_id)
            .where(Membership.user_id == user.id, Questionnaire.status == QuestionnaireStatus.open)
            .order_by(Questionnaire.published_at.desc())
            .limit(30)
        )
    ).all()
    answered = set(
        (
            await session.scalars(
                select(QuestionnaireParticipant.questionnaire_id).where(
                    QuestionnaireParticipant.user_id == user.id
                )
            )
        ).all()
    )
    return [(q, a) for q, a in rows if q.id not in answered and accepting(q)][:10]
