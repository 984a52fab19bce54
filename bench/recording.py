"""Benchmark: what recording costs, in CPU time (independent of the machine's other load).

1. The forwarding loop's share: ``TrackWriter.feed`` per RTP packet (an append to a deque).
2. The writer thread: reassembly of VP8 frames from RTP payloads and WebM muxing, per packet
   and per second of 720p video (≈ 1.5 Mbit/s) and of Opus, as CPU time of that thread.
3. The mixing job after the meeting: decoding N Opus tracks, mixing and encoding one Ogg/Opus
   file, CPU seconds per minute of meeting.

    .venv/bin/python bench/recording.py [--seconds 20] [--tracks 4]

Ends with one JSON line. ``bench/sfu.py --recording`` measures the same cost inside the SFU
(forwarding with and without recording, same run).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np

from realtime.media.hooks import vp8_packetize
from realtime.media.recorder import TrackResult, TrackWriter, _template
from server.domain.meeting.recording_mix import mix_tracks

WIDTH, HEIGHT, FPS = 1280, 720, 30


def video_packets(seconds: float) -> list[tuple[int, int, int, bytes, float]]:
    codec: Any = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = 1_500_000
    codec.time_base = Fraction(1, FPS)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    frames = []
    for i in range(2 * FPS):  # two seconds encoded, replayed (as bench/sfu.py does)
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for p, plane in enumerate(frame.planes):
            row = bytes((x + i * 7 + p * 50) % 256 for x in range(plane.line_size))
            plane.update(row * (plane.buffer_size // plane.line_size))
        frame.pts = i
        frames.extend(bytes(pkt) for pkt in codec.encode(frame))
    out = []
    seq = 0
    for n in range(int(seconds * FPS)):
        payloads = vp8_packetize(frames[n % len(frames)], n)
        for i, payload in enumerate(payloads):
            out.append((seq & 0xFFFF, n * 3000, int(i == len(payloads) - 1), payload, n / FPS))
            seq += 1
    return out


def opus_packets(seconds: float, frequency: int) -> list[tuple[int, int, int, bytes, float]]:
    codec: Any = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "mono", "s16"
    codec.time_base = Fraction(1, 48000)
    t = np.arange(960) / 48000
    out = []
    for n in range(int(seconds * 50)):
        samples = (np.sin(2 * math.pi * frequency * (t + n * 0.02)) * 12000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, n * 960
        for packet in codec.encode(frame):
            out.append((len(out) & 0xFFFF, n * 960, 0, bytes(packet), n / 50))
    return out


def write(path: Path, kind: str, packets: list[tuple[int, int, int, bytes, float]]) -> dict[str, Any]:
    """Feed every packet (timing feed alone), then let the thread finish; its CPU time is read
    inside the thread when it reports."""
    done = threading.Event()
    cpu: list[float] = []
    results: list[TrackResult] = []

    def finished(result: TrackResult) -> None:
        cpu.append(time.thread_time())
        results.append(result)
        done.set()

    writer = TrackWriter(path, kind, finished)
    t0 = time.perf_counter_ns()
    for packet in packets:
        writer.feed(*packet)
    feed_ns = (time.perf_counter_ns() - t0) / len(packets)
    writer.close()
    done.wait(120)
    result = results[0]
    return {
        "kind": kind,
        "packets": len(packets),
        "frames": result.frames,
        "bytes": result.bytes,
        "dropped": result.dropped,
        "feed_ns_per_packet": round(feed_ns),
        "writer_cpu_s": round(cpu[0], 3),
        "writer_us_per_packet": round(cpu[0] / len(packets) * 1e6, 1),
        "writer_cpu_share": round(cpu[0] / result.duration, 4) if result.duration else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--tracks", type=int, default=4, help="microphone tracks mixed")
    args = ap.parse_args()
    # Once per process, the codecs' stream templates (≈ 30 ms holding the GIL): not per track.
    t0 = time.perf_counter()
    _template("video"), _template("audio")
    template_ms = (time.perf_counter() - t0) * 1000
    with tempfile.TemporaryDirectory(prefix="bench-rec-") as tmp:
        root = Path(tmp)
        video = write(root / "camera.webm", "video", video_packets(args.seconds))
        audio_paths = []
        audio = []
        for n in range(args.tracks):
            path = root / f"mic{n}.webm"
            audio.append(write(path, "audio", opus_packets(args.seconds, 400 + 200 * n)))
            audio_paths.append((path, n * 0.5))
        wall = time.perf_counter()
        mixed = mix_tracks(audio_paths, root / "mixed.ogg")
        wall = time.perf_counter() - wall
    per_minute = mixed.cpu_seconds / mixed.duration * 60
    print(
        f"720p VP8: feed {video['feed_ns_per_packet']} ns/pkt on the loop; writer "
        f"{video['writer_us_per_packet']} µs/pkt = {video['writer_cpu_share'] * 100:.2f}% of a core"
    )
    print(
        f"Opus: feed {audio[0]['feed_ns_per_packet']} ns/pkt; writer {audio[0]['writer_us_per_packet']} µs/pkt"
        f" = {audio[0]['writer_cpu_share'] * 100:.2f}% of a core"
    )
    print(
        f"mix of {mixed.tracks} tracks × {args.seconds:.0f} s: {mixed.cpu_seconds:.2f} CPU-s "
        f"({per_minute:.2f} CPU-s per minute of meeting, {wall:.2f} s wall)"
    )
    print(
        json.dumps(
            {
                "seconds": args.seconds,
                "templates_ms_once_per_process": round(template_ms, 1),
                "video": video,
                "audio": audio[0],
                "mix": {
                    "tracks": mixed.tracks,
                    "duration_s": round(mixed.duration, 2),
                    "cpu_s": round(mixed.cpu_seconds, 3),
                    "cpu_s_per_meeting_minute": round(per_minute, 3),
                    "real_time_factor": round(mixed.cpu_seconds / mixed.duration, 4),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
