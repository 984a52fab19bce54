"""The meeting's transcript: the switches, the durable queue of captured speech, and the
``transcript.segment`` / ``transcript.failed`` events the transcriber appends.

Exactly once: a queued row is claimed with a lease (any process may transcribe it), and its
event is appended in the same transaction that marks the row done, only if the row is still
pending — a second transcriber (after a crash, a lease that ran out) finds it done and appends
nothing. The audio is deleted with the row's completion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingEvent, MeetingStatus
from server.db.models.transcripts import TranscriptJob
from server.db.types import utcnow
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_moderator, require_open
from server.domain.meeting.room_state import Actor, RoomState

Switch = Literal["transcription", "recording"]
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 3
FailReason = Literal["corrupt_audio", "engine_error", "not_transcribed_in_time", "not_stored"]


# --- the switches ------------------------------------------------------------------------------
async def switch(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, which: Switch, on: bool
) -> list[LoggedEvent]:
    """A moderator switches the meeting's transcription or recording on or off (no event when
    nothing changes)."""
    require_moderator(state, actor)
    require_open(state)
    if bool(state.meeting.get(which)) == on:
        return []
    return await append_events(session, meeting_id, [(f"{which}.switched", actor.key, {"on": on})])


async def default_switches(session: AsyncSession, meeting: Meeting) -> list[tuple[str, str, dict[str, Any]]]:
    """The association's defaults as events of the meeting's first start (only the switches
    that are on; actor ``system``)."""
    association = await session.get(Association, meeting.association_id)
    if association is None:
        return []
    items: list[tuple[str, str, dict[str, Any]]] = []
    if association.transcription_default:
        items.append(("transcription.switched", "system", {"on": True}))
    if association.recording_default:
        items.append(("recording.switched", "system", {"on": True}))
    return items


async def switched_on(session: AsyncSession, meeting_id: int, which: Switch) -> bool:
    """The switch's state from the log (its last event), for a media node taking a meeting."""
    payload = await session.scalar(
        select(MeetingEvent.payload)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == f"{which}.switched")
        .order_by(MeetingEvent.seq.desc())
        .limit(1)
    )
    return bool(payload and payload.get("on"))


# --- the queue ---------------------------------------------------------------------------------
async def enqueue_speech(
    session: AsyncSession,
    meeting_id: int,
    participant: str,
    started_at: datetime,
    ended_at: datetime,
    audio: bytes,
) -> int:
    job = TranscriptJob(
        meeting_id=meeting_id,
        participant=participant,
        started_at=started_at,
        ended_at=ended_at,
        audio=audio,
        status="pending",
        attempts=0,
        error="",
    )
    session.add(job)
    await session.flush()
    return job.id


@dataclass(frozen=True, slots=True)
class ClaimedSpeech:
    id: int
    meeting_id: int
    participant: str
    started_at: datetime
    ended_at: datetime
    audio: bytes
    attempts: int


async def claim_next(session: AsyncSession, *, skip_locked: bool) -> ClaimedSpeech | None:
    """The oldest pending row whose lease is free, leased to the caller."""
    now = utcnow()
    query = (
        select(TranscriptJob)
        .where(
            TranscriptJob.status == "pending",
            (TranscriptJob.lease_until.is_(None)) | (TranscriptJob.lease_until < now),
        )
        .order_by(TranscriptJob.id)
        .limit(1)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    job = (await session.execute(query)).scalar_one_or_none()
    if job is None:
        return None
    job.lease_until = now + LEASE
    job.attempts += 1
    return ClaimedSpeech(
        job.id, job.meeting_id, job.participant, job.started_at, job.ended_at, job.audio, job.attempts
    )


async def release_leases(session: AsyncSession) -> int:
    """At a transcriber's start: rows leased by a process that died are free again (a live
    one finishing later is harmless: its completion finds the row done and appends nothing)."""
    result = await session.execute(
        update(TranscriptJob)
        .where(TranscriptJob.status == "pending", TranscriptJob.lease_until.is_not(None))
        .values(lease_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, job_id: int, error: str) -> None:
    """Give a row back after a transient failure (retried by the next claim)."""
    await session.execute(
        update(TranscriptJob)
        .where(TranscriptJob.id == job_id, TranscriptJob.status == "pending")
        .values(lease_until=None, error=error[:2000])
    )


async def _finish(session: AsyncSession, job_id: int, status: str, error: str = "") -> bool:
    result = await session.execute(
        update(TranscriptJob)
        .where(TranscriptJob.id == job_id, TranscriptJob.status == "pending")
        .values(status=status, audio=b"", lease_until=None, error=error[:2000])
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def _reassemble_when_last(session: AsyncSession, job: ClaimedSpeech) -> None:
    """The last queued segment of an ended meeting is logged: its protocol draft is assembled
    again (a durable job; an approved protocol is left as it is)."""
    from server.domain.protocol.workflow import ASSEMBLE_JOB
    from server.mail.outbox import enqueue

    meeting = await session.get(Meeting, job.meeting_id)
    if meeting is None or meeting.status not in (MeetingStatus.ended,):
        return
    if await pending_count(session, job.meeting_id):
        return
    key = f"{ASSEMBLE_JOB}:{job.meeting_id}:transcript:{job.id}"
    await enqueue(session, ASSEMBLE_JOB, key, {"meeting_id": job.meeting_id})


async def wait_for_transcript(session: AsyncSession, meeting_id: int, wait_seconds: float) -> None:
    """For the protocol job: raise ``Deferred`` while the meeting's speech is still queued,
    up to ``wait_seconds`` after the meeting ended; then fail what is left (the protocol's
    ПРИМЕЧАНИЯ name it) so the draft is assembled without it."""
    from server.workers import Deferred

    if not await pending_count(session, meeting_id):
        return
    meeting = await session.get(Meeting, meeting_id)
    ended = (meeting.ended_at if meeting is not None else None) or utcnow()
    if utcnow() < ended + timedelta(seconds=wait_seconds):
        raise Deferred(2.0)
    await give_up_pending(session, meeting_id)


async def complete(
    session: AsyncSession, job: ClaimedSpeech, text: str, language: str, model: str
) -> list[LoggedEvent]:
    """The row is done; its ``transcript.segment`` (if anything was heard) goes into the log in
    the same transaction. Nothing when another transcriber got there first."""
    if not await _finish(session, job.id, "done"):
        return []
    await _reassemble_when_last(session, job)
    text = text.strip()[:20_000]
    if not text:
        return []
    payload = {
        "participant": job.participant,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "text": text,
        "language": language,
        "model": model,
    }
    return await append_events(session, job.meeting_id, [("transcript.segment", "system", payload)])


async def fail(
    session: AsyncSession, job: ClaimedSpeech, reason: FailReason, detail: str = ""
) -> list[LoggedEvent]:
    """The row cannot be transcribed: ``transcript.failed`` names it (the meeting goes on)."""
    if not await _finish(session, job.id, "failed", detail or reason):
        return []
    if reason != "not_transcribed_in_time":
        await _reassemble_when_last(session, job)
    payload = {
        "participant": job.participant,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "reason": reason,
    }
    return await append_events(session, job.meeting_id, [("transcript.failed", "system", payload)])


async def not_stored(
    session: AsyncSession, meeting_id: int, participant: str, started_at: datetime, ended_at: datetime
) -> list[LoggedEvent]:
    """Captured speech that could not be queued (a full disk, the database away): its
    ``transcript.failed`` (``not_stored``) says so; the audio itself is gone."""
    payload = {
        "participant": participant,
        "started_at": started_at,
        "ended_at": ended_at,
        "reason": "not_stored",
    }
    return await append_events(session, meeting_id, [("transcript.failed", "system", payload)])


async def pending_count(session: AsyncSession, meeting_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(TranscriptJob)
            .where(TranscriptJob.meeting_id == meeting_id, TranscriptJob.status == "pending")
        )
        or 0
    )


async def give_up_pending(session: AsyncSession, meeting_id: int) -> list[LoggedEvent]:
    """The protocol stopped waiting: every row still pending is failed (``not_transcribed_in_time``)."""
    rows = (
        await session.scalars(
            select(TranscriptJob)
            .where(TranscriptJob.meeting_id == meeting_id, TranscriptJob.status == "pending")
            .order_by(TranscriptJob.id)
        )
    ).all()
    events: list[LoggedEvent] = []
    for row in rows:
        job = ClaimedSpeech(row.id, row.meeting_id, row.participant, row.started_at, row.ended_at, b"", 0)
        events += await fail(session, job, "not_transcribed_in_time")
    return events


# --- search ------------------------------------------------------------------------------------
TRANSCRIPT_KIND = "transcript"


async def index_transcript(session: AsyncSession, meeting_id: int) -> bool:
    """The meeting's transcript in the search index (kind ``transcript``): members of the
    association and administrators find it, as they find the association's protocols."""
    from server.search import index_entry

    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return False
    rows = (
        await session.execute(
            select(MeetingEvent.type, MeetingEvent.payload)
            .where(
                MeetingEvent.meeting_id == meeting_id,
                MeetingEvent.type.in_(("participant.joined", "transcript.segment")),
            )
            .order_by(MeetingEvent.seq)
        )
    ).all()
    names: dict[str, str] = {}
    lines: list[str] = []
    for event_type, payload in rows:
        if event_type == "participant.joined":
            names[payload["participant"]] = payload.get("short_name") or payload["participant"]
        else:
            who = names.get(payload["participant"], payload["participant"])
            lines.append(f"{who}: {payload['text']}")
    if not lines:
        return False
    await index_entry(
        session,
        kind=TRANSCRIPT_KIND,
        object_id=meeting.id,
        association_id=meeting.association_id,
        title=f"Расшифровка выступлений — {meeting.title}",
        body="\n".join(lines),
        url=f"/meetings/{meeting.id}",
    )
    return True
