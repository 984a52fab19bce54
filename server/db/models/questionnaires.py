"""Questionnaires (анкетирование, clauses 3.1, 5.1, 5.3, 7.5): the form, its questions, who
took part, and the answers.

Anonymity is a property of the schema (and of the transactions: an anonymous response is
written sealed by the respondent and opened only at the close, server/domain/year/anonymous.py): ``questionnaire_participants`` says *who* answered
(one row per person, the primary key makes a second answer impossible) and
``questionnaire_responses`` holds *what* was answered, with a random id, no person and no
time. Nothing links the two tables (no shared counter either: both are ``WITHOUT ROWID`` on
SQLite, keyed by a person id and a random token). Only a *named* questionnaire records the
author of a response, in ``questionnaire_authors``, which the domain never writes for an
anonymous one (and anonymity cannot change once the questionnaire is published).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class QuestionnaireStatus(enum.StrEnum):
    draft = "draft"  # черновик: the methodist edits it
    open = "open"  # открыта: members answer
    closed = "closed"  # закрыта: results only


class QuestionnairePurpose(enum.StrEnum):
    general = "general"
    pre = "pre"  # before a meeting (5.1)
    feedback = "feedback"  # after a meeting (5.3)


class QuestionnaireTemplate(enum.StrEnum):
    custom = "custom"
    needs = "needs"  # «Диагностика профессиональных потребностей педагогов» (3.1, 7.5)
    feedback = "feedback"  # the short form after a meeting


class QuestionKind(enum.StrEnum):
    single = "single"  # один вариант
    multiple = "multiple"  # несколько вариантов (+ «другое»)
    scale = "scale"  # шкала 1–5
    text = "text"  # свободный ответ


class QuestionTag(enum.StrEnum):
    """What a question means to the rest of the system (set by the templates)."""

    none = ""
    needs_topics = "needs_topics"  # the topics of interest: needs_summary, top needs → plan
    experience = "experience"  # teaching experience: the needs report's cross-tab
    usefulness = "usefulness"  # the feedback form's 1–5 scale: feedback_summary's average


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Questionnaire(Base):
    __tablename__ = "questionnaires"
    # One pre-meeting and one feedback questionnaire per meeting (NULL meetings do not clash).
    __table_args__ = (UniqueConstraint("meeting_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    purpose: Mapped[QuestionnairePurpose] = mapped_column(
        _enum(QuestionnairePurpose, "questionnaire_purpose"), default=QuestionnairePurpose.general
    )
    template: Mapped[QuestionnaireTemplate] = mapped_column(
        _enum(QuestionnaireTemplate, "questionnaire_template"), default=QuestionnaireTemplate.custom
    )
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[QuestionnaireStatus] = mapped_column(
        _enum(QuestionnaireStatus, "questionnaire_status"), default=QuestionnaireStatus.draft
    )
    opens_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The school year it belongs to (by its first calendar year): needs_summary groups by it.
    school_year: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Question(Base):
    __tablename__ = "questionnaire_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # 1-based, dense
    kind: Mapped[QuestionKind] = mapped_column(_enum(QuestionKind, "question_kind"))
    text: Mapped[str] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list[str]] = mapped_column(JsonType, default=list)  # single/multiple
    allow_other: Mapped[bool] = mapped_column(Boolean, default=False)  # multiple: «другое»
    tag: Mapped[QuestionTag] = mapped_column(_enum(QuestionTag, "question_tag"), default=QuestionTag.none)


class QuestionnaireParticipant(Base):
    """Who has answered: one row per person (the key forbids a second answer). No time."""

    __tablename__ = "questionnaire_participants"
    __table_args__ = {"sqlite_with_rowid": False}

    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class QuestionnaireResponse(Base):
    """What was answered: a random id, no person, no time."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # secrets.token_hex(16)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True
    )


class QuestionnaireSealed(Base):
    """An anonymous response while its questionnaire is open: sealed under the questionnaire's
    key (server/domain/year/anonymous.py), one length for all, no person, no time."""

    __tablename__ = "questionnaire_sealed"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # secrets.token_hex(16)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True
    )
    box: Mapped[bytes] = mapped_column(LargeBinary)


class QuestionnaireAnswer(Base):
    """One question's answer inside a response."""

    __tablename__ = "questionnaire_answers"
    __table_args__ = {"sqlite_with_rowid": False}

    response_id: Mapped[str] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_questions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    choices: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # option indexes
    other: Mapped[str] = mapped_column(Text, default="")  # the «другое» text
    value: Mapped[int | None] = mapped_column(Integer)  # scale 1–5
    text: Mapped[str] = mapped_column(Text, default="")  # free text


class QuestionnaireAuthor(Base):
    """Named questionnaires only: who wrote a response (never written for anonymous ones)."""

    __tablename__ = "questionnaire_authors"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
