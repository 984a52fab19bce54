"""Network consultations (clause 3.3): question threads, answers, the named experts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class ConsultationExpert(Base):
    """A member the methodist named an expert: their answers count as expert answers."""

    __tablename__ = "consultation_experts"
    __table_args__ = (UniqueConstraint("association_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    named_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsultationQuestion(Base):
    """A consultation thread: a member's question."""

    __tablename__ = "consultation_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    # The live consultation (a meeting of the form «консультация») held on this question.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    solved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsultationAnswer(Base):
    __tablename__ = "consultation_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("consultation_questions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    body: Mapped[str] = mapped_column(Text)
    # Written by a methodist, a named expert or an administrator at the time of answering.
    is_expert: Mapped[bool] = mapped_column(Boolean, default=False)
    # The solution of the thread (at most one per question, kept by the domain).
    is_solution: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# Short names for modules that import them from here (``server.db.models`` exports only the
# prefixed ones: the questionnaires have their own ``Question``).
Question = ConsultationQuestion
Answer = ConsultationAnswer
