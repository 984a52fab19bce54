"""After the meeting: one mixed audio file of the recording (the durable ``recording.mix`` job).

The only place where audio is decoded and encoded: every microphone track's Opus is decoded
with PyAV, placed at its start time (the wall time of its first frame, and the gaps inside the
file kept by their timestamps), summed block by block (a few seconds of memory per track, never
the whole meeting), and encoded once as Ogg/Opus (mono, 32 kbit/s: speech). The job's CPU time
is stored with the result (``mix_cpu_seconds``) — docs/recording.md gives the measured figures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from sqlalchemy import select

from server.db.models import Meeting
from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.db.types import utcnow
from server.domain.meeting.recording import MIX_JOB, recording_path, schedule_expiry
from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.recording")
RATE = 48000
BLOCK = RATE * 5  # samples mixed at a time
BITRATE = 32000
# Tracks still "recording" this long after the meeting's end belonged to a process that died.
WRITERS_GRACE = timedelta(seconds=30)


class TracksStillOpen(RuntimeError):
    """The SFU has not closed every track yet: the job is retried (outbox back-off)."""


@dataclass
class MixResult:
    duration: float  # seconds
    cpu_seconds: float  # this thread's CPU time: decode + mix + encode
    tracks: int


def _decoded(path: Path, offset: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, mono float32 samples) of each decoded frame, on the meeting's timeline."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        base: int | None = None
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # a corrupt packet: skip it, keep the rest
            for frame in frames:
                if frame.pts is None or frame.time_base is None:
                    continue
                start = round(frame.pts * frame.time_base * RATE)
                base = start if base is None else base
                for out in resampler.resample(frame):
                    yield offset + start - base, out.to_ndarray().reshape(-1)


def mix_tracks(inputs: list[tuple[Path, float]], out_path: Path) -> MixResult:
    """Mix ``(file, start offset in seconds)`` into one Ogg/Opus file; runs in a worker thread."""
    cpu0 = time.thread_time()
    sources = [_decoded(path, round(offset * RATE)) for path, offset in inputs]
    pending: list[tuple[int, np.ndarray] | None] = [next(s, None) for s in sources]
    tmp = out_path.with_suffix(".part")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with av.open(str(tmp), "w", format="ogg") as container:
        stream: Any = container.add_stream("libopus", rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = BITRATE
        block_start = 0
        while any(p is not None for p in pending):
            block = np.zeros(BLOCK, dtype=np.float32)
            block_end = block_start + BLOCK
            used = 0
            for i, source in enumerate(sources):
                while (item := pending[i]) is not None and item[0] < block_end:
                    start, samples = item
                    lo, hi = max(start, block_start), min(start + len(samples), block_end)
                    if hi > lo:
                        block[lo - block_start : hi - block_start] += samples[lo - start : hi - start]
                        used = max(used, hi - block_start)
                    if start + len(samples) > block_end:
                        break  # the rest belongs to the next block
                    pending[i] = next(source, None)
            if all(p is None for p in pending):
                block = block[:used]  # the last block ends with the last track
            np.clip(block, -1.0, 1.0, out=block)
            if len(block):
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate = RATE
                frame.pts = block_start
                frame.time_base = Fraction(1, RATE)
                for packet in stream.encode(frame):
                    container.mux(packet)
                written = block_start + len(block)
            block_start = block_end
        for packet in stream.encode(None):
            container.mux(packet)
    os.replace(tmp, out_path)
    return MixResult(written / RATE, time.thread_time() - cpu0, len(inputs))


def _probe_duration(path: Path) -> float:
    """The length of a file cut short by a crash (its header has no duration): read it through."""
    last = 0.0
    with av.open(str(path)) as container:
        stream = container.streams[0]
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
    return last


@job_handler(MIX_JOB)
async def mix_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    meeting_id = int(payload["meeting_id"])
    settings = runtime.settings
    async with runtime.db.read() as session:
        recording = await session.scalar(
            select(MeetingRecording).where(MeetingRecording.meeting_id == meeting_id)
        )
        meeting = await session.get(Meeting, meeting_id)
        if recording is None or meeting is None or recording.status in ("ready", "deleted"):
            return
        rows = list(
            (
                await session.scalars(select(RecordingTrack).where(RecordingTrack.meeting_id == meeting_id))
            ).all()
        )
    open_rows = [r for r in rows if r.status == "recording"]
    if open_rows:
        ended = meeting.ended_at or utcnow()
        if utcnow() - ended < WRITERS_GRACE:
            raise TracksStillOpen(f"{len(open_rows)} track(s) still being written")
        # Their process died mid-recording: the file holds what was flushed before.
        lengths = {}
        for row in open_rows:
            path = recording_path(settings, row.storage_name)
            try:
                lengths[row.id] = await asyncio.to_thread(_probe_duration, path)
            except Exception:
                lengths[row.id] = 0.0
        async with runtime.db.transaction() as session:
            for row in open_rows:
                track = await session.get(RecordingTrack, row.id)
                if track is not None and track.status == "recording":
                    track.status = "interrupted"
                    track.duration = lengths[row.id]
                    path = recording_path(settings, row.storage_name)
                    track.size = path.stat().st_size if path.exists() else 0
                    row.status = track.status
    audio = [
        r
        for r in rows
        if r.kind == "audio" and r.status != "failed" and recording_path(settings, r.storage_name).exists()
    ]
    result: MixResult | None = None
    name = f"{secrets.token_hex(16)}.ogg"
    if audio:
        t0 = min(r.started_at for r in audio)
        inputs = [
            (recording_path(settings, r.storage_name), (r.started_at - t0).total_seconds()) for r in audio
        ]
        result = await asyncio.to_thread(mix_tracks, inputs, recording_path(settings, name))
    async with runtime.db.transaction() as session:
        made = await session.get(MeetingRecording, recording.id)
        if made is None or made.status == "deleted":
            return
        made.made_at = utcnow()
        made.status = "ready"  # without audio tracks (video only, nothing arrived): no mixed file
        if result is not None:
            made.audio_storage_name = name
            made.audio_duration = result.duration
            made.audio_size = recording_path(settings, name).stat().st_size
            made.mix_cpu_seconds = result.cpu_seconds
        await schedule_expiry(session, settings, made)
    if result is not None:
        log.info(
            "recording mixed",
            extra={
                "meeting_id": meeting_id,
                "tracks": result.tracks,
                "seconds": round(result.duration, 1),
                "cpu_seconds": round(result.cpu_seconds, 2),
            },
        )
