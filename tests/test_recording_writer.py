"""Recording in the SFU engine with real aiortc peers: each published track's encoded packets
become a WebM file that ffprobe reads without error, as long as the real publication."""

from __future__ import annotations

import asyncio
import random
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from realtime.media.config import MediaConfig
from realtime.media.peer import Publication
from realtime.media.recorder import TrackResult, TrackWriter, Vp8Assembler, vp8_keyframe_size
from realtime.media.sfu import Sfu
from tests.support.ffprobe import decoded_duration, probe
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.test_media_sfu import join


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: list[TrackResult] = []
        self.opened: list[tuple[str, str, float]] = []

    def opener(self, pub: Publication) -> TrackWriter:
        loop = asyncio.get_running_loop()
        self.opened.append((pub.participant, pub.source, time.monotonic()))
        path = self.root / f"{pub.participant.replace(':', '')}-{pub.source}.webm"
        return TrackWriter(
            path,
            pub.kind,
            lambda result: loop.call_soon_threadsafe(self.done.append, result),
            lambda: loop.call_soon_threadsafe(pub.request_keyframe),
        )


async def test_each_track_becomes_a_playable_webm(tmp_path: Path) -> None:
    sfu = Sfu(MediaConfig())
    files = Files(tmp_path)
    alice = ClientPeer()
    alice.publish(ToneTrack(), "mic")
    alice.publish(PatternTrack(320, 240), "camera")
    bob = ClientPeer()
    bob.publish(ToneTrack(lambda t: int(t) % 2 == 0), "mic")
    try:
        await join(sfu, 1, "u:1", alice)
        await join(sfu, 1, "u:2", bob)
        await wait_for(lambda: bob.frames("video") >= 10, 20, what="media flowing")
        room = sfu.room(1)
        room.set_recording(files.opener)
        started = time.monotonic()
        await wait_for(lambda: time.monotonic() - started >= 4, 10, what="four seconds of recording")
        room.set_recording(None)
        stopped = time.monotonic()
        await wait_for(lambda: len(files.done) == 3, 10, what="three files closed")
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
    real = stopped - started
    by_name = {r.path.name: r for r in files.done}
    assert set(by_name) == {"u1-mic.webm", "u1-camera.webm", "u2-mic.webm"}
    for result in files.done:
        assert result.error is None and result.dropped == 0
        info = probe(result.path)
        codecs = [s["codec_name"] for s in info["streams"]]
        assert codecs == (["vp8"] if result.kind == "video" else ["opus"])
        duration = float(info["format"]["duration"])
        print(result.path.name, f"real {real:.2f}s, ffprobe {duration:.2f}s, frames {result.frames}")
        assert abs(duration - real) < 1.0
        assert abs(decoded_duration(result.path) - real) < 1.0
    video = probe(by_name["u1-camera.webm"].path)["streams"][0]
    assert (video["width"], video["height"]) == (320, 240)


def _vp8_packets(frame: bytes, ts: int, seq: int, mtu: int = 100) -> list[tuple[int, int, int, bytes, float]]:
    chunks = [frame[i : i + mtu] for i in range(0, len(frame), mtu)]
    return [
        (seq + n & 0xFFFF, ts, int(n == len(chunks) - 1), bytes([0x10 if n == 0 else 0x00]) + c, 0.0)
        for n, c in enumerate(chunks)
    ]


def test_vp8_reassembly_reorders_and_gives_up_incomplete_frames() -> None:
    key = b"\x00\x00\x00\x9d\x01\x2a" + (320).to_bytes(2, "little") + (240).to_bytes(2, "little") + bytes(300)
    assert vp8_keyframe_size(key) == (320, 240)
    assembler = Vp8Assembler()
    first = _vp8_packets(key, 0xFFFFFF00, 0xFFFE)  # both counters wrap inside
    out = [f for p in reversed(first) for f in assembler.push(p)]
    assert [f[1] for f in out] == [key]
    # A frame with a missing middle packet is held, then given up once later packets are late.
    inter = b"\x01" + bytes(250)
    broken = _vp8_packets(inter, 0xFFFFFF00 + 3000, 0xFFFE + 4)
    assert [f for p in (broken[0], broken[2]) for f in assembler.push(p)] == []
    later = [(s, ts, m, pl, 0.6) for s, ts, m, pl, _ in _vp8_packets(inter, 0xFFFFFF00 + 6000, 0xFFFE + 7)]
    out = [f for p in later for f in assembler.push(p)]
    assert [f[1] for f in out] == [b"", inter] and assembler.lost == 1
    # A late packet of a frame already given up is ignored.
    assert assembler.push(broken[1]) == []


def test_corrupt_packets_cost_frames_not_the_file(tmp_path: Path) -> None:
    """Garbage in the middle of a camera's stream: the frames it touches are given up, the
    writer waits for the next key frame, the file stays valid; garbage Opus is written as is
    (the mixing job skips what does not decode)."""
    rng = random.Random(7)
    path = tmp_path / "camera.webm"
    packets = list(vp8_stream(4.0))
    middle = len(packets) // 2
    seq = packets[middle][0]
    for n in range(40):  # forged packets with the stream's timestamps and random bytes
        _, ts, _, _, arrival = packets[middle + n]
        packets.insert(
            middle + 2 * n,
            (
                (seq + 30000 + n) & 0xFFFF,
                ts,
                rng.getrandbits(1),
                rng.randbytes(rng.randrange(1, 60)),
                arrival,
            ),
        )
    result = write_packets(path, "video", packets)
    assert result.error is None and result.frames > 60 and result.lost_frames >= 1
    info = probe(path)
    assert info["streams"][0]["codec_name"] == "vp8" and abs(float(info["format"]["duration"]) - 4.0) < 0.5
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert decoded.returncode == 0


def test_a_full_disk_closes_the_track_and_reports_it() -> None:
    """/dev/full: every write fails with ENOSPC. The writer ends with the error, calls back,
    and drops whatever is fed afterwards (bounded memory, nothing raised into the SFU)."""
    results: list[TrackResult] = []
    done = threading.Event()
    writer = TrackWriter(Path("/dev/full"), "video", lambda r: (results.append(r), done.set()))
    for packet in vp8_stream(1.0):
        writer.feed(*packet)
    assert done.wait(30)
    assert results[0].error is not None and "No space" in results[0].error
    before = results[0].dropped
    writer.feed(1, 2, 1, b"\x10\x00", 0.0)
    assert results[0].dropped == before + 1
    writer.close()
    writer.join(5)


def vp8_stream(seconds: float) -> list[tuple[int, int, int, bytes, float]]:
    from realtime.media.hooks import vp8_packetize

    codec: Any = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": "30"}
    out = []
    seq = 65000
    for n in range(round(seconds * 30)):
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(n * 9) % 256]) * plane.buffer_size)
        frame.pts = n
        for packet in codec.encode(frame):
            payloads = vp8_packetize(bytes(packet), n)
            for i, payload in enumerate(payloads):
                out.append((seq & 0xFFFF, n * 3000, int(i == len(payloads) - 1), payload, n / 30))
                seq += 1
    return out


def write_packets(path: Path, kind: str, packets: list[tuple[int, int, int, bytes, float]]) -> TrackResult:
    results: list[TrackResult] = []
    done = threading.Event()
    writer = TrackWriter(path, kind, lambda r: (results.append(r), done.set()))
    for packet in packets:
        writer.feed(*packet)
    writer.close()
    assert done.wait(30)
    return results[0]
