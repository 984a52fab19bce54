"""Topic proposals (clauses 1.3, 6.1): members propose topics for future meetings, others
support them, the methodist accepts one into the work plan or declines it with a reason."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class TopicStatus(enum.StrEnum):
    open = "open"  # collecting support
    accepted = "accepted"  # включено в план
    declined = "declined"  # отклонено (with a reason)


class TopicProposal(Base):
    __tablename__ = "topic_proposals"
    __table_args__ = (Index("ix_topic_proposals_association_status", "association_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TopicStatus] = mapped_column(
        Enum(TopicStatus, name="topic_status", native_enum=False, length=32, validate_strings=True),
        default=TopicStatus.open,
    )
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    # Accepted: the plan row it became and that plan's school year.
    plan_row_id: Mapped[int | None] = mapped_column(ForeignKey("plan_rows.id", ondelete="SET NULL"))
    school_year: Mapped[int | None] = mapped_column(Integer)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TopicSupport(Base):
    """One member's support of a proposal: at most one per person (the unique constraint)."""

    __tablename__ = "topic_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("topic_proposals.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
