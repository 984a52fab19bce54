"""Each private aiortc hook in realtime/media/hooks.py, checked against aiortc itself.

These fail the day aiortc moves a hook: upgrade aiortc only together with hooks.py."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiortc
import pylibsrtp
import pytest
from aioice.ice import Connection, StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.vpx import vp8_depayload
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import NackGenerator, decoder_worker
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RTP_HISTORY_SIZE,
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
)

from realtime.media import hooks, sendthread
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


class OneFrame(MediaStreamTrack):
    kind = "video"

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    async def recv(self) -> EncodedFrame:  # type: ignore[override]
        return EncodedFrame(self.data, 90000)


async def test_sender_pack_only_encoder_and_keyframe_hook() -> None:
    """Server senders hold a PackOnlyEncoder (aiortc never creates a codec for them); test and
    bench clients send pre-encoded frames through it."""
    pc = RTCPeerConnection()
    transport = pc.addTransceiver("video").sender.transport
    frame = b"\x10" + bytes(3000)  # a VP8 key frame larger than one packet
    track = OneFrame(frame)
    sender = RTCRtpSender(track, transport)
    encoder = PackOnlyEncoder("video")
    hooks.install_sender_encoder(sender, encoder)
    requested: list[str] = []
    hooks.install_sender_keyframe_hook(sender, lambda: requested.append("kf"))
    encoded = await sender._next_encoded_frame(VP8)
    assert encoded is not None and len(encoded.payloads) == 3
    assert b"".join(vp8_depayload(p) for p in encoded.payloads) == frame
    assert hooks.sender_encoder(sender) is encoder and encoder.packed == 1
    for fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=sender._ssrc))
    assert requested == ["kf", "kf"]
    with pytest.raises(RuntimeError):
        encoder.encode(object())
    track.stop()
    await pc.close()


def test_fast_path_call_sites() -> None:
    """What the RTP-level fast path relies on, read in aiortc / aioice / pylibsrtp source."""
    recv_next = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "data = self._rx_srtp.unprotect(data)" in recv_next
    assert "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in recv_next
    handle = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "RtpPacket.parse(data, self._rtp_header_extensions_map)" in handle
    assert "self._rtp_router.route_rtp(packet)" in handle
    assert "await recipient._handle_rtcp_packet(packet)" in inspect.getsource(
        RTCDtlsTransport._handle_rtcp_data
    )
    assert "self._tx_srtp = Session(tx_policy)" in inspect.getsource(RTCDtlsTransport._setup_srtp)
    sender_rtcp = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "await self._retransmit(seq)" in sender_rtcp
    run_rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    assert "self.__rtcp_started.set()" in run_rtcp and "self.__rtcp_exited.set()" in run_rtcp
    assert "self.__lsr = " in run_rtcp and "self.__lsr_time = time.time()" in run_rtcp
    assert "await asyncio.gather(self.__rtp_started.wait(), self.__rtcp_started.wait())" in inspect.getsource(
        RTCRtpSender.stop
    )
    assert "rtt = time.time() - self.__lsr_time" in sender_rtcp
    send = inspect.getsource(RTCRtpSender.send)
    assert "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())" in send
    assert "self.__cname = parameters.rtcp.cname" in send
    assert "self.__rtx_payload_type = codec.payloadType" in send
    assert "self.__rtp_header_extensions_map.configure(parameters)" in send
    assert "self.__packet_count" in inspect.getsource(RTCRtpSender.getStats)
    sendto = inspect.getsource(Connection.sendto)
    assert "active_pair = self._nominated.get(component)" in sendto
    assert "await active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(StunProtocol.send_data)
    assert pylibsrtp.__version__ == "1.0.0"
    process = inspect.getsource(pylibsrtp.Session._Session__process)  # type: ignore[attr-defined]
    assert "_srtp_assert(func(self._srtp[0], self._cdata, len_p))" in process
    assert "self._buffer[0 : len_p[0]]" in process


def test_srtp_protector_matches_pylibsrtp() -> None:
    key = bytes(range(30))
    sessions = []
    for _ in range(2):
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        policy.allow_repeat_tx = True
        sessions.append(pylibsrtp.Session(policy))
    fast = hooks.SrtpProtector(sessions[1])
    for seq in range(3):
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000, ssrc=42)
        packet.payload = bytes([seq]) * 1100
        data = packet.serialize()
        assert fast(data) == sessions[0].protect(data)
    with pytest.raises(ValueError):
        fast(bytes(1400))


async def test_transport_tap_sender_hooks_and_extension_block() -> None:
    """The fast path's hooks on real aiortc objects (a connected leg: tests/test_media_sfu.py)."""
    pc = RTCPeerConnection()
    transport = pc.addTransceiver("video").receiver.transport
    receiver = RTCRtpReceiver("video", transport)
    receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
    hooks.install_receiver_passthrough(receiver, lambda codec, frame: None)
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
    transport._register_rtp_receiver(receiver, RTCRtpReceiveParameters(codecs=[VP8]))
    tapped: list[tuple[Any, int, bytes]] = []
    seen: list[int] = []
    original = receiver._handle_rtp_packet

    async def counted(packet: RtpPacket, arrival_time_ms: int) -> None:
        seen.append(packet.sequence_number)
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = counted  # type: ignore[method-assign]
    assert hooks.install_transport_tap(transport, lambda r, p, d: tapped.append((r, p.sequence_number, d)))
    assert not hooks.install_transport_tap(transport, lambda r, p, d: None)  # once per transport
    packet = RtpPacket(payload_type=96, sequence_number=7, timestamp=1, ssrc=99)
    packet.payload = b"\x10\x00x"
    await transport._handle_rtp_data(packet.serialize(), arrival_time_ms=0)
    assert tapped == [(receiver, 7, packet.serialize())] and seen == [7]  # tap, then aiortc
    reports: list[Any] = []
    hooks.install_receiver_rtcp_tap(receiver, reports.append)
    sr = RtcpSrPacket(
        ssrc=99, sender_info=RtcpSenderInfo(ntp_timestamp=5, rtp_timestamp=6, packet_count=1, octet_count=1)
    )
    await receiver._handle_rtcp_packet(sr)
    assert reports == [sr]
    await receiver.stop()

    sender = RTCRtpSender(SlotTrack("video", "3"), transport)
    assert hooks.sender_rtx_payload_type(sender) is None
    params = RTCRtpSendParameters(
        codecs=[VP8],
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=4, uri="urn:ietf:params:rtp-hdrext:sdes:mid")],
    )
    getattr(sender, hooks.SENDER_EXTENSIONS_MAP).configure(params)
    block = hooks.sender_header_extensions(sender, "3")
    probe = RtpPacket(payload_type=96)
    probe.extensions.mid = "3"
    assert block and probe.serialize(getattr(sender, hooks.SENDER_EXTENSIONS_MAP))[12:] == block
    retransmitted: list[int] = []

    async def retransmit(seq: int) -> None:
        retransmitted.append(seq)

    hooks.install_sender_retransmit(sender, retransmit)
    await sender._handle_rtcp_packet(
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[5, 9])
    )
    assert retransmitted == [5, 9]
    sent: list[bytes] = []

    async def capture(data: bytes) -> None:
        sent.append(data)

    transport._send_rtp = capture  # type: ignore[method-assign]
    # The connection's compound: an SR per sender, then one SDES with every CNAME.
    other = RTCRtpSender("audio", transport)
    setattr(sender, hooks.SENDER_CNAME, "cname-a")
    setattr(other, hooks.SENDER_CNAME, "cname-b")
    compound = hooks.sender_reports_compound(
        [(sender, (0x1111_0000_0000, 777, 3, 300)), (other, (0x2222_0000_0000, 888, 4, 400))]
    )
    packets = RtcpPacket.parse(compound)
    assert [type(p) for p in packets] == [RtcpSrPacket, RtcpSrPacket, RtcpSdesPacket]
    got = [
        (p.ssrc, p.sender_info.ntp_timestamp, p.sender_info.rtp_timestamp, p.sender_info.packet_count)  # type: ignore[union-attr]
        for p in packets[:2]
    ]
    assert got == [(sender._ssrc, 0x1111_0000_0000, 777, 3), (other._ssrc, 0x2222_0000_0000, 888, 4)]
    assert [(c.ssrc, c.items) for c in packets[2].chunks] == [  # type: ignore[union-attr]
        (sender._ssrc, [(1, b"cname-a")]),
        (other._ssrc, [(1, b"cname-b")]),
    ]
    stats = [s for s in (await sender.getStats()).values() if s.type == "outbound-rtp"]
    assert stats[0].packetsSent == 3
    assert getattr(sender, hooks.SENDER_LSR) == (0x1111_0000_0000 >> 16) & 0xFFFFFFFF
    assert getattr(sender, hooks.SENDER_LSR_TIME) is not None
    # A sender's own loop only says BYE when it stops (its reports are the connection's).
    quiet = RTCRtpSender("audio", transport)
    hooks.install_quiet_sender_rtcp(quiet)
    task = asyncio.ensure_future(quiet._run_rtcp())
    await asyncio.sleep(0.05)
    assert getattr(quiet, hooks.SENDER_RTCP_STARTED).is_set() and len(sent) == 0
    task.cancel()
    await getattr(quiet, hooks.SENDER_RTCP_EXITED).wait()
    (bye,) = RtcpPacket.parse(sent[0])
    assert isinstance(bye, RtcpByePacket) and bye.sources == [quiet._ssrc]
    await pc.close()


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


def test_forwarding_receive_mirrors_aiortc() -> None:
    """The lean receive copies what it keeps of aiortc 1.16.0's ``_handle_rtp_packet``."""
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    for line in (
        "if not self._enabled:",
        "remb = self.__remote_bitrate_estimator.add(",
        "abs_send_time=packet.extensions.abs_send_time,",
        "payload_size=len(packet.payload) + packet.padding_size,",
        "fci=pack_remb_fci(*remb),",
        "self.__active_ssrc[packet.ssrc] = clock.current_datetime()",
        "codec = self.__codecs.get(packet.payload_type)",
        "self.__remote_streams[packet.ssrc] = StreamStatistics(codec.clockRate)",
        "self.__remote_streams[packet.ssrc].add(packet)",
        "original_ssrc = self.__rtx_ssrc.get(packet.ssrc)",
        "packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)",
        "if self.__nack_generator is not None and self.__nack_generator.add(packet):",
        "packet.ssrc, sorted(self.__nack_generator.missing)",
        "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)",  # what it leaves out
    ):
        assert line in source, line
    init = inspect.getsource(RTCRtpReceiver.__init__)
    for name in hooks.RECEIVER_PRIVATE:
        assert f"self.__{name}" in init, name
    # asyncio's datagram transport keeps its socket as ``_sock`` (rtp_emitter's raw send).
    assert "self._sock.sendto(data, addr)" in inspect.getsource(
        asyncio.selector_events._SelectorDatagramTransport.sendto  # type: ignore[attr-defined]
    )


async def test_forwarding_receive_counts_and_nacks_without_the_jitter_buffer() -> None:
    pc = RTCPeerConnection()
    transport = pc.addTransceiver("video").receiver.transport
    receiver = RTCRtpReceiver("video", transport)
    receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
    frames: list[Any] = []
    hooks.install_receiver_passthrough(receiver, lambda codec, frame: frames.append(frame))
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
    transport._register_rtp_receiver(receiver, RTCRtpReceiveParameters(codecs=[VP8]))
    nacks: list[tuple[int, list[int]]] = []

    async def nack(ssrc: int, lost: list[int]) -> None:
        nacks.append((ssrc, lost))

    receiver._send_rtcp_nack = nack  # type: ignore[method-assign]
    hooks.install_forwarding_receive(receiver)
    tapped: list[int] = []
    hooks.install_transport_tap(transport, lambda r, p, d: tapped.append(p.sequence_number))
    for seq in (7, 8, 11):
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=1, ssrc=99, marker=1)
        packet.payload = b"\x10\x00\x00"
        await transport._handle_rtp_data(packet.serialize(), arrival_time_ms=0)
    await asyncio.sleep(0)
    assert tapped == [7, 8, 11]
    streams = getattr(receiver, hooks.RECEIVER_PRIVATE["remote_streams"])
    assert streams[99].packets_received == 3  # receiver reports still count
    assert nacks == [(99, [9, 10])]  # NACK generation towards the publisher
    assert frames == []  # no reassembly for a decoder
    await receiver.stop()
    await pc.close()


def test_a_packet_lost_for_good_is_told_once_as_aiortc_forgets_it() -> None:
    """install_lost_for_good: the NACK generator forgets exactly what aiortc's own forgets,
    when aiortc's would (RTP_HISTORY_SIZE packets on, across the 16-bit wrap too), and says
    so once with the newest forgotten number; a packet recovered meanwhile is not lost."""
    for start in (100, 65_500):
        ours, theirs = NackGenerator(), NackGenerator()
        lost: list[tuple[int, int]] = []
        hooks.install_lost_for_good(ours, lambda newest, count, lost=lost: lost.append((newest, count)))
        skipped = {(start + k) & 0xFFFF for k in (3, 4, 5, 40, 72, 73, 200, 201, 202)}
        recovered = (start + 4) & 0xFFFF
        for k in range(400):
            seq = (start + k) & 0xFFFF
            if seq in skipped:
                continue
            for generator in (ours, theirs):
                generator.add(RtpPacket(sequence_number=seq))
                if k == 20:  # a retransmission of one of them arrives
                    generator.add(RtpPacket(sequence_number=recovered))
            assert ours.missing == theirs.missing, (start, k)
            if k == 3 + RTP_HISTORY_SIZE:
                assert lost == [], k  # 3 is still within reach of a retransmission
        # one at a time as the window moves on a packet at a time; 72 and 73 together, as the
        # gap 200-202 moves the newest, and so the window, by four at once
        expected = [(3, 1), (5, 1), (40, 1), (73, 2), (200, 1), (201, 1), (202, 1)]
        assert lost == [((start + k) & 0xFFFF, n) for k, n in expected], start


async def test_rtp_emitter_sends_what_pylibsrtp_would() -> None:
    """Header packed into the SRTP buffer, protected in place, sent on the pair's raw socket:
    the datagram equals pylibsrtp's protect of the same packet."""
    import socket
    import struct

    key = bytes(range(30))
    sessions = []
    for _ in range(2):
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        policy.allow_repeat_tx = True
        sessions.append(pylibsrtp.Session(policy))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(2)
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    protocol = StunProtocol.__new__(StunProtocol)
    protocol.transport = udp  # type: ignore[assignment]

    class Pair:
        remote_addr = sink.getsockname()

    Pair.protocol = protocol  # type: ignore[attr-defined]
    ext = b"\xbe\xde\x00\x01\x10\x35\x00\x00"
    header = struct.Struct(f"!BBHII{len(ext)}s")
    emit = hooks.rtp_emitter(sessions[1], header, None, Pair())  # type: ignore[arg-type]
    try:
        for seq in range(3):
            payload = bytes([seq]) * 1100
            emit(0x90, 0x80 | 96, seq, seq * 3000, 42, ext, payload)
            expected = sessions[0].protect(header.pack(0x90, 0x80 | 96, seq, seq * 3000, 42, ext) + payload)
            assert sink.recv(2000) == expected
        emit(0x90, 96, 9, 0, 42, ext, bytes(1480))  # longer than the SRTP buffer allows: dropped
        sink.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sink.recv(2000)
        # An event loop whose transport has no raw socket (uvloop, as under uvicorn): its sendto.
        sent: list[tuple[bytes, Any]] = []

        class LoopTransport:
            def sendto(self, data: bytes, addr: Any) -> None:
                sent.append((bytes(data), addr))

        protocol.transport = LoopTransport()  # type: ignore[assignment]
        emit = hooks.rtp_emitter(sessions[1], header, None, Pair())  # type: ignore[arg-type]
        emit(0x90, 96, 5, 15000, 42, ext, b"xyz")
        expected = sessions[0].protect(header.pack(0x90, 96, 5, 15000, 42, ext) + b"xyz")
        assert sent == [(expected, sink.getsockname())]
        # The sending thread (realtime/media/sendthread.py): built and protected in C, same bytes.
        if sendthread.available():
            protocol.transport = udp  # type: ignore[assignment]
            sender = sendthread.current()
            assert sender is not None
            emit = hooks.rtp_emitter(sessions[1], header, None, Pair(), sender)  # type: ignore[arg-type]
            sink.settimeout(2)
            for seq in range(6, 9):
                payload = bytes([seq]) * (1000 + seq)
                emit(0x90, 0x80 | 96, seq, seq * 3000, 0xFEDCBA98, ext, payload)
                sendthread.flush()
                packet = header.pack(0x90, 0x80 | 96, seq, seq * 3000, 0xFEDCBA98, ext) + payload
                assert sink.recv(2000) == sessions[0].protect(packet)
            errors = sender.stats()["protect_errors"]
            emit(0x90, 96, 9, 0, 42, ext, bytes(1480))  # too long: not queued, no error
            sendthread.flush()
            sink.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sink.recv(2000)
            assert sender.stats()["protect_errors"] == errors
    finally:
        udp.close()
        sink.close()


def test_rtx_routing_by_ssrc() -> None:
    """aiortc registers only the primary SSRC of a receiver (so RTX is routed by payload type
    alone); ``install_rtx_routing`` routes it by the RTX SSRC the receiver learnt."""
    assert "ssrcs.add(encoding.ssrc)" in inspect.getsource(RTCDtlsTransport._register_rtp_receiver)
    assert "encoding.rtx" not in inspect.getsource(RTCDtlsTransport._register_rtp_receiver)
    assert "self.__rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc" in inspect.getsource(RTCRtpReceiver.receive)
    transport = RTCDtlsTransport.__new__(RTCDtlsTransport)
    transport._rtp_router = router = RtpRouter()
    receivers = []
    for ssrc, rtx in ((1111, 2111), (1222, 2222)):  # two video receivers, same payload types
        receiver = RTCRtpReceiver.__new__(RTCRtpReceiver)
        setattr(receiver, hooks.RECEIVER_PRIVATE["rtx_ssrc"], {rtx: ssrc})
        router.register_receiver(receiver, ssrcs=[ssrc], payload_types=[96, 97])
        receivers.append(receiver)
    rtx_of_second = RtpPacket(payload_type=97, ssrc=2222)
    assert router.route_rtp(rtx_of_second) is None  # aiortc alone: dropped
    assert hooks.install_rtx_routing(transport) and not hooks.install_rtx_routing(transport)
    assert router.route_rtp(rtx_of_second) is receivers[1]
    assert router.route_rtp(RtpPacket(payload_type=97, ssrc=2111)) is receivers[0]
    assert router.route_rtp(RtpPacket(payload_type=96, ssrc=1222)) is receivers[1]
    assert router.route_rtp(RtpPacket(payload_type=97, ssrc=9999)) is None  # unknown stays out
    assert router.route_rtp(RtpPacket(payload_type=111, ssrc=2222)) is None  # wrong payload type
