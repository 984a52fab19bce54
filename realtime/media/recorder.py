"""Recording one published track: its encoded packets muxed into a WebM file as they arrive.

The forwarding event loop only appends ``(seq, timestamp, marker, payload, arrival)`` to a
bounded deque (``TrackWriter.feed``); a writer thread per track drains it every
``POLL_SECONDS``, reassembles frames without decoding (VP8: the RFC 7741 payload descriptor,
frame start by the S bit, end by the marker bit, every sequence number in between; Opus: one
packet is one frame), waits for a key frame at the start and after a lost frame (asking the
publisher for one), and muxes the frames with PyAV into WebM (Matroska) with pts from the RTP
timestamps. Clusters close every ``CLUSTER_MS`` and the file is flushed after each packet
written, so a crash loses at most the last cluster (a couple of seconds). A full disk or any
write error closes the track's file and marks the result failed; the meeting goes on.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger("smo.recording")

POLL_SECONDS = 0.1
CLUSTER_MS = 2000
MAX_PENDING = 8192  # packets waiting for the writer thread (≈ 30 s of 720p video)
HOLD_SECONDS = 0.5  # an incomplete frame is given up when newer packets are this much later
CLOCK = {"audio": 48000, "video": 90000}

Packet = tuple[int, int, int, bytes, float]  # seq, RTP timestamp, marker, payload, arrival


@dataclass
class TrackResult:
    """What the writer thread reports when the file is closed."""

    path: Path
    kind: str
    frames: int = 0
    bytes: int = 0
    duration: float = 0.0  # seconds between the first and the last frame written (+ one frame)
    first_arrival: float | None = None  # time.monotonic() of the first frame written
    dropped: int = 0  # packets dropped because the writer fell behind
    lost_frames: int = 0  # incomplete frames skipped
    width: int = 0
    height: int = 0
    error: str | None = None


def vp8_descriptor(payload: bytes) -> tuple[bool, int] | None:
    """(starts a frame, descriptor length) of a VP8 RTP payload, None if malformed."""
    n = len(payload)
    if n < 2:
        return None
    b0 = payload[0]
    i = 1
    if b0 & 0x80:
        b1 = payload[1]
        i = 2
        if b1 & 0x80:
            if i >= n:
                return None
            i += 2 if payload[i] & 0x80 else 1
        if b1 & 0x40:
            i += 1
        if b1 & 0x30:
            i += 1
    if i >= n:
        return None
    return bool(b0 & 0x10) and not b0 & 0x07, i


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) if ``frame`` is a VP8 key frame (RFC 6386 §9.1), else None."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(frame[8:10], "little") & 0x3FFF


class _Unwrap:
    """16/32-bit RTP counters extended to monotonic integers."""

    def __init__(self, bits: int) -> None:
        self.mod = 1 << bits
        self.half = 1 << (bits - 1)
        self.last: int | None = None
        self.ext = 0

    def __call__(self, value: int) -> int:
        if self.last is None:
            self.last, self.ext = value, value
            return value
        delta = (value - self.last) % self.mod
        if delta >= self.half:
            delta -= self.mod
        ext = self.ext + delta
        if delta > 0:
            self.last, self.ext = value, ext
        return ext


@dataclass
class _Pending:
    parts: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # ext seq -> (marker, payload)
    arrival: float = 0.0


class Vp8Assembler:
    """Whole VP8 frames from RTP packets (reordering and RTX-late packets within HOLD_SECONDS)."""

    def __init__(self) -> None:
        self.seq = _Unwrap(16)
        self.ts = _Unwrap(32)
        self.pending: dict[int, _Pending] = {}
        self.last_ts: int | None = None
        self.lost = 0

    def push(self, packet: Packet) -> list[tuple[int, bytes, float]]:
        seq, ts, marker, payload, arrival = packet
        ext_seq, ext_ts = self.seq(seq), self.ts(ts)
        if self.last_ts is not None and ext_ts <= self.last_ts:
            return []  # a frame already written or given up
        entry = self.pending.get(ext_ts)
        if entry is None:
            entry = self.pending[ext_ts] = _Pending(arrival=arrival)
        entry.parts[ext_seq] = (marker, payload)
        out: list[tuple[int, bytes, float]] = []
        while self.pending:
            oldest = min(self.pending)
            frame = self._complete(self.pending[oldest])
            if frame is None:
                if arrival - self.pending[oldest].arrival < HOLD_SECONDS:
                    break
                self.lost += 1
                frame = b""  # given up: the writer waits for the next key frame
            out.append((oldest, frame, self.pending.pop(oldest).arrival))
            self.last_ts = oldest
        return out

    @staticmethod
    def _complete(entry: _Pending) -> bytes | None:
        parts = entry.parts
        seqs = sorted(parts)
        if not parts[seqs[-1]][0] or seqs[-1] - seqs[0] + 1 != len(seqs):
            return None
        chunks = []
        for n, s in enumerate(seqs):
            desc = vp8_descriptor(parts[s][1])
            if desc is None or (n == 0 and not desc[0]):
                return None
            chunks.append(parts[s][1][desc[1] :])
        return b"".join(chunks)


class OpusAssembler:
    def __init__(self) -> None:
        self.seq = _Unwrap(16)
        self.ts = _Unwrap(32)
        self.last_ts: int | None = None
        self.lost = 0

    def push(self, packet: Packet) -> list[tuple[int, bytes, float]]:
        seq, ts, _marker, payload, arrival = packet
        self.seq(seq)
        ext_ts = self.ts(ts)
        if self.last_ts is not None and ext_ts <= self.last_ts:
            return []
        self.last_ts = ext_ts
        return [(ext_ts, payload, arrival)]


_templates: dict[str, tuple[Any, Any]] = {}
_templates_lock = threading.Lock()


def _template(kind: str) -> Any:
    """A stream carrying the codec's parameters (the Opus header), made once per process by
    encoding one tiny frame in memory; output streams are created from it without opening an
    encoder (no libvpx encoder, with its frame buffers, per recorded track)."""
    with _templates_lock:
        if kind not in _templates:
            buf = io.BytesIO()
            with av.open(buf, "w", format="webm") as out:
                frame: Any
                if kind == "video":
                    stream: Any = out.add_stream("libvpx", rate=30)
                    stream.width = stream.height = 16
                    stream.pix_fmt = "yuv420p"
                    frame = av.VideoFrame(16, 16, "yuv420p")
                else:
                    stream = out.add_stream("libopus", rate=48000)
                    stream.layout = "stereo"
                    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
                    frame.sample_rate = 48000
                    for plane in frame.planes:
                        plane.update(bytes(plane.buffer_size))
                frame.pts = 0
                for encoded in [*stream.encode(frame), *stream.encode(None)]:
                    out.mux(encoded)
            buf.seek(0)
            container = av.open(buf, "r")
            _templates[kind] = (container, container.streams[0])
        return _templates[kind][1]


class TrackWriter:
    """One track's file. ``feed`` runs on the event loop (an append); the rest in a thread."""

    def __init__(
        self,
        path: Path,
        kind: str,
        on_done: Callable[[TrackResult], None],
        request_keyframe: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.result = TrackResult(path, kind)
        self._queue: deque[Packet] = deque()
        self._finished = False  # the thread ended (closed, or failed): feed drops everything
        self._stop = threading.Event()
        self._on_done = on_done
        self._request_keyframe = request_keyframe
        self._thread = threading.Thread(target=self._run, name=f"rec-{path.stem}", daemon=True)
        self._thread.start()

    # --- on the event loop ---------------------------------------------------------------------
    def feed(self, seq: int, ts: int, marker: int, payload: bytes, arrival: float) -> None:
        queue = self._queue
        if len(queue) >= MAX_PENDING or self._finished:
            self.result.dropped += 1
            return
        queue.append((seq, ts, marker, payload, arrival))

    def close(self) -> None:
        """Finish the file (the thread drains what is queued, then reports via ``on_done``)."""
        self._stop.set()

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # --- in the writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        assembler: Vp8Assembler | OpusAssembler = Vp8Assembler() if self.kind == "video" else OpusAssembler()
        muxer = _Muxer(self.path, self.kind, self.result)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                stopping = self._stop.wait(POLL_SECONDS)
                queue = self._queue
                while queue:
                    for frame in assembler.push(queue.popleft()):
                        if muxer.write(*frame) and self._request_keyframe is not None:
                            self._request_keyframe()
                if stopping:
                    break
        except Exception as exc:  # a full disk, a corrupt packet PyAV refuses: this track ends
            log.warning("recording of %s failed: %s", self.path.name, exc)
            self.result.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self._finished = True
            self._queue.clear()
            self.result.lost_frames = assembler.lost
            muxer.close()
            try:
                self._on_done(self.result)
            except Exception:
                log.exception("recording callback failed")


class _Muxer:
    def __init__(self, path: Path, kind: str, result: TrackResult) -> None:
        self.path = path
        self.kind = kind
        self.result = result
        self.container: Any = None
        self.stream: Any = None
        self.first_ts: int | None = None
        self.last_pts = 0
        self.need_keyframe = kind == "video"
        self.time_base = Fraction(1, CLOCK[kind])
        self.last_request = float("-inf")

    def _open(self, width: int, height: int) -> None:
        self.container = av.open(
            str(self.path),
            "w",
            format="webm",
            options={"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"},
        )
        self.stream = self.container.add_stream_from_template(_template(self.kind), opaque=True)
        if self.kind == "video":
            self.stream.codec_context.width = width
            self.stream.codec_context.height = height
            self.result.width, self.result.height = width, height

    def write(self, ts: int, data: bytes, arrival: float) -> bool:
        """Mux one frame; True if the publisher should be asked for a key frame."""
        keyframe = True
        if self.kind == "video":
            size = vp8_keyframe_size(data) if data else None
            keyframe = size is not None
            if self.need_keyframe and not keyframe:
                now = time.monotonic()
                if now - self.last_request >= 1.0:
                    self.last_request = now
                    return True
                return False
            if size is not None and self.container is None:
                self._open(*size)
            self.need_keyframe = not data
            if not data:
                return True
        elif self.container is None:
            if not data:
                return False
            self._open(0, 0)
        if self.first_ts is None:
            self.first_ts = ts
            self.result.first_arrival = arrival
        pts = ts - self.first_ts
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = self.time_base
        packet.stream = self.stream
        packet.is_keyframe = keyframe
        self.container.mux(packet)
        self.last_pts = pts
        self.result.frames += 1
        self.result.bytes += len(data)
        return False

    def close(self) -> None:
        if self.container is None:
            return
        step = 960 if self.kind == "audio" else 3000
        self.result.duration = (self.last_pts + step) / CLOCK[self.kind]
        try:
            self.container.close()
        except Exception as exc:
            self.result.error = self.result.error or f"{type(exc).__name__}: {exc}"[:200]
        self.container = None
