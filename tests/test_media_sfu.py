"""The SFU engine with real aiortc client peers (no Socket.IO): forwarding, keyframes,
mute, speech detection, clean release."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, is_rtcp, unpack_remb_fci
from aiortc.utils import uint16_gt

from realtime.media import hooks
from realtime.media.config import MediaConfig
from realtime.media.errors import BadSignal, ScreenBusy
from realtime.media.forwarding import PackOnlyEncoder, vp8_keyframe_start
from realtime.media.sfu import Sfu
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, int, str, str, dict[str, Any]]] = []

    def __call__(self, meeting_id: int, kind: str, participant: str, data: dict[str, Any]) -> None:
        self.events.append((time.monotonic(), meeting_id, kind, participant, data))

    def closed(self, participant: str) -> list[str]:
        return [e[4]["reason"] for e in self.events if e[2] == "closed" and e[3] == participant]

    def kinds(self, participant: str, prefix: str) -> list[str]:
        return [e[2] for e in self.events if e[3] == participant and e[2].startswith(prefix)]


async def join(sfu: Sfu, meeting: int, key: str, peer: ClientPeer) -> ClientPeer:
    room = sfu.room(meeting)

    async def send(sdp: str, sources: dict[str, str]) -> str:
        return await room.offer(key, sdp, sources)  # type: ignore[arg-type]

    await peer.offer(send)
    return peer


def camera_and_viewer() -> tuple[ClientPeer, ClientPeer]:
    """A peer publishing a camera, and one with a single video slot."""
    publisher = ClientPeer(audio_slots=0, video_slots=0)
    publisher.publish(PatternTrack(), "camera")
    return publisher, ClientPeer(audio_slots=0, video_slots=1)


async def watching(sfu: Sfu, meeting: int, publisher: ClientPeer, viewer: ClientPeer) -> None:
    """Both in the meeting (u:1 and u:2), the viewer decoding the camera."""
    await join(sfu, meeting, "u:1", publisher)
    await join(sfu, meeting, "u:2", viewer)
    await wait_for(lambda: viewer.frames("video") >= 3, 10, what="video at the viewer")


def server_senders(sfu: Sfu) -> list[Any]:
    return [
        t.sender for room in sfu.rooms.values() for p in room.peers.values() for t in p.pc.getTransceivers()
    ]


async def test_forwarding_without_codecs_keyframe_and_mute() -> None:
    recorder = Recorder()
    sfu = Sfu(MediaConfig(), recorder)
    alice = ClientPeer()
    alice.publish(ToneTrack(), "mic")
    alice.publish(PatternTrack(), "camera")
    bob = ClientPeer()
    bob.publish(ToneTrack(lambda t: False), "mic")
    try:
        await join(sfu, 1, "u:1", alice)
        joined = time.monotonic()
        await join(sfu, 1, "u:2", bob)
        await wait_for(
            lambda: bob.frames("video") >= 10 and bob.frames("audio") >= 20, 15, what="media at bob"
        )
        first = bob.first_frame_at("video")
        assert first is not None
        print(f"bob: first decoded video frame {first - joined:.2f}s after joining")
        assert bob.received and max(max(r.widths, default=0) for r in bob.received.values()) == 160
        # Alice receives Bob's audio slot (silence) but no video (Bob has no camera).
        await wait_for(lambda: alice.frames("audio") >= 10, 10, what="audio at alice")
        assert alice.frames("video") == 0

        # No codec on the server: every receiver feeds the passthrough queue, every sender
        # holds our encoder, which never encoded (nor packed: the RTP-level fast path sends).
        room = sfu.room(1)
        for peer in room.peers.values():
            for t in peer.pc.getTransceivers():
                if t.mid in peer.publications:
                    queue = getattr(t.receiver, hooks.RECEIVER_DECODER_QUEUE)
                    assert isinstance(queue, hooks.PassthroughQueue)
        encoders = [hooks.sender_encoder(s) for s in server_senders(sfu)]
        assert all(isinstance(e, PackOnlyEncoder) for e in encoders if e is not None)
        assert all(e.encoded == 0 and e.packed == 0 for e in encoders if isinstance(e, PackOnlyEncoder))
        slots = [s for p in room.peers.values() for s in p.slots.values()]
        assert sum(s.packets_sent for s in slots) > 30
        video_pub = next(p for p in room.publications if p.kind == "video")
        requests_before = video_pub.keyframe_requests

        # A new subscriber gets a keyframe: carol joins late and decodes video.
        carol = ClientPeer()
        carol_joined = time.monotonic()
        await join(sfu, 1, "u:3", carol)
        await wait_for(lambda: carol.frames("video") >= 3, 10, what="video at carol")
        carol_first = carol.first_frame_at("video")
        assert carol_first is not None
        print(f"carol: first decoded video frame {carol_first - carol_joined:.2f}s after joining")
        # aiortc's VP8 encoder sends key frames only on request: carol's slot asked for one.
        assert video_pub.keyframe_requests > requests_before

        # Mute: alice's audio stops reaching bob (slot emptied at once).
        room.mute("u:1")
        assert all(not p.slots for p in room.publications if p.participant == "u:1" and p.kind == "audio")
        bob_audio = [s for s in room.peers["u:2"].slots.values() if s.kind == "audio"]
        assert all(s.source is None for s in bob_audio)
        queued = sum(s.packets_sent for s in bob_audio)
        alice_mic = next(p for p in room.publications if p.participant == "u:1" and p.kind == "audio")
        received_then = alice_mic.frames
        await wait_for(
            lambda: alice_mic.frames > received_then + 20, 10, what="alice still sends while muted"
        )
        assert sum(s.packets_sent for s in bob_audio) == queued  # nothing more was forwarded
        before = bob.frames("audio")
        room.unmute("u:1")
        await wait_for(lambda: bob.frames("audio") > before + 10, 10, what="audio after unmute")
        await carol.close()
        await wait_for(lambda: "u:3" not in room.peers, 10, what="carol released")
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
    assert not sfu.rooms


async def test_speech_events_follow_the_tone_pattern() -> None:
    recorder = Recorder()
    config = MediaConfig()
    sfu = Sfu(config, recorder)
    # on 0.0-1.0 s, off 1.0-2.4 s, on 2.4-3.2 s, off afterwards; a 0.1 s "cough" at 4.6 s.
    pattern = [(0.0, 1.0), (2.4, 3.2), (4.6, 4.7)]
    tone = ToneTrack(lambda t: any(a <= t < b for a, b in pattern))
    speaker = ClientPeer(audio_slots=0, video_slots=0)
    speaker.publish(tone, "mic")
    try:
        await join(sfu, 2, "u:1", speaker)
        await wait_for(lambda: len(recorder.kinds("u:1", "speech")) >= 4 and tone.start, 15, what="speech")
        # The cough (4.6-4.7 s) has been sent and detected long enough ago: it started nothing.
        await wait_for(lambda: tone.sent_seconds > 4.7 + config.speech_on + 0.5, 10, what="cough sent")
        events = [(e[0], e[2]) for e in recorder.events if e[2].startswith("speech")]
        assert [k for _, k in events] == ["speech.started", "speech.ended"] * 2
        start = tone.start
        assert start is not None
        expected = [
            pattern[0][0] + config.speech_on,
            pattern[0][1] + config.speech_off,
            pattern[1][0] + config.speech_on,
            pattern[1][1] + config.speech_off,
        ]
        offsets = [at - start - want for (at, _), want in zip(events, expected, strict=True)]
        print("speech event offsets from the pattern (s):", [round(o, 2) for o in offsets])
        # Tolerance: network + jitter buffer + timer tick; the detector itself is exact.
        assert all(-0.1 <= o <= 0.6 for o in offsets), offsets
    finally:
        await speaker.close()
        await sfu.close()


async def test_bad_signalling_and_ice_timeout_release_the_peer() -> None:
    recorder = Recorder()
    sfu = Sfu(MediaConfig(ice_timeout=1.0), recorder)
    room = sfu.room(3)
    many = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + "".join(
        f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:{i}\r\na=rtpmap:111 opus/48000/2\r\n" for i in range(40)
    )
    for bad in ["", "v=0\r\nnonsense", "x" * 70_000, many]:
        with pytest.raises(BadSignal):
            await room.offer("u:1", bad)
        assert "u:1" not in room.peers

    # A peer that sends an offer but never connects is closed after the ICE timeout.
    silent = RTCPeerConnection()
    silent.addTransceiver("audio", direction="recvonly")
    await silent.setLocalDescription(await silent.createOffer())
    sdp = silent.localDescription.sdp
    await silent.close()
    await room.offer("u:9", sdp)
    assert "u:9" in room.peers
    await wait_for(lambda: recorder.closed("u:9") == ["ice_timeout"], 10, what="ice timeout")
    assert "u:9" not in room.peers
    await sfu.close()


async def test_one_screen_share_at_a_time_and_stop() -> None:
    recorder = Recorder()
    sfu = Sfu(MediaConfig(), recorder)
    presenter = ClientPeer(audio_slots=0, video_slots=0)
    presenter.publish(PatternTrack(), "screen")
    presenter.publish(PatternTrack(), "camera")
    viewer = ClientPeer(audio_slots=1, video_slots=2)
    other = ClientPeer(audio_slots=0, video_slots=0)
    other.publish(PatternTrack(), "screen")
    try:
        await join(sfu, 4, "u:1", presenter)
        await join(sfu, 4, "u:2", viewer)
        # Both video slots of the viewer carry something: the screen and the camera.
        await wait_for(
            lambda: sum(1 for r in viewer.received.values() if r.kind == "video" and r.frames >= 3) == 2,
            10,
            what="screen and camera at viewer",
        )
        with pytest.raises(ScreenBusy):
            await join(sfu, 4, "u:3", other)
        room = sfu.room(4)
        assert room.stop_screen("u:1")
        assert recorder.kinds("u:1", "screen") == ["screen.started", "screen.stopped"]
        carried = [v for v in room.slot_map("u:2").values() if v]
        assert carried == [{"participant": "u:1", "source": "camera"}]  # the screen is gone
    finally:
        for p in (presenter, viewer, other):
            await p.close()
        await sfu.close()


async def test_many_joins_and_leaves_leak_nothing() -> None:
    sfu = Sfu(MediaConfig(), Recorder())
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    host = ClientPeer(audio_slots=0, video_slots=0)
    host.publish(PatternTrack(), "camera")
    await join(sfu, 5, "u:1", host)
    for round_ in range(6):
        guests = [ClientPeer(audio_slots=1, video_slots=1) for _ in range(2)]
        for i, guest in enumerate(guests):
            await join(sfu, 5, f"g:{round_ * 10 + i}", guest)
        await wait_for(lambda gs=guests: all(g.frames("video") > 0 for g in gs), 10, what="guests receive")
        for i, guest in enumerate(guests):
            await guest.close()
            await sfu.leave(5, f"g:{round_ * 10 + i}")
    room = sfu.room(5)
    assert list(room.peers) == ["u:1"]
    assert all(not p.slots for p in room.publications)
    await host.close()
    await sfu.leave(5, "u:1")
    assert not sfu.rooms
    await wait_for(lambda: len(asyncio.all_tasks()) <= tasks_before + 2, 10, what="tasks released")


async def test_a_flooding_publisher_is_closed_and_the_room_carries_on() -> None:
    recorder = Recorder()
    sfu = Sfu(MediaConfig(max_packets_per_second=40), recorder)  # Opus sends 50 packets/s
    flooder = ClientPeer(audio_slots=0, video_slots=0)
    flooder.publish(ToneTrack(), "mic")
    viewer = ClientPeer(audio_slots=1, video_slots=0)
    try:
        await join(sfu, 6, "u:2", viewer)
        await join(sfu, 6, "u:1", flooder)
        room = sfu.room(6)
        await wait_for(lambda: recorder.closed("u:1") == ["flood"], 10, what="flooder closed")
        assert "u:1" not in room.peers
        assert list(room.peers) == ["u:2"]
    finally:
        await flooder.close()
        await viewer.close()
        await sfu.close()


async def test_renegotiation_adds_a_camera_and_a_second_tab_replaces_the_first() -> None:
    recorder = Recorder()
    sfu = Sfu(MediaConfig(), recorder)
    late = ClientPeer(audio_slots=1, video_slots=1)
    viewer = ClientPeer(audio_slots=1, video_slots=1)
    second_tab = ClientPeer(audio_slots=1, video_slots=1)
    try:
        await join(sfu, 7, "u:1", late)
        await join(sfu, 7, "u:2", viewer)
        assert viewer.frames("video") == 0
        late.publish(PatternTrack(), "camera")  # the camera is switched on later: a re-offer
        await join(sfu, 7, "u:1", late)
        await wait_for(lambda: viewer.frames("video") >= 3, 10, what="camera after renegotiation")
        room = sfu.room(7)
        first = room.peers["u:1"]
        await join(sfu, 7, "u:1", second_tab)
        assert room.peers["u:1"] is not first and first.closed
        assert recorder.closed("u:1") == ["replaced"]
    finally:
        for p in (late, viewer, second_tab):
            await p.close()
        await sfu.close()


RTP_HISTORY = "_RTCRtpSender__rtp_history"  # aiortc 1.16.0: the packets a NACK can ask for


async def test_retransmissions_reach_the_sfu_from_a_camera_and_a_screen() -> None:
    """Two video publications on one bundle: RTX is routed by its SSRC (aiortc alone routes it
    by payload type, shared by both, and dropped every retransmission)."""
    sfu = Sfu(MediaConfig(), Recorder())
    presenter = ClientPeer(audio_slots=0, video_slots=0)
    presenter.publish(PatternTrack(), "camera")
    presenter.publish(PatternTrack(), "screen")
    viewer = ClientPeer(audio_slots=0, video_slots=2)
    try:
        await join(sfu, 6, "u:1", presenter)
        await join(sfu, 6, "u:2", viewer)
        await wait_for(
            lambda: sum(1 for r in viewer.received.values() if r.kind == "video" and r.frames >= 3) == 2,
            10,
            what="screen and camera at viewer",
        )
        pubs = sfu.room(6).publications
        assert sorted(p.source for p in pubs) == ["camera", "screen"]
        assert all(p.rtx_packets == 0 for p in pubs)
        # The presenter is asked to resend a recent packet of each track (what a NACK does).
        for transceiver in presenter.pc.getTransceivers():
            history = getattr(transceiver.sender, RTP_HISTORY)
            seq = max((p.sequence_number for p in history.values() if p is not None), default=None)
            assert seq is not None
            await transceiver.sender._retransmit(seq)
        await wait_for(lambda: all(p.rtx_packets >= 1 for p in pubs), 10, what="RTX of both at the SFU")
    finally:
        for p in (presenter, viewer):
            await p.close()
        await sfu.close()


async def test_a_packet_lost_for_good_upstream_asks_the_publisher_for_a_key_frame() -> None:
    """A camera packet that never reaches the SFU, nor any retransmission of it: once its NACKs
    give up (RTP_HISTORY_SIZE packets later, when the publisher no longer holds it either),
    the SFU asks the publisher for a key frame itself, and a key frame follows; a loss that a
    key frame forwarded since has already repaired asks for nothing."""
    sfu = Sfu(MediaConfig(), Recorder())
    presenter, viewer = camera_and_viewer()
    try:
        await watching(sfu, 9, presenter, viewer)

        async def silent(media_ssrc: int) -> None:
            return None

        for transceiver in viewer.pc.getTransceivers():  # only the SFU's own requests count
            transceiver.receiver._send_rtcp_pli = silent  # type: ignore[method-assign]
        (pub,) = sfu.room(9).publications
        (sending,) = presenter.pc.getTransceivers()
        sender = sending.sender
        handle_rtcp = sender._handle_rtcp_packet

        async def without_remb(packet: Any) -> None:
            # aiortc's VP8 encoder starts over, with a key frame, when the bitrate the SFU
            # estimates moves by 10 %: here only the requests under test make key frames.
            if not (isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP):
                await handle_rtcp(packet)

        sender._handle_rtcp_packet = without_remb  # type: ignore[method-assign]
        transport = sender.transport
        original = transport._send_rtp
        dropped: list[int] = []
        armed = [False]

        async def lossy(data: bytes) -> None:
            if is_rtcp(data):  # the sender's reports take the same way
                await original(data)
                return
            packet = RtpPacket.parse(data)
            if packet.ssrc == sender._ssrc and armed[0] and not vp8_keyframe_start(packet.payload):
                armed[0] = False
                dropped.append(packet.sequence_number)
                return
            if packet.ssrc == sender._rtx_ssrc and int.from_bytes(packet.payload[:2], "big") in dropped:
                return  # its retransmissions are lost too
            await original(data)

        transport._send_rtp = lossy  # type: ignore[method-assign]
        await asyncio.sleep(0.5)  # past the rate limit of the slot's first request
        requests = pub.keyframe_requests

        # Lost for good: asked for once, and a key frame follows the loss.
        armed[0] = True
        await wait_for(lambda: dropped, 5, what="a packet dropped")
        await wait_for(lambda: pub.lost_for_good == 1, 20, what="the loss given up")
        assert pub.keyframe_requests == requests + 1
        await wait_for(
            lambda: pub.keyframe_seq is not None and uint16_gt(pub.keyframe_seq, dropped[0]),
            10,
            what="a key frame after the loss, forwarded to the viewer",
        )

        # A key frame forwarded since the loss: nothing more to ask for.
        armed[0] = True
        await wait_for(lambda: len(dropped) == 2, 5, what="a second packet dropped")
        await hooks.request_keyframe(pub.receiver, pub.ssrc)  # as a subscriber's PLI would
        await wait_for(
            lambda: pub.keyframe_seq is not None and uint16_gt(pub.keyframe_seq, dropped[1]),
            10,
            what="a key frame after the second loss",
        )
        await wait_for(lambda: pub.lost_for_good == 2, 20, what="the second loss given up")
        assert pub.keyframe_requests == requests + 1
    finally:
        for p in (presenter, viewer):
            await p.close()
        await sfu.close()


async def test_publishers_rtp_is_taken_at_the_socket_and_counted_as_aiortc_counts_it() -> None:
    """hooks.install_direct_receive: once DTLS is up, a publisher's RTP is unprotected and
    forwarded where the socket hands it over, not through aioice's queue and the DTLS
    transport's task; the transport's statistics still count it, and a datagram libsrtp
    refuses is dropped without harm."""
    sfu = Sfu(MediaConfig(), Recorder())
    alice, bob = camera_and_viewer()
    try:
        await watching(sfu, 7, alice, bob)
        (pub,) = sfu.room(7).publications
        transport = pub.receiver.transport
        protocols = [
            p for p in transport.transport._connection._protocols if getattr(p, hooks.PROTOCOL_DIRECT, False)
        ]
        assert protocols
        queued: list[bytes] = []  # what still takes aiortc's path (DTLS, SRTCP)
        original = transport._handle_rtp_data

        async def counting(data: bytes, arrival_time_ms: int) -> None:
            queued.append(data)
            await original(data, arrival_time_ms)

        transport._handle_rtp_data = counting
        received, rx = pub.packets, getattr(transport, hooks.TRANSPORT_RX[1])
        frames = bob.frames("video")
        for protocol in protocols:  # garbage that looks like SRTP: refused by libsrtp, dropped
            protocol.datagram_received(bytes([0x80, 96]) + bytes(40), ("127.0.0.1", 9))
        await wait_for(lambda: bob.frames("video") >= frames + 10, 10, what="more video at bob")
        assert pub.packets - received >= 10
        assert queued == []  # every RTP packet since came the direct way
        assert getattr(transport, hooks.TRANSPORT_RX[1]) - rx >= pub.packets - received
    finally:
        for p in (alice, bob):
            await p.close()
        await sfu.close()


async def test_the_publishers_bandwidth_estimate_reaches_the_publisher() -> None:
    """The publisher's receiver parses abs-send-time (``_receive.c``) and feeds the C bandwidth
    estimator (``_remb.c``); its REMB, naming the publisher's SSRC, reaches the publisher's
    sender (aiortc's rate control reports once it has seen 3 s of throughput)."""
    sfu = Sfu(MediaConfig(), Recorder())
    alice = ClientPeer(audio_slots=0, video_slots=0)
    alice.publish(PatternTrack(), "camera")
    bob = ClientPeer(audio_slots=0, video_slots=1)
    estimates: list[tuple[int, list[int]]] = []
    try:
        await join(sfu, 8, "u:1", alice)
        await join(sfu, 8, "u:2", bob)
        (sender,) = [t.sender for t in alice.pc.getTransceivers() if t.sender.track is not None]
        original = sender._handle_rtcp_packet

        async def seeing(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                estimates.append(unpack_remb_fci(packet.fci))
            await original(packet)

        sender._handle_rtcp_packet = seeing  # type: ignore[method-assign]
        await wait_for(lambda: bob.frames("video") >= 3, 10, what="video at bob")
        (pub,) = sfu.room(8).publications
        estimator = getattr(pub.receiver, hooks.RECEIVER_PRIVATE["remote_bitrate_estimator"])
        if hooks._BitrateEstimator is not None and not hooks.SMO_PYTHON_RECEIVE:
            assert isinstance(estimator, hooks._BitrateEstimator)
        await wait_for(lambda: bool(estimates), 12, what="a REMB at the publisher")
        bitrate, ssrcs = estimates[-1]
        assert bitrate > 0 and sender._ssrc in ssrcs
    finally:
        for p in (alice, bob):
            await p.close()
        await sfu.close()
