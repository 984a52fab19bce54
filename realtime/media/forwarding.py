"""Forwarding encoded frames to subscribers without a codec.

A publisher's receiver hands over reassembled encoded frames (``hooks.PassthroughQueue``); each
subscriber slot is a ``SlotTrack`` on one of the subscriber's senders, whose encoder is a
``PackOnlyEncoder``: the sender re-packetises the frame and does its own RTP/RTCP, NACK/RTX
history and sender reports, per leg.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiortc.codecs.base import Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from realtime.media.hooks import vp8_packetize

QUEUE_FRAMES = 64
# Timestamp step inserted when a slot switches source (one frame at 30 fps / 20 ms of Opus).
STEP = {"audio": 960, "video": 3000}


@dataclass(slots=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # in the codec's clock, already on the slot's output timeline


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and not data[0] & 0x01


class PackOnlyEncoder(Encoder):
    """The SFU never encodes: ``encode`` is an error, ``pack`` re-packetises."""

    encoded = 0  # instances never count up; tests assert that

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.picture_id = 0
        self.packed = 0

    def encode(self, frame: object, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise RuntimeError("the SFU forwards encoded media and never encodes")

    def pack(self, packet: EncodedFrame) -> tuple[list[bytes], int]:  # type: ignore[override]
        self.packed += 1
        if self.kind == "audio":
            return [packet.data], packet.timestamp
        payloads = vp8_packetize(packet.data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, packet.timestamp


class SlotTrack(MediaStreamTrack):
    """One of a subscriber's receive slots: carries whichever source the policy assigns.

    Timestamps stay continuous across source switches; a video slot waits for a key frame
    after every switch and asks the source for one (``need_keyframe``)."""

    def __init__(self, kind: str, mid: str) -> None:
        super().__init__()
        self.kind = kind
        self.mid = mid
        self.source: object | None = None  # the Publication currently forwarded
        self.need_keyframe: Callable[[], None] | None = None
        self.frames_in = 0
        self.frames_dropped = 0
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue()
        self._waiting_keyframe = kind == "video"
        self._offset = 0
        self._last_in: int | None = None
        self._last_out: int | None = None

    def assign(self, source: object | None) -> None:
        if source is self.source:
            return
        self.source = source
        self._last_in = None  # re-base the timeline on the next frame
        if self.kind == "video":
            self._waiting_keyframe = True

    def push(self, data: bytes, timestamp: int) -> None:
        if self.readyState != "live":
            return
        if self._waiting_keyframe:
            if not is_vp8_keyframe(data):
                self.frames_dropped += 1
                if self.need_keyframe is not None:
                    self.need_keyframe()
                return
            self._waiting_keyframe = False
        if self._last_in is None:
            if self._last_out is not None:
                self._offset = (self._last_out + STEP[self.kind] - timestamp) & 0xFFFFFFFF
            else:
                self._offset = 0
        self._last_in = timestamp
        out = (timestamp + self._offset) & 0xFFFFFFFF
        self._last_out = out
        if self._queue.qsize() >= QUEUE_FRAMES:
            # The sender is not keeping up: drop, and restart video from a key frame.
            self.frames_dropped += 1
            if self.kind == "video":
                self._waiting_keyframe = True
            return
        self.frames_in += 1
        self._queue.put_nowait(EncodedFrame(data, out))

    def request_keyframe(self) -> None:
        """The subscriber sent PLI/FIR."""
        if self.need_keyframe is not None:
            self.need_keyframe()

    async def recv(self) -> EncodedFrame:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError
        return frame

    def stop(self) -> None:
        if self.readyState == "live":
            self._queue.put_nowait(None)
        super().stop()
