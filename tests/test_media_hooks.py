"""Each private aiortc hook in realtime/media/hooks.py, checked against aiortc itself.

These fail the day aiortc moves a hook: upgrade aiortc only together with hooks.py."""

from __future__ import annotations

import asyncio
import inspect

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.vpx import vp8_depayload
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtcrtpreceiver import decoder_worker
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket, RtpPacket

from realtime.media import hooks
from realtime.media.forwarding import EncodedFrame, PackOnlyEncoder, SlotTrack

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def test_aiortc_version_is_the_pinned_one() -> None:
    assert aiortc.__version__ == hooks.AIORTC_VERSION


def test_signatures_and_call_sites() -> None:
    assert list(inspect.signature(decoder_worker).parameters) == [
        "loop",
        "input_q",
        "output_q",
        "decode_error",
    ]
    assert "self.__decoder_queue," in inspect.getsource(RTCRtpReceiver.receive)
    assert list(inspect.signature(RTCRtpReceiver._handle_rtp_packet).parameters) == [
        "self",
        "packet",
        "arrival_time_ms",
    ]
    assert "self.__decoder_queue.put((codec, encoded_frame))" in inspect.getsource(
        RTCRtpReceiver._handle_rtp_packet
    )
    assert "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" in inspect.getsource(
        RTCDtlsTransport._handle_rtp_data
    )
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) == ["self", "media_ssrc"]
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "if self.__encoder is None:" in source and "self.__encoder.pack(data)" in source
    assert "self._send_keyframe()" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)


async def test_codec_restriction_on_a_negotiated_transceiver() -> None:
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    offerer.addTransceiver("video", direction="sendonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    transceiver = answerer.getTransceivers()[0]
    names = {c.mimeType for c in transceiver._codecs}
    assert {"video/VP8", "video/H264", "video/rtx"} <= names
    negotiated = hooks.restrict_codecs(transceiver, "video/VP8")
    assert negotiated is not None and negotiated[1] is not None
    assert {c.mimeType for c in transceiver._codecs} == {"video/VP8", "video/rtx"}
    assert hooks.restrict_codecs(transceiver, "audio/opus") is None
    await offerer.close()
    await answerer.close()


async def test_receiver_passthrough_tap_and_keyframe_request() -> None:
    pc = RTCPeerConnection()
    transport = pc.addTransceiver("video").receiver.transport
    receiver = RTCRtpReceiver("video", transport)
    receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
    frames: list[bytes] = []
    packets: list[int] = []
    hooks.install_receiver_passthrough(receiver, lambda codec, frame: frames.append(frame.data))
    hooks.install_receiver_tap(receiver, lambda packet: packets.append(packet.sequence_number))
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
    assert hooks.receiver_started(receiver)
    for seq, ts, data in [(1, 3000, b"\x10\x00key"), (2, 6000, b"\x11\x00delta")]:
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=1234)
        packet.marker = 1
        packet.payload = hooks.vp8_packetize(data, seq)[0]
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    assert packets == [1, 2]
    assert frames and frames[0] == b"\x10\x00key"  # the encoded frame, not a decoded picture
    await hooks.request_keyframe(receiver, 1234)  # no RTCP SSRC yet: a no-op, never an error
    await receiver.stop()
    assert await asyncio.wait_for(receiver.track._queue.get(), 5) is None  # track ended
    await pc.close()


async def test_sender_pack_only_encoder_and_keyframe_hook() -> None:
    pc = RTCPeerConnection()
    transport = pc.addTransceiver("video").sender.transport
    slot = SlotTrack("video", "0")
    sender = RTCRtpSender(slot, transport)
    encoder = PackOnlyEncoder("video")
    hooks.install_sender_encoder(sender, encoder)
    requested: list[str] = []
    hooks.install_sender_keyframe_hook(sender, lambda: requested.append("kf"))
    frame = b"\x10" + bytes(3000)  # a VP8 key frame larger than one packet
    slot.push(frame, 90000)
    encoded = await sender._next_encoded_frame(VP8)
    assert encoded is not None and len(encoded.payloads) == 3
    assert b"".join(vp8_depayload(p) for p in encoded.payloads) == frame
    assert hooks.sender_encoder(sender) is encoder and encoder.packed == 1
    for fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=sender._ssrc))
    assert requested == ["kf", "kf"]
    slot.stop()
    await pc.close()


def test_slot_timeline_is_continuous_across_sources() -> None:
    slot = SlotTrack("audio", "0")
    slot.assign("a")
    slot.push(b"x", 1000)
    slot.push(b"x", 1960)
    slot.assign("b")
    slot.push(b"x", 500_000)
    out = [slot._queue.get_nowait() for _ in range(3)]
    assert [f.timestamp for f in out if isinstance(f, EncodedFrame)] == [1000, 1960, 2920]


async def test_answerer_bundles_every_transceiver_only_with_max_bundle() -> None:
    """aiortc 1.16.0's "balanced" policy leaves the 2nd transceiver of the 2nd kind on a dead
    transport when answering; the SFU therefore answers with max-bundle (config.py)."""
    from realtime.media.config import MediaConfig

    offerer = RTCPeerConnection(MediaConfig().rtc_configuration())
    for kind in ("audio", "audio", "video", "video"):
        offerer.addTransceiver(kind, direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    shared = {}
    for name, config in (("balanced", None), ("max-bundle", MediaConfig().rtc_configuration())):
        answerer = RTCPeerConnection(config)
        await answerer.setRemoteDescription(offerer.localDescription)
        transports = {id(t.receiver.transport) for t in answerer.getTransceivers()}
        shared[name] = len(transports) == 1
        await answerer.close()
    await offerer.close()
    assert shared == {"balanced": False, "max-bundle": True}
