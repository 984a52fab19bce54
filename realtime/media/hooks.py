"""Every private aiortc hook the SFU uses, in one place (aiortc is pinned to 1.16.0).

``tests/test_media_hooks.py`` checks each hook's target (name, signature, behaviour) so an
aiortc upgrade that moves one fails loudly instead of silently decoding or dropping media.

Hooks are installed per instance, never by patching aiortc's classes: the test process runs
server and client peers side by side, and only the server's must forward without codecs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import struct
import time
from collections.abc import Callable
from typing import Any

from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, clock, rtcrtpreceiver
from aiortc.codecs import is_rtx
from aiortc.codecs.base import Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTP_HISTORY_SIZE,
    AnyRtcpPacket,
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
    unwrap_rtx,
)
from aiortc.utils import uint16_add, uint16_gt
from pylibsrtp import SRTP_MAX_TRAILER_LEN, Session
from pylibsrtp import Error as SrtpError
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

AIORTC_VERSION = "1.16.0"

FrameSink = Callable[[RTCRtpCodecParameters, JitterFrame], None]
PacketTap = Callable[[RtpPacket], None]

# Name-mangled private attributes (the receiver's decoder queue, the sender's encoder).
RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
RECEIVER_STARTED = "_RTCRtpReceiver__started"
SENDER_ENCODER = "_RTCRtpSender__encoder"
SENDER_RTX_PAYLOAD_TYPE = "_RTCRtpSender__rtx_payload_type"
SENDER_EXTENSIONS_MAP = "_RTCRtpSender__rtp_header_extensions_map"
SENDER_COUNTERS = ("_RTCRtpSender__packet_count", "_RTCRtpSender__octet_count")
SENDER_LSR = "_RTCRtpSender__lsr"
SENDER_LSR_TIME = "_RTCRtpSender__lsr_time"
SENDER_CNAME = "_RTCRtpSender__cname"
SENDER_RTCP_STARTED = "_RTCRtpSender__rtcp_started"
SENDER_RTCP_EXITED = "_RTCRtpSender__rtcp_exited"
TRANSPORT_TAPPED = "_smo_rtp_tap"
TRANSPORT_SEND_THREAD = "_smo_send_thread"
TRANSPORT_LEG = "_smo_send_leg"  # (pair, session, leg): one leg per connection, shared by its slots
TRANSPORT_TX = ("_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets")
TRANSPORT_RX = ("_RTCDtlsTransport__rx_bytes", "_RTCDtlsTransport__rx_packets")
PROTOCOL_DIRECT = "_smo_direct_receive"
RTX_ROUTED = "_smo_rtx_routing"
RECEIVER_FORWARDING = "_smo_forwarding_receive"
RECEIVER_PRIVATE = {
    name: f"_RTCRtpReceiver__{name}"
    for name in (
        "remote_bitrate_estimator",
        "active_ssrc",
        "codecs",
        "remote_streams",
        "rtx_ssrc",
        "nack_generator",
        "rtcp_ssrc",
    )
}

# tap(receiver, packet, raw decrypted bytes) for every RTP packet routed to a receiver.
TransportTap = Callable[[RTCRtpReceiver, RtpPacket, bytes], None]

# A diagnostic switch for A/B benches: the publisher's packets unprotected and parsed in Python.
SMO_PYTHON_RECEIVE = os.environ.get("SMO_MEDIA_PYTHON_RECEIVE") == "1"
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP's epoch) to 1970-01-01


def current_ms() -> int:
    """``aiortc.clock.current_ms()`` (milliseconds since NTP's epoch) without building two
    datetimes: the arrival time the receiver's bitrate estimator is fed."""
    return int((time.time() + NTP_UNIX_OFFSET) * 1000)


_Unprotector: Any = None
_parse_rtp: Any = None
_BitrateEstimator: Any = None
try:  # the publisher's receive in C (_receive.c, _remb.c); aiortc's and pylibsrtp's Python without it
    from realtime.media._dataplane import BitrateEstimator as _BitrateEstimator
    from realtime.media._dataplane import Unprotector as _Unprotector
    from realtime.media._dataplane import parse_rtp as _parse_rtp
except ImportError:  # pragma: no cover - depends on the install
    pass


class LazyBitrateEstimator:
    """aiortc's ``RemoteBitrateEstimator``, built when the first packet needs it. aiortc builds
    one for every video receiver, also those of the SFU's receive slots, which never receive:
    each holds a ``RateCounter`` of 1,000 ``RateBucket`` objects, about half a join's CPU
    (docs/media.md, "Join cost"). The Python estimator, used when the C one (``_remb.c``'s
    ``BitrateEstimator``, which allocates its buckets on the first packet too) is not built."""

    __slots__ = ("_real",)

    def __init__(self) -> None:
        self._real: Any = None

    def add(self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int) -> Any:
        if self._real is None:
            self._real = _EAGER_ESTIMATOR()
        return self._real.add(arrival_time_ms, abs_send_time, payload_size, ssrc)


_EAGER_ESTIMATOR = rtcrtpreceiver.RemoteBitrateEstimator


def use_lazy_bitrate_estimators() -> None:
    """Make every RTCRtpReceiver created from now on build its estimator lazily (idempotent):
    the C port of aiortc's estimator (the same estimates, ≈ 20 µs less per publisher video
    packet), or ``LazyBitrateEstimator`` without the extension or with
    ``SMO_MEDIA_PYTHON_RECEIVE=1``."""
    estimator: Any = LazyBitrateEstimator
    if _BitrateEstimator is not None and not SMO_PYTHON_RECEIVE:
        estimator = _BitrateEstimator
    rtcrtpreceiver.RemoteBitrateEstimator = estimator  # type: ignore[misc]


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


# --- RTX routing -----------------------------------------------------------------------------
def install_rtx_routing(transport: RTCDtlsTransport) -> bool:
    """Route RTX by its SSRC. aiortc 1.16.0's ``RTCDtlsTransport._register_rtp_receiver``
    registers only each receiver's primary SSRC in the router's ``ssrc_table``; an RTX packet
    (its own SSRC, declared by ``a=ssrc-group:FID``) is routed by payload type alone, i.e.
    only while a single receiver of the bundle has that payload type. With two video receivers
    on one transport (a publisher's camera and screen on the SFU; a client's video slots)
    every retransmission was dropped and NACK repaired nothing. The receiver already knows its
    RTX SSRC (``__rtx_ssrc``, from the remote description): an RTX packet the router cannot
    place goes to the receiver that declared its SSRC, which is remembered in the router's
    table (so the next one takes aiortc's own path). Idempotent; returns False if installed."""
    router = transport._rtp_router
    if getattr(router, RTX_ROUTED, False):
        return False
    original = router.route_rtp
    key = RECEIVER_PRIVATE["rtx_ssrc"]

    def route_rtp(packet: RtpPacket) -> Any:
        receiver = original(packet)
        if receiver is not None or packet.ssrc in router.ssrc_table:
            return receiver
        for candidate in router.receivers:
            if packet.ssrc in getattr(candidate, key, ()):
                router.ssrc_table[packet.ssrc] = candidate
                return original(packet)  # checks the payload type as for any packet
        return None

    router.route_rtp = route_rtp  # type: ignore[method-assign]
    setattr(router, RTX_ROUTED, True)
    return True


# --- the RTP-level fast path ------------------------------------------------------------------
def install_transport_tap(transport: RTCDtlsTransport, tap: TransportTap) -> bool:
    """Replace ``RTCDtlsTransport._handle_rtp_data`` of one (bundle) transport by a copy that
    hands the parsed packet *and its decrypted bytes* to ``tap`` before the receiver's own
    handling (RR, NACK, jitter buffer; or, for a receiver given ``install_forwarding_receive``,
    its lean bookkeeping). ``_recv_next`` calls
    ``await self._handle_rtp_data(data, arrival_time_ms=...)`` after SRTP unprotect; the
    instance attribute shadows the method. The same delivery also serves the transport's
    direct receive (``install_direct_receive``), which most RTP takes. Idempotent; returns
    False if already tapped."""
    if getattr(transport, TRANSPORT_TAPPED, False):
        return False
    parse = rtp_parser(transport._rtp_header_extensions_map)
    install_rtx_routing(transport)
    router = transport._rtp_router

    def deliver(data: bytes, arrival_time_ms: int) -> Any:
        """The decrypted packet to the tap and its receiver; a coroutine still to run for a
        receiver without lean handling, else None."""
        try:
            packet = parse(data)
        except ValueError:
            return None
        receiver = router.route_rtp(packet)
        if receiver is None:
            return None
        try:
            tap(receiver, packet, data)  # type: ignore[arg-type]
        except Exception:  # never let forwarding kill the publisher's transport loop
            logging.getLogger("smo.media").exception("RTP forwarding failed")
        lean = getattr(receiver, RECEIVER_FORWARDING, None)
        if lean is not None:
            lean(packet, arrival_time_ms)
            return None
        return receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        pending = deliver(data, arrival_time_ms)
        if pending is not None:
            await pending

    transport._handle_rtp_data = handle  # type: ignore[method-assign]
    setattr(transport, TRANSPORT_TAPPED, True)
    install_direct_receive(transport, deliver)
    return True


def rtp_parser(extensions: HeaderExtensionsMap) -> Callable[[bytes], RtpPacket]:
    """``RtpPacket.parse(data, extensions)``, by ``_receive.c``'s ``parse_rtp`` when built (the
    same packet, ValueError for a malformed one, also for an extension of the wrong length
    where aiortc raised struct.error). The map's ids are read on every packet: renegotiation
    re-configures them in place."""
    if _parse_rtp is None or SMO_PYTHON_RECEIVE:
        return lambda data: RtpPacket.parse(data, extensions)
    ids = extensions._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    parse_rtp = _parse_rtp
    return lambda data: parse_rtp(data, ids, RtpPacket, HeaderExtensions)


def srtp_unprotector(session: Session) -> Callable[[bytes], bytes | None]:
    """``session.unprotect`` for RTP, None instead of ``pylibsrtp.Error`` for a datagram libsrtp
    refuses: ``_receive.c``'s ``Unprotector`` (libsrtp straight on a new bytes object) when
    built."""
    if _Unprotector is None or SMO_PYTHON_RECEIVE:

        def unprotect(data: bytes) -> bytes | None:
            try:
                return session.unprotect(data)
            except (SrtpError, ValueError):  # ValueError: longer than pylibsrtp's buffer
                return None

        return unprotect
    unprotector: Callable[[bytes], bytes | None] = _Unprotector(
        srtp_function_address("srtp_unprotect"), srtp_session_address(session), session
    )
    return unprotector


def install_direct_receive(transport: RTCDtlsTransport, deliver: Callable[[bytes, int], Any]) -> None:
    """SRTP (not SRTCP) datagrams handled where the socket hands them over, synchronously.

    aioice's ``StunProtocol.datagram_received`` first tries every datagram as STUN (a raised
    ``ValueError`` for each RTP packet), then queues it on the connection; the DTLS transport's
    task wakes, awaits it through four coroutines and only then unprotects it: a future, a task
    step and an exception per packet. This wraps ``datagram_received`` of the connection's
    sockets: once the transport has its inbound SRTP session, an RTP datagram is counted in the
    transport's statistics as ``_recv_next`` counts it, unprotected (a packet libsrtp refuses is
    dropped, as there) and given to ``deliver`` (``install_transport_tap``'s) right away. STUN,
    DTLS and SRTCP take aioice's and aiortc's path unchanged."""
    connection = transport.transport._connection
    pending: set[asyncio.Future[None]] = set()
    # (the transport's inbound session, its unprotect): made again if aiortc replaces it
    unprotect: list[Any] = [None, None]
    for protocol in list(connection._protocols):
        if not isinstance(protocol, StunProtocol) or getattr(protocol, PROTOCOL_DIRECT, False):
            continue
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: tuple[Any, ...], original: Any = original) -> None:
            srtp = transport._rx_srtp
            if srtp is None or len(data) < 12 or not 127 < data[0] < 192 or 191 < data[1] < 209:
                original(data, addr)  # STUN, DTLS, SRTCP, or before DTLS is up
                return
            setattr(transport, TRANSPORT_RX[0], getattr(transport, TRANSPORT_RX[0]) + len(data))
            setattr(transport, TRANSPORT_RX[1], getattr(transport, TRANSPORT_RX[1]) + 1)
            arrival_time_ms = current_ms()
            if unprotect[0] is not srtp:
                unprotect[:] = srtp, srtp_unprotector(srtp)
            clear = unprotect[1](data)
            if clear is None:
                return
            coro = deliver(clear, arrival_time_ms)
            if coro is not None:
                task = asyncio.ensure_future(coro)
                pending.add(task)
                task.add_done_callback(pending.discard)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign,assignment]
        setattr(protocol, PROTOCOL_DIRECT, True)


def install_receiver_rtcp_tap(receiver: RTCRtpReceiver, tap: Callable[[AnyRtcpPacket], None]) -> None:
    """See the publisher's RTCP (its sender reports) before the receiver handles it; the
    transport's router calls ``recipient._handle_rtcp_packet(packet)``."""
    original = receiver._handle_rtcp_packet

    async def handle(packet: AnyRtcpPacket) -> None:
        tap(packet)
        await original(packet)

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]


def install_sender_retransmit(sender: RTCRtpSender, retransmit: Callable[[int], Any]) -> None:
    """NACKs from the subscriber: ``RTCRtpSender._handle_rtcp_packet`` awaits
    ``self._retransmit(seq)`` for each lost sequence number; the SFU answers from its own
    per-slot history (the sender's own history is empty: its RTP loop never runs)."""
    sender._retransmit = retransmit  # type: ignore[method-assign,assignment]


def install_quiet_sender_rtcp(sender: RTCRtpSender) -> None:
    """Before ``sender.send()``: its RTCP loop — an SR and an SDES every 0.5-1.5 s, one SRTCP
    packet per sender — becomes one that only says BYE when the sender stops (and sets the
    events ``stop()`` waits for). Its reports go out with the other slots' of the same
    connection in one compound packet (``sender_reports_compound``), sent by the connection."""

    async def run_rtcp() -> None:
        getattr(sender, SENDER_RTCP_STARTED).set()
        try:
            await asyncio.get_running_loop().create_future()  # until stop() cancels the task
        except asyncio.CancelledError:
            pass
        try:
            await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        finally:
            getattr(sender, SENDER_RTCP_EXITED).set()

    sender._run_rtcp = run_rtcp  # type: ignore[method-assign]


def sender_reports_compound(entries: list[tuple[RTCRtpSender, tuple[int, int, int, int]]]) -> bytes:
    """One compound RTCP packet for several senders of a connection (RFC 3550 §6.1; several
    SSRCs of one endpoint in one compound: RFC 8108 §5.4.1): an SR per sender with its
    (NTP time, RTP timestamp, packets, octets), then SDES with each sender's CNAME — what each
    sender's own loop sent separately. Each sender's LSR and its time (its round-trip time from
    the receiver's reports) and its counters (``getStats``) are kept as aiortc keeps them."""
    now = time.time()
    reports: list[bytes] = []
    chunks: list[RtcpSourceInfo] = []
    for sender, (ntp, rtp_ts, count, octets) in entries:
        info = RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=rtp_ts, packet_count=count, octet_count=octets)
        reports.append(bytes(RtcpSrPacket(ssrc=sender._ssrc, sender_info=info)))
        setattr(sender, SENDER_LSR, (ntp >> 16) & 0xFFFFFFFF)
        setattr(sender, SENDER_LSR_TIME, now)
        setattr(sender, SENDER_COUNTERS[0], count)
        setattr(sender, SENDER_COUNTERS[1], octets)
        cname: str | None = getattr(sender, SENDER_CNAME)
        if cname is not None:
            chunks.append(RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))]))
    for i in range(0, len(chunks), 31):  # an SDES packet counts its chunks in 5 bits
        reports.append(bytes(RtcpSdesPacket(chunks=chunks[i : i + 31])))
    return b"".join(reports)


def sender_rtx_payload_type(sender: RTCRtpSender) -> int | None:
    """The RTX payload type ``RTCRtpSender.send`` noted from the negotiated codecs."""
    value: int | None = getattr(sender, SENDER_RTX_PAYLOAD_TYPE)
    return value


def sender_header_extensions(sender: RTCRtpSender, mid: str) -> bytes:
    """The header-extension block (profile, length, elements) of this sender's packets,
    carrying only its MID — serialised by aiortc with the ids negotiated for this leg."""
    packet = RtpPacket(payload_type=0)
    packet.extensions.mid = mid
    data = packet.serialize(getattr(sender, SENDER_EXTENSIONS_MAP))
    return data[12:] if data[0] & 0x10 else b""


def srtp_sender(transport: RTCDtlsTransport) -> Any:
    """The transport's outbound SRTP session (``pylibsrtp.Session``), None before DTLS."""
    if transport.state != "connected":
        return None
    return transport._tx_srtp


# on_lost(newest sequence number lost, how many): packets no retransmission recovered.
LostForGood = Callable[[int, int], None]


def install_lost_for_good(nack: Any, on_lost: LostForGood) -> None:
    """aiortc's ``NackGenerator`` forgets a missing sequence number once it is
    ``RTP_HISTORY_SIZE`` behind the newest (the publisher no longer holds it to retransmit,
    ``RTCRtpSender``'s history being as long): the packet is lost for good. Its ``truncate``,
    called after every packet, is replaced by the same rule that also tells ``on_lost`` what it
    forgot (and, with nothing missing, the common case, returns at once instead of copying the
    empty set)."""
    history = RTP_HISTORY_SIZE

    def truncate() -> None:
        if not nack.missing or nack.max_seq is None:
            return
        oldest = uint16_add(nack.max_seq, -history)
        gone = [seq for seq in nack.missing if uint16_gt(oldest, seq)]
        if gone:
            nack.missing.difference_update(gone)
            on_lost(max(gone, key=lambda seq: (seq - oldest) & 0xFFFF), len(gone))

    nack.truncate = truncate


def install_forwarding_receive(receiver: RTCRtpReceiver, on_lost: LostForGood | None = None) -> None:
    """For a receiver whose media is only forwarded: the transport tap then calls a copy of
    aiortc 1.16.0's ``RTCRtpReceiver._handle_rtp_packet`` that keeps what the publisher's leg
    needs — bitrate estimation (REMB), source tracking, receiver statistics (RR), RTX
    unwrapping, NACK generation — and leaves out depayloading and the jitter buffer, i.e. the
    frame reassembly for a decoder the SFU never runs (and its PLI on a reassembly gap: the
    subscribers' own PLIs reach the publisher). RTCP it must send goes out in a task.
    ``on_lost``: packets the NACKs did not recover (``install_lost_for_good``)."""
    estimator = getattr(receiver, RECEIVER_PRIVATE["remote_bitrate_estimator"])
    active: dict[int, Any] = getattr(receiver, RECEIVER_PRIVATE["active_ssrc"])
    codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, RECEIVER_PRIVATE["codecs"])
    streams: dict[int, StreamStatistics] = getattr(receiver, RECEIVER_PRIVATE["remote_streams"])
    rtx_ssrc: dict[int, int] = getattr(receiver, RECEIVER_PRIVATE["rtx_ssrc"])
    nack = getattr(receiver, RECEIVER_PRIVATE["nack_generator"])
    if nack is not None and on_lost is not None:
        install_lost_for_good(nack, on_lost)
    rtcp_ssrc = RECEIVER_PRIVATE["rtcp_ssrc"]
    pending: set[asyncio.Future[None]] = set()

    def spawn(coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        pending.add(task)
        task.add_done_callback(pending.discard)

    # (arrival ms, its datetime): the packets of a frame mostly arrive within one millisecond
    arrived: list[Any] = [None, None]
    # id(codec) -> (codec, is it RTX): aiortc rebuilds its codecs on renegotiation
    kinds: dict[int, tuple[RTCRtpCodecParameters, bool]] = {}

    def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not receiver._enabled:
            return
        abs_send_time = packet.extensions.abs_send_time
        if estimator is not None and abs_send_time is not None:
            remb = estimator.add(
                arrival_time_ms, abs_send_time, len(packet.payload) + packet.padding_size, packet.ssrc
            )
            ssrc = getattr(receiver, rtcp_ssrc)
            if ssrc is not None and remb is not None:
                fci = pack_remb_fci(*remb)
                spawn(
                    receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=ssrc, media_ssrc=0, fci=fci))
                )
        if arrived[0] != arrival_time_ms:
            arrived[0], arrived[1] = arrival_time_ms, clock.current_datetime()
        active[packet.ssrc] = arrived[1]
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        kind = kinds.get(id(codec))
        if kind is None or kind[0] is not codec:
            kind = kinds[id(codec)] = (codec, is_rtx(codec))
        if kind[1]:
            original = rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original is None or len(packet.payload) < 2 or not isinstance(apt, int) or apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original)
        if nack is not None and nack.add(packet):
            spawn(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))

    setattr(receiver, RECEIVER_FORWARDING, handle)


# emit(b0, b1, seq, ts, ssrc, extension block, payload): one forwarded packet out.
Emit = Callable[[int, int, int, int, int, bytes, bytes], None]


def rtp_emitter(
    session: Session,
    header: struct.Struct,
    transport: RTCDtlsTransport,
    pair: CandidatePair,
    sender: Any = None,
) -> Emit:
    """The per-packet send of a subscriber leg, fused: the RTP header (``header``: b0, b1,
    seq, timestamp, SSRC, extension block) is packed straight into the SRTP session's own
    1500-byte buffer, the payload copied after it, libsrtp protects in place
    (``pylibsrtp.Session.protect`` 1.0.0 does the same on the same buffer, plus allocations)
    and the UDP socket sends a view of the buffer: no intermediate packet bytes. Host / srflx
    pairs send on the raw socket (what ``StunProtocol.send_data`` reaches through asyncio's
    transport; a full socket buffer or an ICMP error loses the packet, which NACK/RTX
    covers); other event loops' transports (uvloop under uvicorn: no ``_sock``) get a copy
    through their own ``sendto``, TURN pairs through aioice. Sessions are used from the
    event loop only, so sharing the buffer with aiortc's own RTCP protection is safe.

    With a ``sender`` (``realtime/media/sendthread.py``), host / srflx pairs do all of it in one
    C call (``SendThread.emit``): the packet is built and protected straight in the sending
    thread's ring with the same libsrtp session, on this thread, and sent by that thread."""
    leg = transport_leg(sender, transport, pair, session) if sender is not None else None
    if leg is not None:
        # the whole emit in C: header, extension and payload written into the ring, libsrtp
        # protects them there (this thread), the sending thread sends
        emit_queued: Emit = sender.emitter(leg)  # a LegEmit, which SlotCore sends through without a call
        return emit_queued
    protect = srtp_lib.srtp_protect
    ctx = session._srtp[0]
    cdata = session._cdata
    buffer = session._buffer
    view = memoryview(buffer)
    cell = srtp_ffi.new("int *")
    limit = len(cdata) - SRTP_MAX_TRAILER_LEN
    pack_into = header.pack_into
    hlen = header.size
    protocol = pair.protocol
    raw = getattr(getattr(protocol, "transport", None), "_sock", None)
    if isinstance(protocol, StunProtocol) and raw is not None:
        sendto = raw.sendto
        addr = pair.remote_addr

        def emit(b0: int, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
            n = hlen + len(payload)
            if n > limit:
                return
            pack_into(buffer, 0, b0, b1, seq, ts, ssrc, ext)
            buffer[hlen:n] = payload
            cell[0] = n
            if protect(ctx, cdata, cell):
                return
            try:
                sendto(view[: cell[0]], addr)
            except OSError:
                pass

        return emit
    send, remote = datagram_sender(transport, pair)  # uvloop's transport (no ``_sock``), TURN

    def emit_copy(b0: int, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
        n = hlen + len(payload)
        if n > limit:
            return
        pack_into(buffer, 0, b0, b1, seq, ts, ssrc, ext)
        buffer[hlen:n] = payload
        cell[0] = n
        if not protect(ctx, cdata, cell):
            send(buffer[0 : cell[0]], remote)

    return emit_copy


def install_transport_send_thread(transport: RTCDtlsTransport, sender: Any) -> bool:
    """Route what aiortc itself sends through ``RTCDtlsTransport._send_rtp`` on this (bundle)
    transport — its senders' RTCP (SR, SDES, BYE), its receivers' RTCP (RR, NACK, PLI) and
    any RTP it sends — through the sending thread: protected here (on the event loop, the
    same pylibsrtp session as before) and queued behind the forwarded packets of the same leg,
    instead of aiortc's send through aioice on the event loop. TURN pairs and addresses the
    thread cannot take keep aiortc's path. The transport's own counters (``getStats``) are kept.
    Idempotent; returns False if already installed."""
    if getattr(transport, TRANSPORT_SEND_THREAD, False):
        return False
    original = transport._send_rtp
    nominated = nominated_pairs(transport)
    push, flush = sender.push, sender.flush

    async def send_rtp(data: bytes) -> None:
        pair = nominated.get(1)
        if pair is None or transport.state != "connected":
            await original(data)
            return
        srtp = transport._tx_srtp
        leg = transport_leg(sender, transport, pair, srtp)
        if leg is None:
            await original(data)
            return
        data = srtp.protect_rtcp(data) if is_rtcp(data) else srtp.protect(data)
        push(leg, data, len(data))
        flush()
        setattr(transport, TRANSPORT_TX[0], getattr(transport, TRANSPORT_TX[0]) + len(data))
        setattr(transport, TRANSPORT_TX[1], getattr(transport, TRANSPORT_TX[1]) + 1)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    setattr(transport, TRANSPORT_SEND_THREAD, True)
    return True


def srtp_function_address(name: str) -> int:
    """The address of one of libsrtp's functions as linked into pylibsrtp 1.0.0 (its cffi
    binding), for the C data plane, which links no libsrtp: ``srtp_protect`` for the sending
    thread's ``emit``, ``srtp_unprotect`` for the publisher's receive."""
    return int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, name)))


def srtp_session_address(session: Session) -> int:
    """A pylibsrtp session's ``srtp_t``, for the C data plane (the caller keeps the session
    alive as long as the address is used)."""
    return int(srtp_ffi.cast("uintptr_t", session._srtp[0]))


def transport_leg(
    sender: Any, transport: RTCDtlsTransport | None, pair: CandidatePair, session: Session
) -> Any:
    """``sender_leg`` for a connection, made once per (nominated pair, SRTP session) and shared
    by all its slots and its RTCP: one duplicated descriptor per connection, not one per slot."""
    cached = getattr(transport, TRANSPORT_LEG, None) if transport is not None else None
    if cached is not None and cached[0] is pair and cached[1] is session:
        return cached[2]
    leg = sender_leg(sender, pair.protocol, pair, session)
    if transport is not None:
        setattr(transport, TRANSPORT_LEG, (pair, session, leg))
    return leg


def sender_leg(sender: Any, protocol: Any, pair: CandidatePair, session: Session | None) -> Any:
    """The sending thread's destination for a host / srflx pair: its UDP socket's descriptor
    (asyncio's and uvloop's transports both expose it as ``get_extra_info("socket")``), the
    remote address and the SRTP session (``srtp_t``, kept alive by the leg) for ``emit``
    (None: the caller protects and ``push``es); None for TURN pairs (aioice relays them) or an
    address the thread cannot take."""
    if not isinstance(protocol, StunProtocol) or protocol.transport is None:
        return None
    sock = protocol.transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        host, port = str(pair.remote_addr[0]), int(pair.remote_addr[1])
        if session is None:
            return sender.leg(sock.fileno(), host, port)
        return sender.leg(sock.fileno(), host, port, srtp_session_address(session), session)
    except (ValueError, OSError):
        return None


class SrtpProtector:
    """``pylibsrtp.Session.protect`` (1.0.0) without its per-call allocations: the same
    libsrtp call on the session's own 1500-byte buffer, with a reused length cell. Sessions
    are used from the event loop only, and the result is copied out before returning, so
    sharing the buffer with aiortc's own RTCP protection is safe."""

    __slots__ = ("_buffer", "_cdata", "_ctx", "_len", "_limit", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session  # keeps the context alive
        self._ctx = session._srtp[0]
        self._cdata = session._cdata
        self._buffer = session._buffer
        self._len = srtp_ffi.new("int *")
        self._limit = len(session._cdata) - SRTP_MAX_TRAILER_LEN

    def __call__(self, data: bytes) -> bytes:
        n = len(data)
        if n > self._limit:
            raise ValueError("packet is too long")
        cell = self._len
        cell[0] = n
        buffer = self._buffer
        buffer[0:n] = data
        status = srtp_lib.srtp_protect(self._ctx, self._cdata, cell)
        if status:
            raise SrtpError(f"srtp_protect failed: {status}")
        out: bytes = buffer[0 : cell[0]]
        return out


def nominated_pair(transport: RTCDtlsTransport) -> CandidatePair | None:
    """The ICE pair aioice sends RTP on (``Connection.sendto`` uses ``_nominated[1]``);
    re-read on every packet so an ICE restart or re-nomination moves the fast path too."""
    pair: CandidatePair | None = transport.transport._connection._nominated.get(1)
    return pair


def nominated_pairs(transport: RTCDtlsTransport) -> dict[int, CandidatePair]:
    """aioice's ``Connection._nominated`` (component -> pair) itself: the fast path checks
    ``.get(1)`` against the pair it bound to on every packet (a dict lookup)."""
    pairs: dict[int, CandidatePair] = transport.transport._connection._nominated
    return pairs


def datagram_sender(
    transport: RTCDtlsTransport, pair: CandidatePair
) -> tuple[Callable[[bytes, Any], None], Any]:
    """(send(data, addr), addr) for the pair: the UDP socket's ``sendto`` for host/srflx
    pairs (``StunProtocol.send_data`` does exactly that), else (TURN) aioice's own send."""
    protocol = pair.protocol
    if isinstance(protocol, StunProtocol) and protocol.transport is not None:
        return protocol.transport.sendto, pair.remote_addr
    connection = transport.transport._connection

    pending: set[asyncio.Future[None]] = set()

    def send(data: bytes, addr: Any) -> None:
        task = asyncio.ensure_future(connection.sendto(data, 1))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return send, None


__all__ = [
    "AIORTC_VERSION",
    "PassthroughQueue",
    "SrtpProtector",
    "datagram_sender",
    "install_direct_receive",
    "install_forwarding_receive",
    "install_quiet_sender_rtcp",
    "install_receiver_passthrough",
    "install_receiver_rtcp_tap",
    "install_receiver_tap",
    "install_sender_encoder",
    "install_sender_keyframe_hook",
    "install_sender_retransmit",
    "install_transport_send_thread",
    "install_transport_tap",
    "nominated_pair",
    "nominated_pairs",
    "receiver_started",
    "request_keyframe",
    "restrict_codecs",
    "rtp_emitter",
    "sender_encoder",
    "sender_header_extensions",
    "sender_leg",
    "sender_reports_compound",
    "sender_rtx_payload_type",
    "srtp_function_address",
    "srtp_sender",
    "srtp_session_address",
    "transport_leg",
    "vp8_packetize",
]
