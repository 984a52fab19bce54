"""Encoded frames straight from the publisher's RTP packets, as soon as they are complete.

aiortc's jitter buffer hands a frame over only when the first packet of the *next* frame
arrives (and holds four audio frames): one frame interval for video — 200 ms for a 5 fps
screen share — and 80 ms for audio. The SFU therefore forwards Opus packets as they come and
closes a VP8 frame on its marker bit, while aiortc's receiver keeps doing NACK, RTCP and
PLI-on-loss on the same packets. Retransmissions (RTX) complete frames late; a frame older
than one already forwarded is dropped (the subscriber's decoder asks for a key frame).
"""

from __future__ import annotations

from aiortc.codecs.vpx import vp8_depayload
from aiortc.rtp import RtpPacket

PENDING_FRAMES = 8
MAX_FRAME_PACKETS = 2000


def newer(a: int, b: int) -> bool:
    """RTP timestamp ``a`` is after ``b`` (32-bit wrap-around)."""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


class Vp8Assembler:
    def __init__(self, payload_type: int, rtx_payload_type: int | None) -> None:
        self.payload_type = payload_type
        self.rtx_payload_type = rtx_payload_type
        self._pending: dict[int, dict[int, tuple[bytes, bool]]] = {}  # ts -> seq -> (payload, marker)
        self._newest: int | None = None  # timestamp of the newest frame forwarded

    def add(self, packet: RtpPacket) -> tuple[bytes, int] | None:
        payload = packet.payload
        if packet.payload_type == self.payload_type:
            seq = packet.sequence_number
        elif packet.payload_type == self.rtx_payload_type and len(payload) > 2:
            seq = int.from_bytes(payload[:2], "big")  # RFC 4588: original sequence number first
            payload = payload[2:]
        else:
            return None
        ts = packet.timestamp
        if not payload or (self._newest is not None and not newer(ts, self._newest)):
            return None
        parts = self._pending.get(ts)
        if parts is None:
            if len(self._pending) >= PENDING_FRAMES:
                del self._pending[next(iter(self._pending))]
            parts = self._pending[ts] = {}
        parts[seq] = (payload, bool(packet.marker))
        return self._complete(ts, parts)

    def _complete(self, ts: int, parts: dict[int, tuple[bytes, bool]]) -> tuple[bytes, int] | None:
        start = next((s for s, (p, _) in parts.items() if p[0] & 0x10 and not p[0] & 0x07), None)
        end = next((s for s, (_, marker) in parts.items() if marker), None)
        if start is None or end is None:
            return None
        count = ((end - start) & 0xFFFF) + 1
        if count > MAX_FRAME_PACKETS or count > len(parts):
            return None
        seqs = [(start + i) & 0xFFFF for i in range(count)]
        if any(s not in parts for s in seqs):
            return None
        try:
            data = b"".join(vp8_depayload(parts[s][0]) for s in seqs)
        except ValueError:
            data = b""
        self._newest = ts
        for old in [t for t in self._pending if not newer(t, ts)]:
            del self._pending[old]
        return (data, ts) if data else None
