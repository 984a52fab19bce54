"""Meeting recordings: one WebM file per published track, and the meeting's mixed audio.

The bytes live with the other stored files (``<var_dir>/files/rec/``), under random names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class RecordingTrack(Base):
    """One published track (microphone, camera or screen) written while recording was on.

    ``status``: ``recording`` while its writer runs; ``complete``; ``failed`` (disk full, write
    error: the file holds what was written before); ``interrupted`` (the process died: found
    still ``recording`` after the meeting, its file read back to learn its length). A track that
    ended before its first frame (a camera whose first key frame never came) is ``complete``
    with ``frames == 0`` and has no file."""

    __tablename__ = "recording_tracks"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant: Mapped[str] = mapped_column(String(16))  # participant key, "u:3" / "g:5"
    source: Mapped[str] = mapped_column(String(8))  # mic / camera / screen
    kind: Mapped[str] = mapped_column(String(8))  # audio / video
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="recording")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)  # wall time of the first frame
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[int] = mapped_column(Integer, default=0)  # packets the writer could not keep up with
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MeetingRecording(Base):
    """The meeting's recording as a whole: the mixed audio made after the meeting, and its end
    (deleted by the methodist or after the retention period)."""

    __tablename__ = "meeting_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/ready/failed/deleted
    audio_storage_name: Mapped[str | None] = mapped_column(String(64))
    audio_duration: Mapped[float] = mapped_column(Float, default=0.0)
    audio_size: Mapped[int] = mapped_column(BigInteger, default=0)
    mix_cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # the mixing job's cost
    error: Mapped[str | None] = mapped_column(String(200))
    made_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deletion_reason: Mapped[str | None] = mapped_column(String(16))  # methodist / retention
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
