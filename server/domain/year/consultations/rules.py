"""Consultations: limits and the shapes the pages get."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from server.db.models import Association, Meeting, User
from server.db.models.consultations import ConsultationAnswer, ConsultationQuestion

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
