"""Questionnaire results: tallies per question, cross tabulation, the export rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, User
from server.db.models.questionnaires import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireAuthor,
    QuestionnaireResponse,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from server.domain.accounts.associations import get_association
from server.domain.year import anonymous
from server.domain.year.needs import NeedsSummary, percent, topics_of
from server.domain.year.questionnaires.inputs import OTHER_LABEL, SCALE, q_error
from server.domain.year.questionnaires.reading import managed, member_count, questions_of

AnyAnswer = QuestionnaireAnswer | anonymous.OpenAnswer  # stored, or sealed and opened in memory


@dataclass(frozen=True, slots=True)
class OptionCount:
    label: str
    count: int
    percent: float  # of those who answered the question


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: Question
    answered: int
    options: list[OptionCount]  # single/multiple: as offered (+ «Другое»); scale: 1…5
    mean: float | None  # scale
    texts: list[str]  # free text answers, or the «другое» texts

    @property
    def ranked(self) -> list[OptionCount]:
        return sorted(self.options, key=lambda o: -o.count)


@dataclass(frozen=True, slots=True)
class NamedRow:
    name: str
    answers: list[str]  # per question, as text


@dataclass(frozen=True, slots=True)
class Results:
    q: Questionnaire
    association: Association
    meeting: Meeting | None
    respondents: int
    members: int
    questions: list[QuestionResult]
    named: list[NamedRow]  # named questionnaires only
    topics: NeedsSummary | None  # needs-diagnostics only
    cross_tab: tuple[list[str], list[tuple[str, list[int]]]] | None  # (experience groups, rows)

    @property
    def rate(self) -> float:
        return percent(self.respondents, self.members)


def answer_text(question: Question, a: AnyAnswer | None) -> str:
    if a is None:
        return ""
    if question.kind in (QuestionKind.single, QuestionKind.multiple):
        parts = [
            question.options[i] for i in a.choices if isinstance(i, int) and 0 <= i < len(question.options)
        ]
        if a.other:
            parts.append(f"{OTHER_LABEL}: {a.other}")
        return "; ".join(parts)
    if question.kind == QuestionKind.scale:
        return "" if a.value is None else str(a.value)
    return a.text


async def _answers(session: AsyncSession, questionnaire_id: int) -> dict[str, dict[int, AnyAnswer]]:
    """response id -> question id -> answer, in the responses' random-id order."""
    rows = (
        await session.scalars(
            select(QuestionnaireAnswer)
            .join(QuestionnaireResponse, QuestionnaireResponse.id == QuestionnaireAnswer.response_id)
            .where(QuestionnaireResponse.questionnaire_id == questionnaire_id)
        )
    ).all()
    out: dict[str, dict[int, AnyAnswer]] = {}
    for a in rows:
        out.setdefault(a.response_id, {})[a.question_id] = a
    ids = list(
        (
            await session.scalars(
                select(QuestionnaireResponse.id)
                .where(QuestionnaireResponse.questionnaire_id == questionnaire_id)
                .order_by(QuestionnaireResponse.id)
            )
        ).all()
    )
    for sealed in await anonymous.sealed_answers(session, [questionnaire_id]):  # opened in memory
        out.setdefault(sealed.response_id, {})[sealed.question_id] = sealed
    ids = sorted({*ids, *out})
    return {rid: out.get(rid, {}) for rid in ids}


def tally(question: Question, answers: Sequence[AnyAnswer]) -> QuestionResult:
    answered = len(answers)
    if question.kind in (QuestionKind.single, QuestionKind.multiple):
        counts = [0] * len(question.options)
        others: list[str] = []
        for a in answers:
            for i in set(a.choices or []):
                if isinstance(i, int) and 0 <= i < len(counts):
                    counts[i] += 1
            if a.other:
                others.append(a.other)
        options = [
            OptionCount(label, n, percent(n, answered))
            for label, n in zip(question.options, counts, strict=True)
        ]
        if question.allow_other:
            options.append(OptionCount(OTHER_LABEL, len(others), percent(len(others), answered)))
        return QuestionResult(question, answered, options, None, others)
    if question.kind == QuestionKind.scale:
        values = [a.value for a in answers if a.value is not None]
        options = [OptionCount(str(v), values.count(v), percent(values.count(v), len(values))) for v in SCALE]
        mean = round(sum(values) / len(values), 2) if values else None
        return QuestionResult(question, len(values), options, mean, [])
    texts = [a.text for a in answers if a.text]
    return QuestionResult(question, len(texts), [], None, texts)


async def compute_results(session: AsyncSession, q: Questionnaire) -> Results:
    association = await get_association(session, q.association_id)
    meeting = await session.get(Meeting, q.meeting_id) if q.meeting_id else None
    questions = await questions_of(session, q.id)
    by_response = await _answers(session, q.id)
    per_question: dict[int, list[AnyAnswer]] = {qq.id: [] for qq in questions}
    for answers in by_response.values():
        for qid, a in answers.items():
            if qid in per_question:
                per_question[qid].append(a)
    results = [tally(qq, per_question[qq.id]) for qq in questions]
    named: list[NamedRow] = []
    if not q.anonymous:
        authors = dict(
            (
                await session.execute(
                    select(QuestionnaireAuthor.response_id, User)
                    .join(User, User.id == QuestionnaireAuthor.user_id)
                    .where(QuestionnaireAuthor.response_id.in_(list(by_response)))
                )
            ).all()
        )
        for rid, answers in by_response.items():
            author = authors.get(rid)
            named.append(
                NamedRow(
                    author.full_name if author else "—",
                    [answer_text(qq, answers.get(qq.id)) for qq in questions],
                )
            )
        named.sort(key=lambda r: r.name.casefold())
    topics = None
    cross: tuple[list[str], list[tuple[str, list[int]]]] | None = None
    if q.template == QuestionnaireTemplate.needs:
        topics = await topics_of(session, [q.id])
        cross = _cross_tab(questions, by_response, topics)
    return Results(
        q,
        association,
        meeting,
        len(by_response),
        await member_count(session, q.association_id),
        results,
        named,
        topics,
        cross,
    )


def _cross_tab(
    questions: list[Question], by_response: dict[str, dict[int, AnyAnswer]], topics: NeedsSummary
) -> tuple[list[str], list[tuple[str, list[int]]]] | None:
    """Topics of interest × teaching experience (counts of respondents)."""
    exp = next((x for x in questions if x.tag == QuestionTag.experience), None)
    top = next((x for x in questions if x.tag == QuestionTag.needs_topics), None)
    if exp is None or top is None:
        return None
    groups = list(exp.options)
    rows: dict[str, list[int]] = {line.label.casefold(): [0] * len(groups) for line in topics.lines}
    for answers in by_response.values():
        e = answers.get(exp.id)
        t = answers.get(top.id)
        if e is None or t is None or not e.choices:
            continue
        g = e.choices[0]
        if not (isinstance(g, int) and 0 <= g < len(groups)):
            continue
        labels = {
            top.options[i].casefold() for i in t.choices if isinstance(i, int) and 0 <= i < len(top.options)
        }
        if t.other:
            labels.add(" ".join(t.other.split()).casefold())
        for label in labels:
            if label in rows:
                rows[label][g] += 1
    return groups, [(line.label, rows[line.label.casefold()]) for line in topics.lines]


async def results(session: AsyncSession, user: User | None, questionnaire_id: int) -> Results:
    q = await managed(session, user, questionnaire_id)
    if q.status == QuestionnaireStatus.draft:
        raise q_error("draft_no_results")
    return await compute_results(session, q)


async def export_rows(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> tuple[Questionnaire, list[list[str]]]:
    r = await results(session, user, questionnaire_id)
    questions = [qr.question for qr in r.questions]
    header = [f"{i}. {qq.text}" for i, qq in enumerate(questions, start=1)]
    if not r.q.anonymous:
        return r.q, [["Участник", *header], *[[row.name, *row.answers] for row in r.named]]
    by_response = await _answers(session, r.q.id)
    return r.q, [
        header,
        *[[answer_text(qq, answers.get(qq.id)) for qq in questions] for answers in by_response.values()],
    ]
