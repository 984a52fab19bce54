"""Competitions (конкурсы, clause 3.5): the call with its criteria and jury, members' entries
with files, the jury's scores, and the published ranking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class Competition(Base):
    __tablename__ = "competitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    entries_from: Mapped[datetime] = mapped_column(UtcDateTime)  # приём работ с
    entries_until: Mapped[datetime] = mapped_column(UtcDateTime)  # приём работ до (exclusive)
    judging_until: Mapped[datetime] = mapped_column(UtcDateTime)  # работа жюри до
    winners_count: Mapped[int] = mapped_column(Integer, default=3)  # prize places: 1..3
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    results_published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CompetitionCriterion(Base):
    __tablename__ = "competition_criteria"
    __table_args__ = (UniqueConstraint("competition_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    max_score: Mapped[int] = mapped_column(Integer)


class CompetitionJuror(Base):
    __tablename__ = "competition_jurors"
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class CompetitionEntry(Base):
    __tablename__ = "competition_entries"
    # One entry per member per competition.
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    annotation: Mapped[str] = mapped_column(Text, default="")
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="RESTRICT"))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set when the results are published.
    total: Mapped[float | None] = mapped_column(Float)
    place: Mapped[int | None] = mapped_column(Integer)
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)


class CompetitionScore(Base):
    __tablename__ = "competition_scores"
    __table_args__ = (UniqueConstraint("entry_id", "criterion_id", "juror_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("competition_entries.id", ondelete="CASCADE"), index=True
    )
    criterion_id: Mapped[int] = mapped_column(ForeignKey("competition_criteria.id", ondelete="CASCADE"))
    juror_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
