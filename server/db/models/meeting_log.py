"""The meeting's append-only event log: the one source of truth of what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class MeetingEvent(Base):
    __tablename__ = "meeting_events"
    __table_args__ = (UniqueConstraint("meeting_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    # Per-meeting, gap-free, increasing; assigned from meetings.last_seq in the same transaction.
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    # "u:<user id>", "g:<guest id>" or "system".
    actor: Mapped[str] = mapped_column(String(32), default="system")
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
