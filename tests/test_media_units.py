"""Pure parts of the SFU: ICE server settings, speech hysteresis, the fast path's header
rewriting, RTX and sender reports."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiortc.rtp import RtpPacket, unwrap_rtx

from realtime.media import hooks
from realtime.media.config import MediaConfig, parse_ice_servers
from realtime.media.forwarding import SlotTrack, is_vp8_keyframe, vp8_keyframe_start
from realtime.media.speech import SpeechDetector


def test_ice_servers_come_from_the_settings_only() -> None:
    assert MediaConfig().rtc_configuration().iceServers == []  # never aiortc's public STUN
    servers = parse_ice_servers(
        ["stun:stun.school.local:3478", "turn:smo:s3cret@turn.school.local:3478?transport=udp"]
    )
    assert servers[0].urls == "stun:stun.school.local:3478" and servers[0].username is None
    assert servers[1].urls == "turn:turn.school.local:3478?transport=udp"
    assert (servers[1].username, servers[1].credential) == ("smo", "s3cret")
    with pytest.raises(ValueError):
        parse_ice_servers(["http://example.org"])

    class Settings:
        ice_servers = ["stun:a.local"]
        media_last_n = 2

    config = MediaConfig.from_settings(Settings())
    assert config.ice_servers == ["stun:a.local"] and config.last_n == 2 and config.max_audio == 3


def feed(detector: SpeechDetector, pattern: list[tuple[float, float, int]]) -> list[tuple[float, str]]:
    """Packets every 20 ms: (from, to, level); returns (time, change)."""
    out = []
    for start, end, level in pattern:
        t = start
        while t < end - 1e-9:
            change = detector.feed(level, t)
            if change:
                out.append((round(t, 2), change))
            t += 0.02
    return out


def test_speech_hysteresis() -> None:
    config = MediaConfig()
    d = SpeechDetector(config)
    events = feed(d, [(0.0, 1.0, 127), (1.0, 2.0, 20), (2.0, 2.1, 127), (2.1, 3.0, 25), (3.0, 5.0, 127)])
    # started 0.25 s into the voice; the 0.1 s pause is not an end; ended 0.8 s after the voice.
    assert events == [(1.26, "started"), (3.8, "ended")]
    cough = SpeechDetector(config)
    assert feed(cough, [(0.0, 0.1, 10), (0.1, 2.0, 127)]) == []
    # Packets stop while speaking: the timer ends the speech.
    d2 = SpeechDetector(config)
    feed(d2, [(0.0, 1.0, 20)])
    assert d2.speaking and d2.tick(1.5) is None and d2.tick(1.8) == "ended"
    assert SpeechDetector(config).reset() is None


def test_vp8_keyframe_bit() -> None:
    assert is_vp8_keyframe(b"\x10\x02\x00")
    assert not is_vp8_keyframe(b"\x11\x02\x00")
    assert not is_vp8_keyframe(b"")


class BoundSlot(SlotTrack):
    """A slot bound to a recording emitter without SRTP (the real binding needs a connected
    aiortc leg: tests/test_media_sfu.py; hooks.rtp_emitter: tests/test_media_hooks.py)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind, "5")
        self.sent: list[bytes] = []

    def _bind(self) -> bool:
        self._ext = b"\xbe\xde\x00\x01\x10\x35\x00\x00"  # MID "5" (id 1), padded
        self._b0, self._hlen = 0x90, 12 + len(self._ext)
        self._header = struct.Struct(f"!BBHII{len(self._ext)}s")
        self._pt, self._ssrc, self._rtx_pt, self._rtx_ssrc = 100, 0xABCD, 101, 0xDCBA
        self._pair = object()
        self._nominated = {1: self._pair}
        header = self._header

        def emit(b0: int, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
            self.sent.append(header.pack(b0, b1, seq, ts, ssrc, ext) + payload)

        self._emit = emit
        self._bound = True
        return True


def vp8(key: bool, start: bool = True) -> bytes:
    return bytes([0x90 if start else 0x80, 0x80, 0x81, 0x02, 0x10 if key else 0x11]) + b"data"


def test_vp8_keyframe_start_reads_the_payload_descriptor() -> None:
    assert vp8_keyframe_start(vp8(True))
    assert not vp8_keyframe_start(vp8(False))
    assert not vp8_keyframe_start(vp8(True, start=False))  # not the first packet of a frame
    assert vp8_keyframe_start(bytes([0x10, 0x10]))  # no extension byte
    assert vp8_keyframe_start(hooks.vp8_packetize(b"\x10" + bytes(20), 300)[0])
    assert not vp8_keyframe_start(b"\x90")


def test_slot_rewrites_headers_keeps_a_continuous_timeline_and_answers_nacks() -> None:
    slot = BoundSlot("video")
    src_a, src_b = object(), object()
    slot.assign(src_a)
    asked: list[int] = []
    slot.need_keyframe = lambda: asked.append(1)
    slot.forward(10, 1000, 0, vp8(False), False, 1.0)  # delta frame: dropped, key frame asked
    assert not slot.sent and asked == [1]
    slot.forward(11, 4000, 0, vp8(True), True, 1.0)
    slot.forward(12, 4000, 1, vp8(True, start=False), False, 1.0)
    slot.forward(13, 7000, 1, vp8(False), False, 1.03)
    packets = [RtpPacket.parse(p) for p in slot.sent]
    assert [p.ssrc for p in packets] == [0xABCD] * 3 and {p.payload_type for p in packets} == {100}
    seqs = [p.sequence_number for p in packets]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(3)]
    assert (packets[2].timestamp - packets[0].timestamp) & 0xFFFFFFFF == 3000
    assert [p.marker for p in packets] == [0, 1, 1] and packets[1].payload == vp8(True, start=False)
    assert slot.sent[0][12:20] == slot._ext  # the subscriber's own MID extension
    # A switch keeps sequence numbers continuous and the timeline moving with the clock.
    slot.assign(src_b)
    slot.forward(50_000, 123, 0, vp8(True), True, 2.03)
    switched = RtpPacket.parse(slot.sent[-1])
    assert switched.sequence_number == (seqs[2] + 1) & 0xFFFF
    assert (switched.timestamp - packets[2].timestamp) & 0xFFFFFFFF == 90000
    slot.forward(49_999, 123, 0, vp8(False), False, 2.03)  # from before the switch: dropped
    assert len(slot.sent) == 4
    # NACK -> RTX (RFC 4588) from the history.
    asyncio.run(slot.retransmit(seqs[1]))
    rtx = RtpPacket.parse(slot.sent[-1])
    assert rtx.ssrc == 0xDCBA and rtx.payload_type == 101
    original = unwrap_rtx(rtx, payload_type=100, ssrc=0xABCD)
    assert original.sequence_number == seqs[1] and original.payload == vp8(True, start=False)
    assert original.marker == 1
    asyncio.run(slot.retransmit((seqs[0] - 5) & 0xFFFF))  # never sent: nothing
    assert len(slot.sent) == 5 and slot.retransmitted == 1


def test_sender_report_maps_the_publishers_clock_onto_the_slot() -> None:
    class Source:
        sender_report: tuple[int, int] | None = None

    slot = BoundSlot("audio")
    source = Source()
    assert slot.sender_report() is None  # nothing sent yet: aiortc's own SR stands
    slot.assign(source)
    slot.forward(7, 48_000, 0, b"opus", True, 1.0)
    ntp, rtp_ts, count, octets = slot.sender_report() or (0, 0, 0, 0)
    assert rtp_ts == RtpPacket.parse(slot.sent[0]).timestamp and count == 1 and octets == 4
    source.sender_report = (0x1234_5678_0000_0000, 48_000 + 960)
    ntp, rtp_ts, _, _ = slot.sender_report() or (0, 0, 0, 0)
    assert ntp == 0x1234_5678_0000_0000
    assert (rtp_ts - RtpPacket.parse(slot.sent[0]).timestamp) & 0xFFFFFFFF == 960
