"""Recording a meeting through the real server: the moderator's switch, real aiortc peers
publishing audio and video, one playable WebM file per track, durable rows."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import select

from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.domain.meeting.recording import recording_path
from tests.support.ffprobe import decoded_duration, probe
from tests.support.live import LiveServer
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.test_media_signalling import offerer


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


def tone_windows(path: Path, frequencies: tuple[int, ...]) -> list[dict[int, float]]:
    """Spectral magnitude at each frequency in consecutive 0.5 s windows of the decoded file."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    samples = np.concatenate(chunks)
    size = 24000
    result = []
    for start in range(0, len(samples) - size + 1, size):
        spectrum = np.abs(np.fft.rfft(samples[start : start + size] * np.hanning(size)))
        result.append({f: float(spectrum[round(f * size / 48000)]) for f in frequencies})
    return result


async def tracks(server: LiveServer, meeting_id: int) -> list[RecordingTrack]:
    async with server.runtime.db.read() as s:
        rows = await s.scalars(select(RecordingTrack).where(RecordingTrack.meeting_id == meeting_id))
        return list(rows.all())


async def test_a_recorded_meeting_has_a_playable_file_per_track(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    # Only moderators switch; bad payloads are typed errors that change nothing.
    assert await member.error("recording.switch", {"on": True}) == "forbidden"
    assert await host.error("recording.switch", {"on": "yes"}) == "validation_failed"
    assert await host.error("recording.switch", {}) == "validation_failed"

    speaker = ClientPeer(audio_slots=1, video_slots=1)
    speaker.publish(ToneTrack(frequency=400), "mic")
    speaker.publish(PatternTrack(320, 240), "camera")
    chair = ClientPeer(audio_slots=1, video_slots=1)
    chair.publish(ToneTrack(frequency=1000), "mic")
    try:
        await speaker.offer(offerer(member))
        await chair.offer(offerer(host))
        await wait_for(lambda: chair.frames("video") >= 5, 20, what="media flowing")
        ack = await host.ok("recording.switch", {"on": True})
        started = time.monotonic()
        assert ack["on"] is True and ack["seq"]
        event = await member.wait_event(lambda e: e["type"] == "recording.switched")
        assert event["payload"] == {"on": True}
        assert (await host.ok("recording.switch", {"on": True}))["seq"] is None  # already on
        await wait_for(lambda: time.monotonic() - started >= 4, 10, what="four seconds recorded")
        await host.ok("recording.switch", {"on": False})
        real = time.monotonic() - started

        async def finished() -> list[RecordingTrack]:
            rows = await tracks(server, cast.meeting.id)
            return rows if len(rows) == 3 and all(r.status != "recording" for r in rows) else []

        rows = await wait_for(finished, 15, what="three track files closed")
    finally:
        await speaker.close()
        await chair.close()
    by_source = {(r.participant, r.source): r for r in rows}
    assert set(by_source) == {
        (cast.key("member"), "mic"),
        (cast.key("member"), "camera"),
        (cast.key("methodist"), "mic"),
    }
    for row in rows:
        assert row.status == "complete" and row.error is None and row.dropped == 0
        path = recording_path(server.runtime.settings, row.storage_name)
        assert path.stat().st_size == row.size > 0
        info = probe(path)
        assert [s["codec_name"] for s in info["streams"]] == (["vp8"] if row.kind == "video" else ["opus"])
        duration = float(info["format"]["duration"])
        print(
            f"{row.participant} {row.source}: real {real:.2f}s, ffprobe {duration:.2f}s, row {row.duration:.2f}s"
        )
        assert abs(duration - real) < 1.0 and abs(row.duration - duration) < 0.1
        assert abs(decoded_duration(path) - real) < 1.0
    camera = by_source[(cast.key("member"), "camera")]
    assert (camera.width, camera.height) == (320, 240)
    async with server.runtime.db.read() as s:
        recording = await s.scalar(
            select(MeetingRecording).where(MeetingRecording.meeting_id == cast.meeting.id)
        )
    assert recording is not None and recording.status == "pending"

    # After the meeting, a durable job mixes the microphones into one Ogg/Opus file.
    await host.ok("meeting.end")

    async def mixed() -> MeetingRecording | None:
        async with server.runtime.db.read() as s:
            row = await s.scalar(
                select(MeetingRecording).where(MeetingRecording.meeting_id == cast.meeting.id)
            )
        return row if row is not None and row.status == "ready" else None

    made = await wait_for(mixed, 60, what="the mixed audio")
    assert made.audio_storage_name and made.audio_storage_name.endswith(".ogg")
    path = recording_path(server.runtime.settings, made.audio_storage_name)
    info = probe(path)
    assert [s["codec_name"] for s in info["streams"]] == ["opus"]
    print(f"mixed: {made.audio_duration:.2f}s of audio, {made.mix_cpu_seconds:.3f} CPU-s to mix")
    assert abs(float(info["format"]["duration"]) - real) < 1.0
    # Both speakers are in it: the 400 Hz and the 1000 Hz tone in (nearly) every half second.
    windows = tone_windows(path, (400, 1000, 700))
    assert len(windows) >= 6
    both = [w for w in windows if w[400] > 20 * w[700] and w[1000] > 20 * w[700]]
    assert len(both) >= len(windows) - 2, windows
