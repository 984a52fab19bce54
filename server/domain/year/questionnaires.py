"""Questionnaires (анкетирование, clauses 3.1, 5.1, 7.5): the builder, answering, results.

Rights: methodists of the association and site administrators build, publish, close, read
results, export and publish the needs report; every member (any role) answers an open
questionnaire once. Drafts are invisible to everyone else (404).

Anonymity (see server/db/models/questionnaires.py): who answered and what was answered are
stored in unlinked tables; results of an anonymous questionnaire never carry a name.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.charts import bar_chart
from server.db.models import Association, Meeting, MeetingStatus, Membership, Role, User
from server.db.models.library import LibraryKind, LibraryVersion
from server.db.models.notifications import NotificationKind
from server.db.models.plans import PlanRow, PlanRowSource, WorkPlan
from server.db.models.questionnaires import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireAuthor,
    QuestionnaireParticipant,
    QuestionnairePurpose,
    QuestionnaireResponse,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from server.db.types import utcnow
from server.domain.accounts.associations import MAX_ID, get_association
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.community.notifications import notify
from server.domain.protocol import render_docx, render_pdf
from server.domain.protocol import russian as ru
from server.domain.protocol.layout import Block
from server.domain.protocol.workflow import school_year_of
from server.domain.year import anonymous
from server.domain.year.library import publish_version
from server.domain.year.needs import NeedsSummary, percent, topics_of
from server.domain.year.plans import add_plan_row, get_or_create_plan
from server.errors import AppError, NotFound, ValidationFailed
from server.settings import Settings

AnyAnswer = QuestionnaireAnswer | anonymous.OpenAnswer  # stored, or sealed and opened in memory

MAX_QUESTIONS = 60
MAX_OPTIONS = 30
OPTION_MAX = 200
TEXT_ANSWER_MAX = 5000
OTHER_MAX = 500
SCALE = (1, 2, 3, 4, 5)
OTHER_LABEL = "Другое"


def q_error(code: str, status: int = 409) -> AppError:
    return AppError(f"questionnaires.{code}", status=status)


# --- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SettingsInput:
    title: str
    description: str = ""
    anonymous: bool = True
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    meeting_id: int | None = None  # a pre-meeting questionnaire


@dataclass(frozen=True, slots=True)
class QuestionInput:
    kind: QuestionKind
    text: str
    required: bool = False
    options: tuple[str, ...] = ()
    allow_other: bool = False
    tag: QuestionTag = QuestionTag.none


def check_question(data: QuestionInput) -> dict[str, str]:
    """Field -> error code (empty when valid)."""
    errors: dict[str, str] = {}
    if not data.text.strip():
        errors["text"] = "required"
    elif len(data.text) > 500:
        errors["text"] = "too_long"
    if data.kind in (QuestionKind.single, QuestionKind.multiple):
        opts = [o for o in data.options if o.strip()]
        if len(opts) < 2:
            errors["options"] = "options_needed"
        elif len(opts) > MAX_OPTIONS:
            errors["options"] = "too_many_options"
        elif any(len(o) > OPTION_MAX for o in opts):
            errors["options"] = "option_too_long"
        elif len({o.strip().casefold() for o in opts}) != len(opts):
            errors["options"] = "duplicate_options"
    return errors


# --- templates ---------------------------------------------------------------------------------
NEEDS_TITLE = "Диагностика профессиональных потребностей педагогов"
NEEDS_DESCRIPTION = (
    "Анкета помогает сетевому методическому объединению спланировать работу на учебный год "
    "с учётом ваших профессиональных потребностей. Ответы анонимны."
)
NEEDS_QUESTIONS: list[QuestionInput] = [
    QuestionInput(
        QuestionKind.single,
        "Ваш педагогический стаж",
        True,
        ("до 3 лет", "3–10 лет", "11–20 лет", "более 20 лет"),
        tag=QuestionTag.experience,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "Какие темы вам интересны для обсуждения на заседаниях СМО?",
        True,
        (
            "Обновлённые ФГОС и федеральные рабочие программы",
            "Формирование функциональной грамотности",
            "Подготовка обучающихся к ГИА (ОГЭ, ЕГЭ)",
            "Цифровые образовательные ресурсы и дистанционное обучение",
            "Работа с одарёнными детьми",
            "Работа с обучающимися с ОВЗ, инклюзивное образование",
            "Проектная и исследовательская деятельность",
            "Оценивание образовательных результатов",
            "Воспитательная работа и классное руководство",
        ),
        allow_other=True,
        tag=QuestionTag.needs_topics,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "Какие формы методической работы вы предпочитаете?",
        False,
        (
            "Семинар",
            "Семинар-практикум",
            "Мастер-класс",
            "Круглый стол",
            "Открытый урок",
            "Консультация",
            "Педагогическая мастерская",
        ),
        allow_other=True,
    ),
    QuestionInput(
        QuestionKind.multiple,
        "С какими затруднениями вы сталкиваетесь в работе?",
        False,
        (
            "Планирование уроков по обновлённым ФГОС",
            "Мотивация обучающихся",
            "Использование цифровых технологий",
            "Оценивание и анализ результатов",
            "Работа с родителями",
            "Нехватка методических материалов",
        ),
        allow_other=True,
    ),
    QuestionInput(
        QuestionKind.scale, "Оцените свою готовность применять цифровые технологии на уроках (1–5)", True
    ),
    QuestionInput(QuestionKind.scale, "Оцените свою готовность работать по обновлённым ФГОС (1–5)", True),
    QuestionInput(
        QuestionKind.scale,
        "Оцените свою готовность к проектной и исследовательской деятельности с обучающимися (1–5)",
        True,
    ),
    QuestionInput(QuestionKind.text, "Каким опытом вы готовы поделиться с коллегами?", False),
    QuestionInput(QuestionKind.text, "Ваши предложения по работе СМО", False),
]


# --- reading -----------------------------------------------------------------------------------
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


# --- building ----------------------------------------------------------------------------------
def _school_year(moment: datetime | None) -> int:
    return school_year_of(ru.moscow(moment or utcnow()).date())


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
    q.school_year = _school_year(data.opens_at)


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
    year = _school_year(None)
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
    q.school_year = _school_year(q.opens_at or now)
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


# --- answering ---------------------------------------------------------------------------------
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


# --- results -----------------------------------------------------------------------------------
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


# --- top needs → plan rows -------------------------------------------------------------------
async def needs_questionnaire(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> Questionnaire:
    q = await managed(session, user, questionnaire_id)
    if q.template != QuestionnaireTemplate.needs:
        raise NotFound()
    if q.status == QuestionnaireStatus.draft:
        raise q_error("draft_no_results")
    return q


async def needs_to_plan(
    session: AsyncSession, user: User | None, questionnaire_id: int, labels: Sequence[str], school_year: int
) -> tuple[int, int]:
    """Add the chosen topics as rows (source «needs») of that school year's plan; a topic
    already in the plan from the needs is skipped. Returns (added, skipped)."""
    q = await needs_questionnaire(session, user, questionnaire_id)
    current = _school_year(None)
    if school_year not in (current, current + 1):
        raise ValidationFailed(details={"fields": {"school_year": "bad_choice"}})
    if not labels:
        raise ValidationFailed(details={"fields": {"labels": "nothing_chosen"}})
    summary = await topics_of(session, [q.id])
    known = {line.label.casefold(): line for line in summary.lines}
    chosen = []
    for label in labels:
        line = known.get(" ".join(label.split()).casefold())
        if line is None:
            raise ValidationFailed(details={"fields": {"labels": "bad_choice"}})
        if line not in chosen:
            chosen.append(line)
    plan = await get_or_create_plan(session, q.association_id, school_year)
    # Serialise concurrent clicks on the same plan (PostgreSQL; SQLite's writer lock already does).
    await session.execute(select(WorkPlan.id).where(WorkPlan.id == plan.id).with_for_update())
    existing = {
        t.casefold()
        for t in (
            await session.scalars(
                select(PlanRow.topic).where(PlanRow.plan_id == plan.id, PlanRow.source == PlanRowSource.needs)
            )
        ).all()
    }
    added = skipped = 0
    for line in chosen:
        if line.label[:500].casefold() in existing:
            skipped += 1
            continue
        await add_plan_row(
            session,
            q.association_id,
            school_year,
            topic=line.label,
            source=PlanRowSource.needs,
            note=(
                f"По результатам анкетирования «{q.title}»: выбрали {line.count} из "
                f"{summary.respondents} ({line.percent:g} %)."
            ),
        )
        existing.add(line.label[:500].casefold())
        added += 1
    return added, skipped


# --- panels on the meeting page -----------------------------------------------------------------
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


# --- the needs report (PROTOCOL.md §4) ---------------------------------------------------------
REPORT_TITLE = "Сведения о профессиональных потребностях педагогов"
TOP_NEEDS = 3


def _pct(value: float) -> str:
    return f"{value:g}".replace(".", ",") + " %"


def _num(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def needs_report_blocks(r: Results, methodist: str, chart_png: bytes | None) -> list[Block]:
    """The document: respondents and rate; per closed question the ranked counts and %; per
    scale the mean and distribution; free text listed; the cross-tab by experience; the top
    needs proposed as topics for the plan."""
    q = r.q
    year = q.school_year
    blocks: list[Block] = [
        Block("heading", r.association.name),
        Block("heading", REPORT_TITLE),
        Block("text", f"по результатам анкетирования «{q.title}», {year}/{year + 1} учебный год", bold=False),
        Block("gap"),
    ]
    period = ""
    if q.published_at is not None:
        period = f"Анкетирование проводилось с {ru.date_text(ru.moscow(q.opens_at or q.published_at))}"
        end = q.closed_at or q.closes_at
        if end is not None:
            period += f" по {ru.date_text(ru.moscow(end))}"
        blocks.append(Block("text", period + "."))
    blocks.append(
        Block(
            "text",
            f"Количество респондентов: {r.respondents} из {ru.of_members(r.members)} СМО "
            f"(охват {_pct(r.rate)}). Анкета {'анонимная' if q.anonymous else 'именная'}.",
        )
    )
    for n, qr in enumerate(r.questions, start=1):
        qq = qr.question
        blocks.append(Block("gap"))
        blocks.append(Block("text", f"{n}. {qq.text}", bold=True))
        if qq.kind in (QuestionKind.single, QuestionKind.multiple):
            rows = [("Вариант ответа", "Количество", "%")]
            rows += [(o.label, str(o.count), _pct(o.percent)) for o in qr.ranked]
            blocks.append(Block("table", rows=tuple(rows)))
            blocks.append(Block("text", f"Ответили на вопрос: {ru.people(qr.answered)}."))
            if qq.tag == QuestionTag.needs_topics and chart_png:
                blocks.append(Block("image", "Темы, интересующие педагогов (число ответов)", image=chart_png))
            if qr.texts:
                blocks.append(Block("text", "Варианты «другое»:"))
                blocks += [Block("text", f"— {t}") for t in qr.texts]
        elif qq.kind == QuestionKind.scale:
            mean = "—" if qr.mean is None else _num(qr.mean)
            blocks.append(Block("text", f"Средняя оценка: {mean} (ответили: {ru.people(qr.answered)})."))
            rows = [("Оценка", "Количество", "%")] + [
                (o.label, str(o.count), _pct(o.percent)) for o in qr.options
            ]
            blocks.append(Block("table", rows=tuple(rows)))
        else:
            if qr.texts:
                blocks += [Block("text", f"— {t}") for t in qr.texts]
            else:
                blocks.append(Block("text", "Ответов нет."))
    if r.cross_tab is not None:
        groups, rows_ = r.cross_tab
        blocks.append(Block("gap"))
        blocks.append(Block("text", "Интересующие темы в зависимости от педагогического стажа", bold=True))
        table = [("Тема", *groups)] + [(label, *(str(c) for c in counts)) for label, counts in rows_]
        blocks.append(Block("table", rows=tuple(table)))
    if r.topics is not None:
        top = [line for line in r.topics.lines if line.count > 0][:TOP_NEEDS]
        blocks.append(Block("gap"))
        blocks.append(Block("text", "Предлагаемые темы для плана работы СМО", bold=True))
        if top:
            blocks += [
                Block("text", f"{i}. {line.label} ({line.count}, {_pct(line.percent)})")
                for i, line in enumerate(top, start=1)
            ]
        else:
            blocks.append(Block("text", "Нет ответов."))
    blocks.append(Block("gap"))
    blocks.append(Block("signature", "Сетевой методист", right=methodist))
    return blocks


def topics_chart(r: Results, fmt: Literal["svg", "png"]) -> bytes | None:
    if r.topics is None or not r.topics.lines:
        return None
    lines = r.topics.lines
    return bar_chart(
        [line.label for line in lines],
        [line.count for line in lines],
        title="Темы, интересующие педагогов",
        fmt=fmt,
        horizontal=True,
    )


@dataclass(frozen=True, slots=True)
class ReportFiles:
    title: str
    stem: str
    docx: bytes
    pdf: bytes


async def methodist_name(session: AsyncSession, association_id: int) -> str:
    name = await session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id, Membership.role == Role.methodist)
        .order_by(Membership.id)
        .limit(1)
    )
    return name.short_name if name else ""


async def report_results(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> tuple[Results, str]:
    q = await needs_questionnaire(session, user, questionnaire_id)
    return await compute_results(session, q), await methodist_name(session, q.association_id)


def render_report(r: Results, methodist: str) -> ReportFiles:
    """DOCX and PDF (CPU-bound: call in a thread)."""
    blocks = needs_report_blocks(r, methodist, topics_chart(r, "png"))
    year = r.q.school_year
    title = f"{REPORT_TITLE} ({year}/{year + 1} учебный год)"
    stem = f"Сведения о профессиональных потребностях педагогов {year}-{year + 1}"
    return ReportFiles(title, stem, render_docx(blocks), render_pdf(blocks, title=REPORT_TITLE))


async def publish_report(
    session: AsyncSession, settings: Settings, user: User | None, questionnaire_id: int, files: ReportFiles
) -> LibraryVersion:
    q = await needs_questionnaire(session, user, questionnaire_id)
    return await publish_version(
        session,
        settings,
        association_id=q.association_id,
        kind=LibraryKind.needs_report,
        school_year=q.school_year,
        title=files.title,
        user=user,
        docx=files.docx,
        pdf=files.pdf,
        filename_stem=files.stem,
        note=f"По анкете «{q.title}»"[:500],
    )
