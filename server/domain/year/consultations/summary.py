"""Consultations for the annual analysis and the activity statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.consultations import ConsultationAnswer, ConsultationQuestion
from server.domain.year.activity import activity_metric
from server.domain.year.consultations.rules import ConsultationsSummary


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
