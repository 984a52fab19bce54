"""What the recording page shows: the tracks with their speakers and offsets, the video to play
beside the mixed audio (the screen share, else the camera of the person heard longest), and
the transcript's lines from the log (``transcript.segment`` events, when transcription ran)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingEvent, User
from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.domain.accounts.permissions import membership_role
from server.domain.meeting.recording import recording_for_member
from server.errors import NotFound

SOURCE_LABELS = {"mic": "микрофон", "camera": "камера", "screen": "экран"}


@dataclass
class TrackView:
    row: RecordingTrack
    speaker: str  # «И.О. Фамилия» from the log, or the participant key
    label: str  # микрофон / камера / экран
    offset: float  # seconds from the start of the mixed audio


@dataclass
class TranscriptLine:
    offset: float
    speaker: str
    text: str

    @property
    def clock(self) -> str:
        seconds = max(0, int(self.offset))
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class RecordingView:
    meeting: Meeting
    association: Association
    recording: MeetingRecording
    tracks: list[TrackView]
    video: TrackView | None
    lines: list[TranscriptLine]
    can_delete: bool


def clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


async def speaker_names(session: AsyncSession, meeting_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(MeetingEvent.payload).where(
            MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "participant.joined"
        )
    )
    return {p["participant"]: p.get("short_name") or p.get("name") or p["participant"] for (p,) in rows}


def _when(value: Any, t0: datetime) -> float | None:
    """A segment's time: an ISO timestamp, or seconds from the start of the recording."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment - t0).total_seconds()
    return None


async def recording_view(session: AsyncSession, user: User | None, meeting_id: int) -> RecordingView:
    meeting, recording, rows = await recording_for_member(session, user, meeting_id)
    association = await session.get(Association, meeting.association_id)
    if association is None:
        raise NotFound()
    names = await speaker_names(session, meeting_id)
    audio = [r for r in rows if r.kind == "audio"]
    t0 = min(r.started_at for r in (audio or rows)) if rows else meeting.started_at or meeting.starts_at
    tracks = [
        TrackView(
            r,
            names.get(r.participant, r.participant),
            SOURCE_LABELS.get(r.source, r.source),
            (r.started_at - t0).total_seconds(),
        )
        for r in rows
    ]
    screens = [t for t in tracks if t.row.source == "screen" and t.row.frames]
    spoken: dict[str, float] = {}
    for t in tracks:
        if t.row.kind == "audio":
            spoken[t.row.participant] = spoken.get(t.row.participant, 0.0) + t.row.duration
    cameras = sorted(
        (t for t in tracks if t.row.source == "camera" and t.row.frames),
        key=lambda t: (-spoken.get(t.row.participant, 0.0), -t.row.duration),
    )
    video = max(screens, key=lambda t: t.row.duration) if screens else (cameras[0] if cameras else None)
    lines = []
    segments = await session.scalars(
        select(MeetingEvent)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "transcript.segment")
        .order_by(MeetingEvent.seq)
    )
    for event in segments:
        p = event.payload
        start = _when(p.get("started_at", p.get("from")), t0)
        text = str(p.get("text") or "").strip()
        if start is None or not text:
            continue
        who = str(p.get("speaker") or p.get("who") or p.get("participant") or event.actor)
        lines.append(TranscriptLine(start, names.get(who, who), text))
    role = await membership_role(session, user, meeting.association_id)
    can_delete = bool(user and (user.is_admin or (role is not None and role.value == "methodist")))
    return RecordingView(meeting, association, recording, tracks, video, lines, can_delete)


async def track_for_member(
    session: AsyncSession, user: User | None, meeting_id: int, track_id: int
) -> tuple[Meeting, RecordingTrack, str]:
    """One track of the meeting (members and administrators) and its speaker's name."""
    meeting, _, rows = await recording_for_member(session, user, meeting_id)
    row = next((r for r in rows if r.id == track_id), None)
    if row is None:
        raise NotFound()
    names = await speaker_names(session, meeting_id)
    return meeting, row, names.get(row.participant, row.participant)
