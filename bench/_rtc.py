"""Helpers shared by the media benchmarks (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Iterable
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack


async def inbound_totals(pcs: Iterable[RTCPeerConnection]) -> tuple[int, int]:
    """(packets lost, packets received) over every receiving transceiver of the peers."""
    lost = received = 0
    for pc in pcs:
        for t in pc.getTransceivers():
            if t.direction == "recvonly":
                for st in (await t.receiver.getStats()).values():
                    if st.type == "inbound-rtp":
                        lost += max(st.packetsLost, 0)
                        received += st.packetsReceived
    return lost, received


def enlarge_receive_buffers(pcs: Iterable[RTCPeerConnection], size: int = 1 << 20) -> None:
    """Give the load generator's UDP sockets a browser-sized receive buffer (Chromium's RTP
    sockets ask for about 1 MB; Linux's default 208 kB overflows when several publishers'
    key frames reach one subscriber in the same millisecond on loopback)."""
    import socket

    for pc in pcs:
        for t in pc.getTransceivers()[:1]:
            connection = t.receiver.transport.transport._connection
            for protocol in connection._protocols:
                transport = protocol.transport
                if transport is not None and not transport.is_closing():  # ICE closed unused pairs
                    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def encode_vp8(
    width: int, height: int, fps: int, seconds: float, bitrate: int, *, one_key_frame: bool = False
) -> list[bytes]:
    """A synthetic moving picture as VP8 (``one_key_frame``: a key frame first, then delta
    frames only)."""
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, fps)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    if one_key_frame:
        codec.options = {**codec.options, "kf-max-dist": "100000"}
    frames = []
    for i in range(int(seconds * fps)):
        frame = av.VideoFrame(width, height, "yuv420p")
        for p, plane in enumerate(frame.planes):
            row = bytes((x + i * 7 + p * 50) % 256 for x in range(plane.line_size))
            plane.update(row * (plane.buffer_size // plane.line_size))
        frame.pts = i
        frames.extend(bytes(pkt) for pkt in codec.encode(frame))
    return frames


def encode_opus(packets: int = 50) -> list[bytes]:
    """A 440 Hz tone as Opus payloads of 20 ms."""
    import av
    from aiortc.codecs.opus import OpusEncoder

    opus = OpusEncoder()
    audio: list[bytes] = []
    for i in range(packets):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        samples = b"".join(
            int(8000 * math.sin(2 * math.pi * 440 * (i * 960 + n) / 48000)).to_bytes(2, "little", signed=True)
            * 2
            for n in range(960)
        )
        frame.planes[0].update(samples)
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, fractions.Fraction(1, 48000)
        payloads, _ = opus.encode(frame)
        audio.extend(payloads)
    return audio


class Replay(MediaStreamTrack):
    """Pre-encoded frames at their real rate (sent through the SFU's PackOnlyEncoder); a PLI
    that reaches the publisher (``keyframe``) restarts from the key frame."""

    def __init__(self, kind: str, frames: list[bytes], rate: int, step: int) -> None:
        super().__init__()
        self.kind = kind
        self.frames, self.rate, self.step = frames, rate, step
        self.i = 0
        self.offset = 0
        self.keyframe = False
        self.start = time.monotonic()

    async def recv(self) -> Any:  # an EncodedFrame
        from realtime.media.forwarding import EncodedFrame

        wait = self.start + self.i / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self.keyframe:
            self.keyframe = False
            self.offset = -(self.i % len(self.frames))
        data = self.frames[(self.i + self.offset) % len(self.frames)]
        self.i += 1
        return EncodedFrame(data, self.i * self.step)
