"""A meeting's recording made without a call: synthetic camera and microphone frames are
encoded, cut into RTP payloads and fed to the SFU's own ``TrackWriter``, with their rows, then
the real mixing job runs. For the page, download and retention tests (the real call is in
tests/test_recording_flow.py)."""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from realtime.media.hooks import vp8_packetize
from realtime.media.recorder import TrackResult, TrackWriter
from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.domain.meeting.recording import recording_path
from server.domain.meeting.recording_mix import mix_job


def write_track(path: Path, kind: str, seconds: float, frequency: int = 400) -> TrackResult:
    """Encode ``seconds`` of a moving pattern (VP8 320×240, 30 fps) or a tone (Opus, 20 ms
    frames) and write it through a TrackWriter, as the SFU would."""
    done = threading.Event()
    results: list[TrackResult] = []

    def finished(result: TrackResult) -> None:
        results.append(result)
        done.set()

    writer = TrackWriter(path, kind, finished)
    seq = 1000
    if kind == "video":
        encoder: Any = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
        encoder.time_base = Fraction(1, 30)
        encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        for n in range(round(seconds * 30)):
            frame = av.VideoFrame.from_ndarray(
                np.full((240, 320, 3), (n * 7) % 256, dtype=np.uint8), format="rgb24"
            ).reformat(format="yuv420p")
            frame.pts = n
            for packet in encoder.encode(frame):
                payloads = vp8_packetize(bytes(packet), n)
                for i, payload in enumerate(payloads):
                    writer.feed(seq & 0xFFFF, n * 3000, int(i == len(payloads) - 1), payload, n / 30)
                    seq += 1
    else:
        encoder = av.CodecContext.create("libopus", "w")
        encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
        encoder.time_base = Fraction(1, 48000)
        t = np.arange(960) / 48000
        for n in range(round(seconds * 50)):
            samples = (np.sin(2 * math.pi * frequency * (t + n * 0.02)) * 12000).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, n * 960
            for packet in encoder.encode(frame):
                writer.feed(seq & 0xFFFF, n * 960, 0, bytes(packet), n / 50)
                seq += 1
    writer.close()
    assert done.wait(30)
    return results[0]


@dataclass
class Made:
    recording_id: int
    track_ids: dict[tuple[str, str], int]


async def make_recording(
    runtime: Any,
    meeting_id: int,
    start: datetime,
    tracks: list[tuple[str, str, float, float]],
) -> Made:
    """``tracks``: (participant, source, start offset s, seconds); then the mixing job runs."""
    ids: dict[tuple[str, str], int] = {}
    async with runtime.db.transaction() as s:
        recording = MeetingRecording(meeting_id=meeting_id, status="pending")
        s.add(recording)
        for n, (participant, source, offset, seconds) in enumerate(tracks):
            kind = "audio" if source == "mic" else "video"
            name = f"{secrets.token_hex(16)}.webm"
            result = write_track(recording_path(runtime.settings, name), kind, seconds, 400 + 600 * n)
            row = RecordingTrack(
                meeting_id=meeting_id,
                participant=participant,
                source=source,
                kind=kind,
                storage_name=name,
                status="complete",
                started_at=start + timedelta(seconds=offset),
                duration=result.duration,
                size=result.path.stat().st_size,
                frames=result.frames,
                width=result.width,
                height=result.height,
            )
            s.add(row)
            await s.flush()
            ids[(participant, source)] = row.id
        await s.flush()
        recording_id = recording.id
    await mix_job(runtime, {"meeting_id": meeting_id})
    return Made(recording_id, ids)
