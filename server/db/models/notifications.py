"""In-app notifications (one row per person and event) and per-person e-mail preferences."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class NotificationKind(enum.StrEnum):
    announcement = "announcement"  # new announcement in my association
    meeting_tomorrow = "meeting_tomorrow"  # a meeting I may attend starts tomorrow
    protocol_review = "protocol_review"  # a protocol is open for members' review
    protocol_approved = "protocol_approved"
    resource_pending = "resource_pending"  # (methodists) a resource awaits moderation
    question_answered = "question_answered"  # an answer in my consultation thread
    meeting_invitation = "meeting_invitation"  # information letter about a meeting
    competition = "competition"  # competition announced / results published
    topic_proposal = "topic_proposal"  # (methodists) a member proposed a topic; or mine was decided


class EmailMode(enum.StrEnum):
    immediately = "immediately"
    daily = "daily"  # at most one digest per day
    never = "never"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # One notification per person and logical event: re-running a job never duplicates it.
        UniqueConstraint("user_id", "dedupe_key"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_kind"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # E-mail: when it went into the outbox (immediately) or into a digest; None = not (yet) mailed.
    emailed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_pref_kind"))
    email: Mapped[EmailMode] = mapped_column(_enum(EmailMode, "notification_email_mode"))
