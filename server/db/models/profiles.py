"""Member profiles: what a teacher tells the community about their work (issue 8), used by
the annual analysis' staff section (7.2). Name, position and school stay on ``users``."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class QualificationCategory(enum.StrEnum):
    none = "none"  # без категории
    first = "first"  # первая
    highest = "highest"  # высшая


class MemberProfile(Base):
    __tablename__ = "member_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    subjects: Mapped[str] = mapped_column(String(300), default="")
    grades: Mapped[str] = mapped_column(String(100), default="")
    experience_years: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[QualificationCategory] = mapped_column(
        Enum(
            QualificationCategory,
            name="qualification_category",
            native_enum=False,
            length=32,
            validate_strings=True,
        ),
        default=QualificationCategory.none,
    )
    category_date: Mapped[date | None] = mapped_column(Date)
    photo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProfileCourse(Base):
    """A professional-development course taken (курсы повышения квалификации)."""

    __tablename__ = "profile_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    hours: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
