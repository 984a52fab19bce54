"""RTP-level forwarding: the publisher's decrypted packets, rewritten per subscriber slot.

The publisher's bundle transport hands every decrypted RTP packet to the SFU
(``hooks.install_transport_tap``) before aiortc's receiver sees it; the receiver still does its
own bookkeeping on the same packet (receiver reports, NACK and PLI towards the publisher, its
jitter buffer feeding ``hooks.PassthroughQueue`` — no decoder ever runs). Each subscriber slot
(``SlotTrack``) then rewrites SSRC / sequence number / timestamp / payload type / header
extensions by packing a 12-byte header in front of the publisher's payload, SRTP-protects the
result with the subscriber's context and sends it on the subscriber's nominated ICE socket —
no ``RtpPacket`` object, no task, no await per forwarded packet.

Kept per leg: a packet history answering the subscriber's NACKs with RTX (``retransmit``),
sender reports rebuilt from the publisher's (``sender_report``: the publisher's NTP time with
the RTP timestamp mapped onto the slot's timeline, so lip sync survives), PLI/FIR forwarded to
the publisher (rate-limited by the publication), a re-read of the socket whenever ICE
nominates another pair (ICE restart, new candidate). The subscriber's ``RTCRtpSender`` stays
in place for SDP, RTCP and stats; its own RTP loop idles on ``SlotTrack.recv``.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.codecs.base import Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from realtime.media import hooks, sendthread
from realtime.media.hooks import vp8_packetize

# Timestamp step inserted when a slot switches source (one frame at 30 fps / 20 ms of Opus),
# at least; a longer pause advances the timeline by the wall-clock time.
STEP = {"audio": 960, "video": 3000}
CLOCK = {"audio": 48000, "video": 90000}
REORDER_WINDOW = 1024  # late packets (RTX) forwarded up to this far behind the newest
HISTORY = {"audio": 64, "video": 512}  # packets kept per slot for NACK (powers of two)


@dataclass(slots=True)
class EncodedFrame:
    """A pre-encoded frame for ``PackOnlyEncoder.pack`` (used by test and bench clients)."""

    data: bytes
    timestamp: int


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and not data[0] & 0x01


def vp8_keyframe_start(payload: bytes) -> bool:
    """The RTP payload (RFC 7741 descriptor + data) starts a VP8 key frame."""
    n = len(payload)
    if n < 2:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:  # S bit set and partition 0
        return False
    i = 1
    if b0 & 0x80:  # X: extension byte
        b1 = payload[1]
        i = 2
        if b1 & 0x80:  # I: picture id, 7 or 15 bits
            if i >= n:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if b1 & 0x40:  # L: TL0PICIDX
            i += 1
        if b1 & 0x30:  # T or K: TID/KEYIDX
            i += 1
    return i < n and not payload[i] & 0x01


class PackOnlyEncoder(Encoder):
    """Sits in every server sender's encoder slot so aiortc never creates a codec there.

    Forwarded media does not pass through it (the fast path sends RTP itself); test and bench
    *clients* use it to send pre-encoded frames."""

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


def _unbound(b0: int, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
    raise RuntimeError("slot not bound to its subscriber's transport")


class PySlotCore:
    """A slot's per-packet state and ``forward``, in Python: what ``_dataplane.SlotCore``
    (``_slot.c``) does in one C call, used when the extension is not built (or with
    ``SMO_MEDIA_PYTHON_SLOTS=1``) and the reference its tests compare the C one against.

    The subclass provides ``_bind`` (read the subscriber's transport) and ``_rebind`` (ICE
    nominated another pair); both return whether the slot can send."""

    def __init__(self, video: bool, history: int, clock: int, step: int) -> None:
        self._waiting_keyframe = video
        self._bound = False
        self._clock = clock
        self._step = step
        self.packets_sent = 0
        self.octets_sent = 0
        self.packets_dropped = 0
        # Output timeline.
        self._last_seq = 0
        self._last_ts = 0
        self._last_time = 0.0  # monotonic time of the last forwarded packet
        # Input sequence numbers accepted: from _base (the switch to this source, then sliding
        # REORDER_WINDOW behind the highest seen) onwards.
        self._base: int | None = None
        self._highest = 0
        self._seq_offset = 0
        self._ts_offset = 0
        # (out seq, out timestamp, marker, payload) by out seq: the payload object is the
        # publisher's, shared by every slot (no per-slot copy).
        self._history: list[tuple[int, int, int, bytes] | None] = [None] * history
        self._mask = history - 1
        self._ext = b""
        self._b0 = 0x80
        self._pt = 0
        self._ssrc = 0
        self._emit: Any = _unbound
        self._pair: Any = None
        self._nominated: dict[int, Any] = {}
        self.need_keyframe: Callable[[], None] | None = None

    def _bind(self) -> bool:
        raise NotImplementedError

    def _rebind(self) -> bool:
        raise NotImplementedError

    def forward(self, seq: int, ts: int, marker: int, payload: bytes, keyframe: bool, now: float) -> None:
        """One publisher packet (already unwrapped from RTX) for this slot: the hot path, one
        header pack into the SRTP buffer, one protect and one send (``hooks.rtp_emitter``),
        nothing awaited."""
        if not self._bound and not self._bind():
            self.packets_dropped += 1  # the subscriber's DTLS is not up yet
            return
        if self._waiting_keyframe:
            if not keyframe:
                self.packets_dropped += 1
                if self.need_keyframe is not None:
                    self.need_keyframe()
                return
            self._waiting_keyframe = False
        if self._base is None:
            step = self._step
            if self._last_time:
                step = max(step, round((now - self._last_time) * self._clock))
            self._base = self._highest = seq
            self._seq_offset = (self._last_seq + 1 - seq) & 0xFFFF
            self._ts_offset = (self._last_ts + step - ts) & 0xFFFFFFFF
        elif (seq - self._base) & 0x8000:
            return  # older than the switch to this source (or than the reorder window)
        elif not (seq - self._highest) & 0x8000:
            self._highest = seq
            if ((seq - self._base) & 0xFFFF) > REORDER_WINDOW * 2:  # keep the window sliding
                self._base = (seq - REORDER_WINDOW) & 0xFFFF
        out_seq = (seq + self._seq_offset) & 0xFFFF
        out_ts = (ts + self._ts_offset) & 0xFFFFFFFF
        if not (out_seq - self._last_seq) & 0x8000:
            self._last_seq = out_seq
        self._last_ts = out_ts
        self._last_time = now
        self._history[out_seq & self._mask] = (out_seq, out_ts, marker, payload)
        self.packets_sent += 1
        self.octets_sent += len(payload)
        if self._nominated.get(1) is not self._pair and not self._rebind():
            return
        self._emit(self._b0, (marker << 7) | self._pt, out_seq, out_ts, self._ssrc, self._ext, payload)

    def _history_entry(self, seq: int) -> tuple[int, int, int, bytes] | None:
        """What was sent as ``seq``, while the history still holds it."""
        entry = self._history[seq & self._mask]
        return entry if entry is not None and entry[0] == seq else None


def py_fanout(
    slots: Iterable[Any], seq: int, ts: int, marker: int, payload: bytes, keyframe: bool, now: float
) -> None:
    """One publisher packet for every slot of its publication (``_dataplane.fanout`` in C)."""
    for slot in slots:
        slot.forward(seq, ts, marker, payload, keyframe, now)


SlotCore: Any = PySlotCore
fanout: Callable[[Iterable[Any], int, int, int, bytes, bool, float], None] = py_fanout
if os.environ.get("SMO_MEDIA_PYTHON_SLOTS") != "1":  # a diagnostic switch for A/B benches
    try:
        from realtime.media._dataplane import SlotCore, fanout  # noqa: F401 (fanout: peer.py)
    except ImportError:  # pragma: no cover - depends on the install
        pass


class SlotTrack(SlotCore, MediaStreamTrack):
    """One of a subscriber's receive slots: carries whichever source the policy assigns.

    It is the track of the subscriber's ``RTCRtpSender`` (whose RTP loop waits on ``recv``
    forever); packets go out through ``forward`` (``SlotCore``: C, or ``PySlotCore``).
    Sequence numbers and timestamps stay continuous across source switches; a video slot waits
    for a key frame after every switch and asks the source for one (``need_keyframe``)."""

    def __init__(self, kind: str, mid: str) -> None:
        SlotCore.__init__(self, kind == "video", HISTORY[kind], CLOCK[kind], STEP[kind])
        MediaStreamTrack.__init__(self)
        self.kind = kind
        self.mid = mid
        self.source: object | None = None  # the Publication currently forwarded
        self.retransmitted = 0
        self._stopped: asyncio.Future[None] | None = None
        # Output timeline: a random origin, as aiortc's senders do.
        self._last_seq = random.getrandbits(15)
        self._last_ts = random.getrandbits(32)
        # Bound lazily to the sender's negotiated parameters and transport (_bind).
        self.sender: RTCRtpSender | None = None
        self._header: struct.Struct = struct.Struct("!BBHII")
        self._rtx_pt: int | None = None
        self._rtx_ssrc = 0
        self._rtx_seq = random.getrandbits(15)
        self._hlen = 12
        self._emit: hooks.Emit = _unbound

    # --- policy side -------------------------------------------------------------------------
    def assign(self, source: object | None) -> None:
        if source is self.source:
            return
        self.source = source
        self._base = None  # re-base the timeline on the next packet
        if self.kind == "video":
            self._waiting_keyframe = True

    @property
    def waiting_keyframe(self) -> bool:
        """A video slot since its last switch, until its new source's key frame went out."""
        return self._waiting_keyframe

    def request_keyframe(self) -> None:
        """The subscriber sent PLI/FIR."""
        if self.need_keyframe is not None:
            self.need_keyframe()

    # --- binding to the subscriber's sender ----------------------------------------------------
    def attach(self, sender: RTCRtpSender, payload_type: int, rtx_payload_type: int | None) -> None:
        self.sender = sender
        self._pt = payload_type
        self._rtx_pt = rtx_payload_type
        self._bound = False

    def _bind(self) -> bool:
        """Read the sender's SSRCs, header-extension ids, SRTP context and socket."""
        sender = self.sender
        if sender is None:
            return False
        dtls = sender.transport
        srtp = hooks.srtp_sender(dtls)
        pair = hooks.nominated_pair(dtls)
        if srtp is None or pair is None:
            return False
        self._ext = hooks.sender_header_extensions(sender, self.mid)
        self._b0 = 0x90 if self._ext else 0x80
        self._hlen = 12 + len(self._ext)
        self._header = struct.Struct(f"!BBHII{len(self._ext)}s")
        self._ssrc = sender._ssrc
        self._rtx_ssrc = sender._rtx_ssrc
        rtx = hooks.sender_rtx_payload_type(sender)
        if rtx is not None:
            self._rtx_pt = rtx
        self._pair = pair
        self._nominated = hooks.nominated_pairs(dtls)
        self._emit = hooks.rtp_emitter(srtp, self._header, dtls, pair, sendthread.current())
        self._bound = True
        return True

    # --- the per-packet path: forward (SlotCore), the slow paths here ------------------------
    def _rebind(self) -> bool:
        """ICE nominated another pair (restart, better candidate) or closed: re-read it."""
        self._bound = False
        return self._bind()

    async def retransmit(self, seq: int) -> None:
        """A NACK from the subscriber (``RTCRtpSender._retransmit``): resend from the history,
        wrapped in RTX (RFC 4588) when negotiated."""
        entry = self._history_entry(seq)
        if entry is None or not self._bound:
            return
        if self._nominated.get(1) is not self._pair and not self._rebind():
            return
        self.retransmitted += 1
        _, ts, marker, payload = entry
        if self._rtx_pt is None:
            self._emit(self._b0, (marker << 7) | self._pt, seq, ts, self._ssrc, self._ext, payload)
            sendthread.flush()
            return
        rtx_seq = self._rtx_seq
        self._rtx_seq = (rtx_seq + 1) & 0xFFFF
        rtx_payload = seq.to_bytes(2, "big") + payload
        self._emit(
            self._b0, (marker << 7) | self._rtx_pt, rtx_seq, ts, self._rtx_ssrc, self._ext, rtx_payload
        )
        sendthread.flush()

    def sender_report(self) -> tuple[int, int, int, int] | None:
        """(NTP time, RTP timestamp, packets, octets) for the next RTCP SR of this leg.

        With the publisher's own SR, its NTP↔RTP pair mapped onto this slot's timeline (lip
        sync between a publisher's audio and video); before one arrived, the time of the last
        forwarded packet and its timestamp."""
        if not self.packets_sent:
            return None
        source = self.source
        sr = getattr(source, "sender_report", None) if self._base is not None else None
        if sr is not None:
            ntp, rtp_ts = sr
            out_ts = (rtp_ts + self._ts_offset) & 0xFFFFFFFF
        else:
            ntp = current_ntp_time() - int((time.monotonic() - self._last_time) * (1 << 32))
            out_ts = self._last_ts
        return ntp, out_ts, self.packets_sent & 0xFFFFFFFF, self.octets_sent & 0xFFFFFFFF

    # --- MediaStreamTrack (the sender's RTP loop waits here until the slot stops) -------------
    async def recv(self) -> EncodedFrame:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
        await self._stopped
        raise MediaStreamError

    def stop(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
        self.source = None
        super().stop()
