"""Meeting protocols: the draft, its frozen versions, human edits and review remarks.

A protocol's content is never stored as the only copy of the truth: a version keeps the
inputs of the pure assembly (the meeting record as it was, the log up to ``last_seq``, the
edits, the form) and the resulting text, so every version can be rendered again exactly.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class ProtocolStatus(enum.StrEnum):
    draft = "draft"  # assembled, being edited by the chair or secretary
    review = "review"  # members may leave remarks until review_until
    approved = "approved"  # numbered and frozen (a correction reopens it as a draft)


class MeetingProtocol(Base):
    __tablename__ = "protocols"
    __table_args__ = (UniqueConstraint("association_id", "school_year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: one protocol per meeting, so assembly can never yield two drafts.
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    status: Mapped[ProtocolStatus] = mapped_column(
        Enum(ProtocolStatus, name="protocol_status", native_enum=False, length=16),
        default=ProtocolStatus.draft,
    )
    form: Mapped[str] = mapped_column(String(8), default="full")
    presence_share: Mapped[float] = mapped_column(Float, default=0.5)
    # The school year (1 September – 31 August) by its first calendar year, and the number in it.
    school_year: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    # The current draft: assembled text and the log position it was assembled from.
    text: Mapped[str] = mapped_column(Text, default="")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    assembled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    review_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=0)  # last approved version, 0 = none
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProtocolVersion(Base):
    """An approved, frozen version (№ 1 is the first approval; corrections add more)."""

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("protocol_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    info: Mapped[dict[str, Any]] = mapped_column(JsonType)  # the MeetingInfo the assembly used
    last_seq: Mapped[int] = mapped_column(Integer)
    edits: Mapped[dict[str, Any]] = mapped_column(JsonType)
    form: Mapped[str] = mapped_column(String(8))
    presence_share: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProtocolEdit(Base):
    """One human edit of an editable part; the latest per key applies. Kept for the history."""

    __tablename__ = "protocol_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProtocolRemark(Base):
    """A member's remark on the draft during review; the methodist resolves it."""

    __tablename__ = "protocol_remarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str] = mapped_column(Text, default="")
