"""Announcements (clause 2.2): news the methodist posts to the association's members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class Announcement(Base):
    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_association_created", "association_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    # Plain text; links are made clickable when shown (never stored as markup).
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AnnouncementFile(Base):
    """An attachment of an announcement (the bytes: ``stored_files``)."""

    __tablename__ = "announcement_files"
    __table_args__ = (UniqueConstraint("announcement_id", "file_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=1)
