"""Speech waiting for transcription: one row per captured segment, with its Opus packets.

Durable before anyone is told: the SFU's capture becomes a row, the transcriber claims it, and
the ``transcript.segment`` event is appended in the same transaction that marks the row done
(so a segment is transcribed into the log exactly once, whatever crashes in between). The
audio is dropped once the row is done or failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class TranscriptJob(Base):
    __tablename__ = "transcript_jobs"
    __table_args__ = (Index("ix_transcript_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    audio: Mapped[bytes] = mapped_column(LargeBinary)  # server/transcription/audio.py's blob
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # claimed by a transcriber
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
