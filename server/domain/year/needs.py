"""Teachers' professional needs (clauses 3.1, 7.5) aggregated from the needs-diagnostics
questionnaires (template ``needs``): the question tagged ``needs_topics`` (topics of interest,
multiple choice with «другое») is counted per option; «другое» answers count as their own
lines (the same text in any letter case and spacing is one line, under its most used spelling).

    summary = await needs_summary(session, association_id, school_year=2026)
    summary.respondents, [(l.label, l.count, l.percent) for l in summary.lines]

Used by the needs report, the «top needs → plan rows» action and the annual analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.questionnaires import (
    Question,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from server.domain.year import anonymous


@dataclass(frozen=True, slots=True)
class NeedLine:
    label: str
    count: int
    percent: float  # of the respondents, 0–100, one decimal


@dataclass(frozen=True, slots=True)
class NeedsSummary:
    respondents: int
    lines: list[NeedLine]  # by count, descending (then by label)


def percent(count: int, total: int) -> float:
    return round(100.0 * count / total, 1) if total else 0.0


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


async def topics_of(session: AsyncSession, questionnaire_ids: Sequence[int]) -> NeedsSummary:
    """The topics-of-interest tally over the given questionnaires."""
    if not questionnaire_ids:
        return NeedsSummary(0, [])
    respondents = (
        await session.scalar(
            select(func.count(QuestionnaireResponse.id)).where(
                QuestionnaireResponse.questionnaire_id.in_(questionnaire_ids)
            )
        )
        or 0
    ) + await anonymous.sealed_count(session, questionnaire_ids)
    sealed = await anonymous.sealed_answers(session, questionnaire_ids)  # still sealed: opened in memory
    questions = (
        await session.scalars(
            select(Question).where(
                Question.questionnaire_id.in_(questionnaire_ids), Question.tag == QuestionTag.needs_topics
            )
        )
    ).all()
    counts: dict[str, int] = {}
    labels: dict[str, str] = {}  # normalised -> an offered option's spelling
    spellings: dict[str, dict[str, int]] = {}  # normalised -> «другое» spellings -> uses

    def bump(label: str, offered: bool) -> None:
        key = _normal(label)
        if not key:
            return
        if not offered:
            tidy = " ".join(label.split())
            spellings.setdefault(key, {})[tidy] = spellings.get(key, {}).get(tidy, 0) + 1
        counts[key] = counts.get(key, 0) + 1

    for q in questions:
        for option in q.options:  # every offered topic is listed, even with no votes
            key = _normal(option)
            labels.setdefault(key, option)
            counts.setdefault(key, 0)
        answers = (
            await session.execute(
                select(QuestionnaireAnswer.choices, QuestionnaireAnswer.other).where(
                    QuestionnaireAnswer.question_id == q.id
                )
            )
        ).all()
        pairs: list[tuple[Any, str]] = [(c, o) for c, o in answers]
        pairs += [(a.choices, a.other) for a in sealed if a.question_id == q.id]
        for choices, other in pairs:
            seen: set[str] = set()
            for index in choices or []:
                if isinstance(index, int) and 0 <= index < len(q.options):
                    key = _normal(q.options[index])
                    if key not in seen:
                        seen.add(key)
                        bump(q.options[index], True)
            if other and _normal(other) not in seen:
                bump(other, False)
    for key, used in spellings.items():
        # The most used spelling of a free answer (ties: the first in alphabetical order).
        labels.setdefault(key, min(used, key=lambda sp: (-used[sp], sp)))
    lines = [NeedLine(labels[k], n, percent(n, respondents)) for k, n in counts.items()]
    lines.sort(key=lambda line: (-line.count, line.label.casefold()))
    return NeedsSummary(respondents, lines)


async def needs_questionnaire_ids(session: AsyncSession, association_id: int, school_year: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Questionnaire.id)
                .where(
                    Questionnaire.association_id == association_id,
                    Questionnaire.school_year == school_year,
                    Questionnaire.template == QuestionnaireTemplate.needs,
                    Questionnaire.status != QuestionnaireStatus.draft,
                )
                .order_by(Questionnaire.id)
            )
        ).all()
    )


async def needs_summary(session: AsyncSession, association_id: int, school_year: int) -> NeedsSummary:
    """Respondents and topics of interest over the year's needs-diagnostics questionnaires."""
    ids = await needs_questionnaire_ids(session, association_id, school_year)
    return await topics_of(session, ids)
