"""One participant's RTCPeerConnection to the SFU: what it publishes and its receive slots.

The client always offers (no glare): its sending transceivers are publications, its
receiving transceivers are slots the room fills with other participants' media. ``sources``
in the offer message labels each sending mid: "mic", "camera" or "screen".
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any, Literal, Protocol

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver, RTCSessionDescription
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import AnyRtcpPacket, RtcpSrPacket, RtpPacket
from aiortc.sdp import SessionDescription, candidate_from_sdp
from aiortc.utils import uint16_gt

from realtime.media import hooks, sendthread
from realtime.media.capture import SpeechCapture
from realtime.media.config import MediaConfig
from realtime.media.errors import BadSignal, CodecUnsupported
from realtime.media.forwarding import PackOnlyEncoder, SlotTrack, fanout, vp8_keyframe_start
from realtime.media.recorder import TrackWriter
from realtime.media.speech import SpeechDetector

log = logging.getLogger("smo.media")

Source = Literal["mic", "camera", "screen"]
MIME = {"audio": "audio/opus", "video": "video/VP8"}
MAX_SDP = 64_000
MAX_SECTIONS = 24  # mic, camera, screen and the receive slots, with room to spare


def offer_ufrag(sdp: str) -> str | None:
    """The ICE username fragment of an offer: stable across renegotiations of one client
    connection, different for another tab or a rebuilt connection."""
    try:
        media = SessionDescription.parse(sdp).media
    except Exception:
        return None
    return media[0].ice.usernameFragment if media and media[0].ice else None


class PeerHost(Protocol):
    """What a peer and its publications need from their room (realtime/media/room.py's
    MediaRoom); the room imports this module, not the other way round."""

    config: MediaConfig

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...

    async def remove_peer(self, participant: str, reason: str = "left") -> None: ...

    def unpublish(self, pub: Publication) -> None: ...

    def speech_changed(self, pub: Publication, change: str) -> None: ...


class Publication:
    """A track a participant sends; forwarded to the slots the policy assigns."""

    def __init__(
        self,
        room: PeerHost,
        participant: str,
        kind: str,
        source: Source,
        mid: str,
        receiver: RTCRtpReceiver,
        payload_type: int,
        rtx_payload_type: int | None = None,
    ) -> None:
        self.room = room
        self.participant = participant
        self.kind = kind
        self.source = source
        self.mid = mid
        self.receiver = receiver
        self.payload_type = payload_type
        self.ssrc: int | None = None
        self.slots: set[SlotTrack] = set()
        self.muted = False
        self.stopped = False
        self.created = time.monotonic()
        self.last_spoke = float("-inf")
        self.frames = 0  # frames forwarded (Opus packets, VP8 marker packets)
        self.keyframe_requests = 0
        self.lost_for_good = 0  # packets the NACKs towards the publisher did not recover
        self.keyframe_seq: int | None = None  # the newest key frame's first packet forwarded
        self._last_keyframe_request = float("-inf")
        self._window_start = 0.0
        self._window_packets = 0
        self.detector = SpeechDetector(room.config) if kind == "audio" else None
        self.capture: SpeechCapture | None = None  # set by the room while transcription is on
        self.rtx_payload_type = rtx_payload_type
        self.packets = 0  # RTP packets received from the publisher (RTX included)
        self.rtx_packets = 0  # of those, retransmissions (RTX) the receiver's NACKs asked for
        self.reassembled = 0  # frames aiortc's own jitter buffer completed (not forwarded)
        # The publisher's latest RTCP SR: (NTP time, RTP timestamp), for the legs' own SRs.
        self.sender_report: tuple[int, int] | None = None
        self.recorder: TrackWriter | None = None  # set while the meeting is being recorded

    @property
    def active(self) -> bool:
        return not self.muted and not self.stopped

    def on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        """aiortc's reassembled frame, instead of decoding it: the SFU already forwarded its
        packets, so it is only counted."""
        self.reassembled += 1

    def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self.ssrc:
            info = packet.sender_info
            self.sender_report = (info.ntp_timestamp, info.rtp_timestamp)

    def on_packet(self, packet: RtpPacket, data: bytes) -> None:
        """Every decrypted RTP packet of this publication, before aiortc's receiver sees it."""
        self.packets += 1
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_packets = now, 0
        self._window_packets += 1
        if self._window_packets > self.room.config.max_packets_per_second and not self.stopped:
            # A flooding publisher: close its connection, the meeting carries on.
            self.stopped = True
            self.room.spawn(self.room.remove_peer(self.participant, reason="flood"))
            return
        pt = packet.payload_type
        if pt == self.payload_type:
            self.ssrc = packet.ssrc
            seq = packet.sequence_number
            payload = packet.payload
            if self.detector is not None and self.active:
                level = packet.extensions.audio_level
                if level is not None:
                    change = self.detector.feed(level[1], now)
                    if change is not None:
                        self.room.speech_changed(self, change)
                capture = self.capture
                if capture is not None:  # transcription on: keep the publisher's own packets
                    capture.feed(packet.timestamp, payload, level[1] if level is not None else None, now)
        elif pt == self.rtx_payload_type and len(packet.payload) > 2:
            # RFC 4588: a retransmission aiortc's receiver asked for; forward it as the
            # original packet (each leg's own NACK/RTX is answered from the leg's history).
            self.rtx_packets += 1
            payload = packet.payload
            seq = payload[0] << 8 | payload[1]
            payload = payload[2:]
        else:
            return
        if self.kind == "audio" or packet.marker:
            self.frames += 1
        if not payload or self.muted or self.stopped:
            return
        recorder = self.recorder
        if recorder is not None:
            recorder.feed(seq, packet.timestamp, packet.marker, payload, now)
        if not self.slots:
            return
        keyframe = self.kind == "audio" or vp8_keyframe_start(payload)
        if keyframe and self.kind == "video":
            self.keyframe_seq = seq
        ts, marker = packet.timestamp, packet.marker
        fanout(self.slots, seq, ts, marker, payload, keyframe, now)
        sendthread.flush()  # one wake-up of the sending thread per fan-out

    def lost_upstream(self, newest: int, count: int) -> None:
        """Packets from the publisher that no retransmission recovered (the newest of them,
        how many): the subscribers' decoders need a key frame, so ask for one now rather than
        wait for each subscriber to give up and ask (mediasoup does the same), unless one has
        been forwarded since the loss."""
        self.lost_for_good += count
        if self.keyframe_seq is not None and uint16_gt(self.keyframe_seq, newest):
            return
        self.request_keyframe()

    def request_keyframe(self) -> None:
        """Rate-limited PLI towards the publisher (a subscriber joined or sent PLI/FIR, or a
        packet was lost for good)."""
        now = time.monotonic()
        if self.kind != "video" or self.ssrc is None:
            return
        if now - self._last_keyframe_request < self.room.config.keyframe_interval:
            return
        self._last_keyframe_request = now
        self.keyframe_requests += 1
        self.room.spawn(hooks.request_keyframe(self.receiver, self.ssrc))


class Peer:
    def __init__(self, room: PeerHost, participant: str) -> None:
        self.room = room
        self.participant = participant
        self.pc = RTCPeerConnection(room.config.rtc_configuration())
        self.publications: dict[str, Publication] = {}  # by mid
        self.slots: dict[str, SlotTrack] = {}  # by mid
        self.encoders: list[PackOnlyEncoder] = []
        self._by_receiver: dict[RTCRtpReceiver, Publication] = {}
        self.closed = False
        self.remote_ufrag: str | None = None  # identifies the client's RTCPeerConnection
        self.connected = asyncio.Event()
        self._reports: asyncio.Task[None] | None = None  # _send_reports, from the first slot on
        self.pc.on("connectionstatechange", self._state_changed)

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed") and not self.closed:
            self.room.spawn(self.room.remove_peer(self.participant, reason=state))

    async def negotiate(self, sdp: str, sources: dict[str, Source]) -> tuple[str, list[Publication]]:
        """Apply the client's offer; return the answer SDP and the new publications."""
        if len(sdp) > MAX_SDP:
            raise BadSignal()
        try:
            parsed = SessionDescription.parse(sdp)
            directions = {m.rtp.muxId: m.direction for m in parsed.media if m.kind in MIME}
            if len(parsed.media) > MAX_SECTIONS:
                raise ValueError("too many media sections")
            if not directions or len(directions) != len(parsed.media) or None in directions:
                raise ValueError("an offer needs audio/video sections with distinct mids")
            if self.remote_ufrag is None and parsed.media[0].ice is not None:
                self.remote_ufrag = parsed.media[0].ice.usernameFragment
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError, OperationError, KeyError...
            raise BadSignal() from exc
        added: list[Publication] = []
        for transceiver in self.pc.getTransceivers():
            mid = transceiver.mid
            if mid is None:
                continue
            # setRemoteDescription renegotiates every transceiver's codecs: restrict each time.
            payload_types = hooks.restrict_codecs(transceiver, MIME[transceiver.kind])
            if payload_types is None:
                raise CodecUnsupported()
            if mid in self.publications or mid in self.slots:
                self._renegotiated(transceiver, directions.get(mid))
                continue
            direction = directions.get(mid) or "inactive"
            sends = direction in ("sendrecv", "sendonly")
            receives = direction in ("sendrecv", "recvonly")
            if sends:
                source = sources.get(mid) or ("mic" if transceiver.kind == "audio" else "camera")
                added.append(self._publish(transceiver, source, *payload_types))
            if receives:
                self._add_slot(transceiver, *payload_types)
            transceiver.direction = {
                (True, True): "sendrecv",
                (True, False): "recvonly",
                (False, True): "sendonly",
                (False, False): "inactive",
            }[(sends, receives)]
        try:
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except Exception as exc:
            raise BadSignal() from exc
        # The bundle transport is settled now: take the publishers' RTP at it.
        for pub in self.publications.values():
            hooks.install_transport_tap(pub.receiver.transport, self._on_rtp)
        sender = sendthread.current()
        if sender is not None:  # aiortc's own RTCP of this connection leaves through the thread too
            for transceiver in self.pc.getTransceivers():
                hooks.install_transport_send_thread(transceiver.sender.transport, sender)
        return self.pc.localDescription.sdp, added

    def _publish(
        self, transceiver: RTCRtpTransceiver, source: Source, payload_type: int, rtx_payload_type: int | None
    ) -> Publication:
        expected = "audio" if source == "mic" else "video"
        if transceiver.kind != expected:
            raise BadSignal()
        receiver = transceiver.receiver
        pub = Publication(
            self.room,
            self.participant,
            transceiver.kind,
            source,
            str(transceiver.mid),
            receiver,
            payload_type,
            rtx_payload_type,
        )
        hooks.install_receiver_passthrough(receiver, pub.on_frame)
        hooks.install_forwarding_receive(receiver, on_lost=pub.lost_upstream)
        hooks.install_receiver_rtcp_tap(receiver, pub.on_rtcp)
        self._by_receiver[receiver] = pub
        self.publications[pub.mid] = pub
        return pub

    def _on_rtp(self, receiver: RTCRtpReceiver, packet: RtpPacket, data: bytes) -> None:
        pub = self._by_receiver.get(receiver)
        if pub is not None:
            pub.on_packet(packet, data)

    def _add_slot(
        self, transceiver: RTCRtpTransceiver, payload_type: int, rtx_payload_type: int | None
    ) -> None:
        slot = SlotTrack(transceiver.kind, str(transceiver.mid))
        sender = transceiver.sender
        encoder = PackOnlyEncoder(transceiver.kind)
        hooks.install_sender_encoder(sender, encoder)
        hooks.install_sender_keyframe_hook(sender, slot.request_keyframe)
        hooks.install_sender_retransmit(sender, slot.retransmit)
        hooks.install_quiet_sender_rtcp(sender)  # its reports: the connection's (_send_reports)
        slot.attach(sender, payload_type, rtx_payload_type)
        if self._reports is None:
            self._reports = asyncio.get_running_loop().create_task(self._send_reports())
        sender.replaceTrack(slot)
        self.encoders.append(encoder)
        self.slots[slot.mid] = slot

    def _renegotiated(self, transceiver: RTCRtpTransceiver, direction: str | None) -> None:
        """A known mid in a new offer: the client may have stopped sending on it."""
        mid = transceiver.mid
        if mid in self.publications and direction not in ("sendrecv", "sendonly"):
            pub = self.publications.pop(str(mid))
            self._by_receiver.pop(pub.receiver, None)
            self.room.unpublish(pub)

    async def add_candidate(self, candidate: str, sdp_mid: str | None) -> None:
        if not candidate:
            return  # end of candidates
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        except Exception as exc:
            raise BadSignal() from exc
        parsed.sdpMid = sdp_mid
        if sdp_mid is None:
            raise BadSignal()
        await self.pc.addIceCandidate(parsed)

    async def _send_reports(self) -> None:
        """The sender reports of all this connection's slots in one compound RTCP packet every
        0.5-1.5 s (aiortc's interval; aiortc sent one packet per slot, each its own SRTCP
        protect, send and wake-up of the receiver). A slot that has sent nothing yet reports
        nothing."""
        while not self.closed:
            await asyncio.sleep(0.5 + random.random())
            try:
                by_transport: dict[Any, list[tuple[Any, tuple[int, int, int, int]]]] = {}
                for slot in list(self.slots.values()):
                    values = slot.sender_report()
                    if slot.sender is not None and values is not None:
                        by_transport.setdefault(slot.sender.transport, []).append((slot.sender, values))
                for transport, entries in by_transport.items():
                    if transport.state == "connected":
                        await transport._send_rtp(hooks.sender_reports_compound(entries))
            except ConnectionError:
                pass
            except Exception:  # a report is never worth the connection's reporting loop
                log.exception("media: sender reports failed")

    async def close(self) -> None:
        self.closed = True
        if self._reports is not None:
            self._reports.cancel()
        for slot in self.slots.values():
            slot.stop()
        # aiortc may be closing this connection itself (remote DTLS closed); a cancelled
        # awaiter of close() would cancel the future both share, so never cancel it.
        await asyncio.shield(self.pc.close())
