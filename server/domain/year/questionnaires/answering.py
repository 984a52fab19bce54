"""Answering a questionnaire: the page, parsing the form, one response per member.

Who answered and what was answered are stored in unlinked tables (anonymity)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, User
from server.db.models.questionnaires import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireAuthor,
    QuestionnaireParticipant,
    QuestionnaireResponse,
    QuestionnaireStatus,
)
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import membership_role, require_login, require_member
from server.domain.year import anonymous
from server.domain.year.questionnaires.inputs import OTHER_MAX, SCALE, TEXT_ANSWER_MAX, q_error
from server.domain.year.questionnaires.reading import (
    _get,
    accepting,
    has_answered,
    questions_of,
    response_count,
    visible,
)
from server.errors import NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class AnswerValue:
    choices: list[int] = field(default_factory=list)
    other: str = ""
    value: int | None = None
    text: str = ""

    @property
    def empty(self) -> bool:
        return not self.choices and not self.other and self.value is None and not self.text


def _as_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return [str(x) for x in raw]
    return [str(raw)]


def parse_answers(
    questions: Sequence[Question], values: dict[str, Any]
) -> tuple[dict[int, AnswerValue], dict[str, str]]:
    """Form values (``q<id>``, ``q<id>[]``, ``q<id>_other``) → answers; errors by ``q<id>``."""
    answers: dict[int, AnswerValue] = {}
    errors: dict[str, str] = {}
    for q in questions:
        key = f"q{q.id}"
        raw = values.get(key)
        other = str(values.get(f"{key}_other", "") or "").strip()
        try:
            if q.kind in (QuestionKind.single, QuestionKind.multiple):
                picked = [x.strip() for x in _as_list(raw) if x.strip()]
                if q.kind == QuestionKind.single and len(picked) > 1:
                    raise ValueError("bad_choice")
                choices: list[int] = []
                wants_other = False
                for item in picked:
                    if item == "other" and q.allow_other:
                        wants_other = True
                    elif item.isdigit() and int(item) < len(q.options):
                        if int(item) not in choices:
                            choices.append(int(item))
                    else:
                        raise ValueError("bad_choice")
                if len(other) > OTHER_MAX:
                    raise ValueError("too_long")
                if wants_other and not other:
                    raise ValueError("other_empty")
                if not q.allow_other or not wants_other:
                    other = ""
                answer = AnswerValue(choices=sorted(choices), other=other)
            elif q.kind == QuestionKind.scale:
                text = str(raw or "").strip() if not isinstance(raw, list) else ""
                if isinstance(raw, list):
                    raise ValueError("bad_choice")
                if text and (not text.isdigit() or int(text) not in SCALE):
                    raise ValueError("bad_scale")
                answer = AnswerValue(value=int(text) if text else None)
            else:
                if isinstance(raw, list):
                    raise ValueError("bad_choice")
                text = str(raw or "").strip()
                if len(text) > TEXT_ANSWER_MAX:
                    raise ValueError("too_long")
                answer = AnswerValue(text=text)
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if answer.empty:
            if q.required:
                errors[key] = "answer_required"
            continue
        answers[q.id] = answer
    return answers, errors


@dataclass(frozen=True, slots=True)
class AnswerPage:
    q: Questionnaire
    association: Association
    meeting: Meeting | None
    questions: list[Question]
    can_manage: bool
    answered: bool
    accepting: bool
    can_answer: bool  # a member who may answer (admins who are not members only look)
    responses: int


async def answer_page(session: AsyncSession, user: User | None, questionnaire_id: int) -> AnswerPage:
    q, manage = await visible(session, user, questionnaire_id)
    association = await get_association(session, q.association_id)
    meeting = await session.get(Meeting, q.meeting_id) if q.meeting_id else None
    member = await membership_role(session, user, q.association_id) is not None
    return AnswerPage(
        q,
        association,
        meeting,
        await questions_of(session, q.id),
        manage,
        await has_answered(session, user, q.id),
        accepting(q),
        member,
        await response_count(session, q.id),
    )


async def submit_response(
    session: AsyncSession, user: User | None, questionnaire_id: int, values: dict[str, Any]
) -> None:
    """Record one person's answers once. A second submission (or a concurrent double click)
    raises ``questionnaires.already_answered`` (409) and changes nothing."""
    user = require_login(user)
    q = await _get(session, questionnaire_id)
    role = await membership_role(session, user, q.association_id)
    if role is None:
        if user.is_admin and q.status != QuestionnaireStatus.draft:
            raise q_error("admin_not_member", 403)
        await require_member(session, user, q.association_id)
    if q.status == QuestionnaireStatus.draft:
        raise NotFound()
    if not accepting(q):
        raise q_error("not_accepting")
    if await has_answered(session, user, q.id):
        raise q_error("already_answered")
    questions = await questions_of(session, q.id)
    answers, errors = parse_answers(questions, values)
    if errors:
        raise ValidationFailed(details={"fields": errors})
    if not answers:
        raise ValidationFailed(details={"fields": {"_": "empty_response"}})
    try:
        async with session.begin_nested():
            session.add(QuestionnaireParticipant(questionnaire_id=q.id, user_id=user.id))
            await session.flush()
    except IntegrityError as exc:  # a concurrent submission of the same person won
        raise q_error("already_answered") from exc
    if q.anonymous:  # sealed until the close (server/domain/year/anonymous.py)
        await anonymous.seal_response(session, q, questions, answers)
        await session.flush()
        return
    response = QuestionnaireResponse(id=secrets.token_hex(16), questionnaire_id=q.id)
    session.add(response)
    await session.flush()
    for qid, a in answers.items():
        session.add(
            QuestionnaireAnswer(
                response_id=response.id,
                question_id=qid,
                choices=a.choices,
                other=a.other,
                value=a.value,
                text=a.text,
            )
        )
    if not q.anonymous:
        session.add(QuestionnaireAuthor(response_id=response.id, user_id=user.id))
    await session.flush()
