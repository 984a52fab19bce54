"""The association's base of methodological resources (clauses 3.4, 6.1): files or links,
described, proposed by members and moderated by the methodist."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class ResourceKind(enum.StrEnum):
    methodical = "methodical"  # методическая разработка
    lesson_notes = "lesson_notes"  # конспект урока
    presentation = "presentation"  # презентация
    work_program = "work_program"  # рабочая программа
    didactic = "didactic"  # дидактический материал
    video = "video"  # видео
    other = "other"  # другое


class ResourceStatus(enum.StrEnum):
    pending = "pending"  # proposed, awaiting the methodist
    published = "published"
    rejected = "rejected"  # with a reason the author sees


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (Index("ix_resources_association_status", "association_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[ResourceKind] = mapped_column(
        _enum(ResourceKind, "resource_kind"), default=ResourceKind.other
    )
    # Exactly one of file / link.
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    link: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[ResourceStatus] = mapped_column(
        _enum(ResourceStatus, "resource_status"), default=ResourceStatus.pending
    )
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ResourceGrade(Base):
    """One grade level (1–11) a resource is meant for."""

    __tablename__ = "resource_grades"
    __table_args__ = (Index("ix_resource_grades_grade", "grade"),)

    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    grade: Mapped[int] = mapped_column(Integer, primary_key=True)


class ResourceTag(Base):
    """One tag of a resource (stored lower-cased)."""

    __tablename__ = "resource_tags"
    __table_args__ = (Index("ix_resource_tags_tag", "tag"),)

    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
