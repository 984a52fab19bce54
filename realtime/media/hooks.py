"""Every private aiortc hook the SFU uses, in one place (aiortc is pinned to 1.16.0).

``tests/test_media_hooks.py`` checks each hook's target (name, signature, behaviour) so an
aiortc upgrade that moves one fails loudly instead of silently decoding or dropping media.

Hooks are installed per instance, never by patching aiortc's classes: the test process runs
server and client peers side by side, and only the server's must forward without codecs.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.codecs.base import Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

AIORTC_VERSION = "1.16.0"

FrameSink = Callable[[RTCRtpCodecParameters, JitterFrame], None]
PacketTap = Callable[[RtpPacket], None]

# Name-mangled private attributes (the receiver's decoder queue, the sender's encoder).
RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
RECEIVER_STARTED = "_RTCRtpReceiver__started"
SENDER_ENCODER = "_RTCRtpSender__encoder"


class PassthroughQueue:
    """Stands in for the receiver's decoder queue (``queue.Queue``).

    ``RTCRtpReceiver._handle_rtp_packet`` puts ``(codec, JitterFrame)`` for every reassembled
    encoded frame, on the event loop; we hand it to the SFU at once instead of to the decoder
    thread. The decoder thread still starts and blocks on ``get()`` until the receiver stops
    (``put(None)``), which also ends the receiver's track as aiortc expects.
    """

    def __init__(self, sink: FrameSink) -> None:
        self.sink = sink
        self._control: queue.Queue[Any] = queue.Queue()

    def put(self, item: Any) -> None:
        if item is None:
            self._control.put(None)
        else:
            codec, frame = item
            self.sink(codec, frame)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self._control.get(block, timeout)


def receiver_started(receiver: RTCRtpReceiver) -> bool:
    return bool(getattr(receiver, RECEIVER_STARTED))


def install_receiver_passthrough(receiver: RTCRtpReceiver, sink: FrameSink) -> None:
    """Replace the decoder of a receiver that has not started yet by ``sink``."""
    if receiver_started(receiver):
        raise RuntimeError("receiver already started: its decoder thread holds the old queue")
    setattr(receiver, RECEIVER_DECODER_QUEUE, PassthroughQueue(sink))


def install_receiver_tap(receiver: RTCRtpReceiver, tap: PacketTap) -> None:
    """Call ``tap(packet)`` with every parsed RTP packet before aiortc handles it.

    ``RTCDtlsTransport._handle_rtp_data`` calls ``receiver._handle_rtp_packet(packet,
    arrival_time_ms=...)``; the instance attribute shadows the method.
    """
    original = receiver._handle_rtp_packet

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        tap(packet)
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for ``media_ssrc`` to the publisher (no-op before RTCP is set up)."""
    await receiver._send_rtcp_pli(media_ssrc)


def install_sender_encoder(sender: RTCRtpSender, encoder: Encoder) -> None:
    """Give a sender our pack-only encoder, so ``get_encoder()`` is never called for it.

    ``RTCRtpSender._next_encoded_frame`` creates an encoder only when its slot is ``None``
    and calls ``encoder.pack(data)`` for anything that is not an ``av.Frame``.
    """
    setattr(sender, SENDER_ENCODER, encoder)


def sender_encoder(sender: RTCRtpSender) -> Encoder | None:
    value: Encoder | None = getattr(sender, SENDER_ENCODER)
    return value


def restrict_codecs(transceiver: RTCRtpTransceiver, mime_type: str) -> tuple[int, int | None] | None:
    """Keep only ``mime_type`` (and its RTX) among the codecs negotiated by
    ``setRemoteDescription`` (``transceiver._codecs``), so the answer names only what the SFU
    forwards. Returns its payload type and its RTX payload type, or None when the remote did
    not offer it."""
    codecs = transceiver._codecs
    primary = [c for c in codecs if c.mimeType.lower() == mime_type.lower()][:1]
    if not primary:
        return None
    payload_types = {c.payloadType for c in primary}
    rtx = [c for c in codecs if is_rtx(c) and c.parameters.get("apt") in payload_types]
    transceiver._codecs = primary + rtx
    rtx_type = rtx[0].payloadType if rtx else None
    return int(primary[0].payloadType or 0), rtx_type


def vp8_packetize(frame: bytes, picture_id: int) -> list[bytes]:
    """VP8 RTP payloads of one encoded frame (``Vp8Encoder._packetize``, no codec context)."""
    payloads: list[bytes] = Vp8Encoder._packetize(frame, picture_id)
    return payloads


def install_sender_keyframe_hook(sender: RTCRtpSender, on_request: Callable[[], None]) -> None:
    """PLI/FIR from the subscriber: ``RTCRtpSender._handle_rtcp_packet`` calls
    ``self._send_keyframe()``, which would only flag the (absent) encoder."""
    sender._send_keyframe = on_request  # type: ignore[method-assign]


__all__ = [
    "AIORTC_VERSION",
    "PassthroughQueue",
    "install_receiver_passthrough",
    "install_receiver_tap",
    "install_sender_encoder",
    "install_sender_keyframe_hook",
    "receiver_started",
    "request_keyframe",
    "restrict_codecs",
    "sender_encoder",
    "vp8_packetize",
]
