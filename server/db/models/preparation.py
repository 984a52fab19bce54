"""Preparing a meeting (clause 5.1): its materials, members' registrations, and the
information letters (with their iCalendar sequence) sent about it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class MaterialKind(enum.StrEnum):
    file = "file"  # an uploaded file (server/files)
    link = "link"  # an http(s) address


class LetterReason(enum.StrEnum):
    letter = "letter"  # информационное письмо (METHOD:REQUEST)
    rescheduled = "rescheduled"  # the start or end moved (METHOD:REQUEST, SEQUENCE+1)
    cancelled = "cancelled"  # the meeting was cancelled (METHOD:CANCEL)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class MeetingMaterial(Base):
    __tablename__ = "meeting_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[MaterialKind] = mapped_column(_enum(MaterialKind, "material_kind"))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2000), default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The resource created from this material («Добавить в базу ресурсов»), once done.
    resource_id: Mapped[int | None] = mapped_column(Integer)


class MeetingRegistration(Base):
    __tablename__ = "meeting_registrations"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MeetingLetter(Base):
    """One sending of the letter, an update or a cancellation, at one iCalendar SEQUENCE.

    ``recipients`` are the user ids it was addressed to; the mails themselves are queued by the
    ``meeting.letter`` job (dedupe key ``letter:{meeting}:{sequence}:{user}``).
    """

    __tablename__ = "meeting_letters"
    __table_args__ = (Index("ix_meeting_letters_meeting_sequence", "meeting_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    reason: Mapped[LetterReason] = mapped_column(_enum(LetterReason, "letter_reason"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recipients: Mapped[list[int]] = mapped_column(JsonType, default=list)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
