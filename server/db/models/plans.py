"""The association's yearly work plan (план работы на учебный год, PROTOCOL.md §2)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class PlanRowStatus(enum.StrEnum):
    planned = "planned"  # запланировано
    held = "held"  # проведено
    moved = "moved"  # перенесено
    cancelled = "cancelled"  # отменено


class PlanRowSource(enum.StrEnum):
    manual = "manual"
    needs = "needs"  # from the needs diagnostics (questionnaires)
    topic = "topic"  # from a member's topic proposal
    analysis = "analysis"  # from last year's annual analysis


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class WorkPlan(Base):
    __tablename__ = "work_plans"
    __table_args__ = (UniqueConstraint("association_id", "school_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    school_year: Mapped[int] = mapped_column(Integer)  # the year the school year starts: 2026 = 2026/2027
    theme: Mapped[str] = mapped_column(Text, default="")  # методическая тема
    goal: Mapped[str] = mapped_column(Text, default="")
    tasks: Mapped[str] = mapped_column(Text, default="")  # one task per line
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PlanRow(Base):
    __tablename__ = "plan_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("work_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the row's № (1-based, kept dense)
    topic: Mapped[str] = mapped_column(String(500))
    questions: Mapped[str] = mapped_column(Text, default="")  # questions for discussion, one per line
    form: Mapped[str] = mapped_column(String(120), default="")  # семинар, круглый стол, мастер-класс…
    planned_date: Mapped[date | None] = mapped_column(Date)
    dates_text: Mapped[str] = mapped_column(String(120), default="")  # «октябрь», when no exact date
    responsible: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[PlanRowStatus] = mapped_column(
        _enum(PlanRowStatus, "plan_row_status"), default=PlanRowStatus.planned
    )
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    source: Mapped[PlanRowSource] = mapped_column(
        _enum(PlanRowSource, "plan_row_source"), default=PlanRowSource.manual
    )
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
