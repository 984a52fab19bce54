"""Feedback after a meeting (clause 5.3: «обмен мнениями»).

When a meeting ends, a short anonymous form (usefulness 1–5, what was most useful, proposals)
is created for it inside the room's end transaction — a few inserts and one outbox job, no
reads of the log. The job (``questionnaires.feedback_mail``) then mails the link to every
person with an account who was present in the room (``participant.joined`` events of the
meeting's log), once per person (outbox dedupe keys).

``feedback_summary`` gives the annual analysis one line per meeting of the school year that
has a feedback form: responses and the average usefulness.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingEvent, Membership, User
from server.db.models.questionnaires import (
    Question,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnairePurpose,
    QuestionnaireResponse,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from server.db.types import utcnow
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.protocol import russian as ru
from server.domain.protocol.workflow import school_year_of
from server.domain.year import anonymous
from server.mail.outbox import Mail, enqueue, enqueue_mail
from server.workers import job_handler, wake_outbox

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.feedback")

FEEDBACK_DAYS = 14  # the form stays open this long after the meeting
MAIL_JOB = "questionnaires.feedback_mail"


@dataclass(frozen=True, slots=True)
class MeetingFeedback:
    meeting_id: int
    title: str
    date: date  # the meeting's day (Moscow time)
    responses: int
    average: float | None  # mean usefulness 1–5, two decimals; None without answers


def meeting_day(meeting: Meeting) -> date:
    return ru.moscow(meeting.started_at or meeting.starts_at).date()


async def usefulness(session: AsyncSession, questionnaire_id: int) -> tuple[int, float | None]:
    """(responses, mean of the usefulness scale) of one feedback questionnaire."""
    responses = (
        await session.scalar(
            select(func.count(QuestionnaireResponse.id)).where(
                QuestionnaireResponse.questionnaire_id == questionnaire_id
            )
        )
        or 0
    )
    values = (
        await session.scalars(
            select(QuestionnaireAnswer.value)
            .join(Question, Question.id == QuestionnaireAnswer.question_id)
            .where(
                Question.questionnaire_id == questionnaire_id,
                Question.tag == QuestionTag.usefulness,
                QuestionnaireAnswer.value.is_not(None),
            )
        )
    ).all()
    nums = [v for v in values if v is not None]
    # Responses still sealed (server/domain/year/anonymous.py), opened in memory.
    responses += await anonymous.sealed_count(session, [questionnaire_id])
    scale_ids = set(
        await session.scalars(
            select(Question.id).where(
                Question.questionnaire_id == questionnaire_id, Question.tag == QuestionTag.usefulness
            )
        )
    )
    sealed = await anonymous.sealed_answers(session, [questionnaire_id])
    nums += [a.value for a in sealed if a.question_id in scale_ids and a.value is not None]
    return responses, (round(sum(nums) / len(nums), 2) if nums else None)


async def feedback_summary(
    session: AsyncSession, association_id: int, school_year: int
) -> list[MeetingFeedback]:
    """One line per meeting of that school year with a feedback form, by date."""
    rows = (
        await session.execute(
            select(Questionnaire.id, Meeting)
            .join(Meeting, Meeting.id == Questionnaire.meeting_id)
            .where(
                Questionnaire.association_id == association_id,
                Questionnaire.purpose == QuestionnairePurpose.feedback,
            )
        )
    ).all()
    out: list[MeetingFeedback] = []
    for qid, meeting in rows:
        day = meeting_day(meeting)
        if school_year_of(day) != school_year:
            continue
        responses, average = await usefulness(session, qid)
        out.append(MeetingFeedback(meeting.id, meeting.title, day, responses, average))
    out.sort(key=lambda f: (f.date, f.meeting_id))
    return out


# --- the form after a meeting ------------------------------------------------------------------
FEEDBACK_QUESTIONS: list[dict[str, Any]] = [
    {
        "kind": "scale",
        "text": "Насколько полезным было для вас заседание? (1 — бесполезно, 5 — очень полезно)",
        "required": True,
        "tag": QuestionTag.usefulness,
    },
    {"kind": "text", "text": "Что было наиболее полезным?", "required": False},
    {"kind": "text", "text": "Ваши предложения", "required": False},
]


async def create_feedback_form(session: AsyncSession, meeting: Meeting) -> Questionnaire | None:
    """The meeting's feedback questionnaire, open now; None when it already exists."""
    exists = await session.scalar(
        select(Questionnaire.id).where(
            Questionnaire.meeting_id == meeting.id, Questionnaire.purpose == QuestionnairePurpose.feedback
        )
    )
    if exists is not None:
        return None
    now = utcnow()
    q = Questionnaire(
        association_id=meeting.association_id,
        meeting_id=meeting.id,
        purpose=QuestionnairePurpose.feedback,
        template=QuestionnaireTemplate.feedback,
        title=f"Отзыв о заседании «{meeting.title}»"[:300],
        description="Анонимная анкета: ваши ответы никто не сможет связать с вами.",
        anonymous=True,
        status=QuestionnaireStatus.open,
        opens_at=now,
        closes_at=now + timedelta(days=FEEDBACK_DAYS),
        school_year=school_year_of(meeting_day(meeting)),
        published_at=now,
    )
    session.add(q)
    await session.flush()
    for position, spec in enumerate(FEEDBACK_QUESTIONS, start=1):
        session.add(
            Question(
                questionnaire_id=q.id,
                position=position,
                kind=spec["kind"],
                text=spec["text"],
                required=spec["required"],
                options=[],
                tag=spec.get("tag", QuestionTag.none),
            )
        )
    await session.flush()
    return q


@on_meeting_change
async def _feedback_on_end(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    """Runs in the live room's end transaction: a savepoint, a few inserts, one job; never raises."""
    if change.kind != "ended":
        return
    try:
        async with session.begin_nested():
            q = await create_feedback_form(session, meeting)
            if q is not None:
                await enqueue(session, MAIL_JOB, f"feedback-mail:{meeting.id}", {"questionnaire_id": q.id})
    except Exception:
        log.exception("feedback form not created", extra={"meeting_id": meeting.id})


async def attendee_ids(session: AsyncSession, meeting_id: int) -> list[int]:
    """People with an account who joined the meeting's room: the actors («u:<id>») of the log's
    ``participant.joined`` events (guests, «g:<id>», have no account and get no mail)."""
    actors = (
        await session.scalars(
            select(MeetingEvent.actor)
            .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "participant.joined")
            .distinct()
        )
    ).all()
    return sorted({int(k[2:]) for k in actors if k.startswith("u:") and k[2:].isdigit()})


@job_handler(MAIL_JOB)
async def _mail_feedback(runtime: Runtime, payload: dict[str, Any]) -> None:
    """One mail per attendee who is a member of the association; idempotent by dedupe key."""
    qid = int(payload["questionnaire_id"])
    async with runtime.db.transaction() as s:
        q = await s.get(Questionnaire, qid)
        if q is None or q.meeting_id is None or q.status != QuestionnaireStatus.open:
            return
        meeting = await s.get(Meeting, q.meeting_id)
        association = await s.get(Association, q.association_id)
        if meeting is None or association is None:
            return
        ids = await attendee_ids(s, meeting.id)
        if not ids:
            return
        users = (
            await s.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.association_id == q.association_id, User.id.in_(ids))
                .order_by(User.id)
            )
        ).all()
        link = f"{runtime.settings.public_url.rstrip('/')}/questionnaires/{q.id}"
        day = ru.date_text(meeting_day(meeting))
        closes = ru.date_text(ru.moscow(q.closes_at).date()) if q.closes_at else ""
        for u in users:
            text = (
                f"Здравствуйте!\n\nСпасибо за участие в заседании «{meeting.title}» ({day}), "
                f"{association.name}.\n"
                "Пожалуйста, ответьте на три вопроса анонимной анкеты — это займёт минуту:\n"
                f"{link}\n" + (f"\nАнкета открыта до {closes}.\n" if closes else "")
            )
            await enqueue_mail(
                s,
                f"feedback:{q.id}:user:{u.id}",
                Mail(to=u.email, subject=f"Отзыв о заседании «{meeting.title}»", text=text),
            )
    wake_outbox(runtime)
