"""Pure parts of the SFU: ICE server settings, speech hysteresis, slot policy helpers."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from realtime.media import hooks
from realtime.media.assembly import Vp8Assembler
from realtime.media.config import MediaConfig, parse_ice_servers
from realtime.media.forwarding import is_vp8_keyframe
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


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False, pt: int = 96) -> Any:
    packet = RtpPacket(payload_type=pt, sequence_number=seq & 0xFFFF, timestamp=ts & 0xFFFFFFFF)
    packet.payload = payload
    packet.marker = int(marker)
    return packet


def frame_packets(seq: int, ts: int, data: bytes, size: int = 400) -> list[Any]:
    payloads = hooks.vp8_packetize(data, 1) if len(data) <= size else []
    if not payloads:
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        payloads = [bytes([0x90 if i == 0 else 0x80, 0x80, 0x01]) + c for i, c in enumerate(chunks)]
    return [rtp(seq + i, ts, p, marker=i == len(payloads) - 1) for i, p in enumerate(payloads)]


def test_vp8_frames_are_forwarded_on_their_marker_bit() -> None:
    a = Vp8Assembler(96, 97)
    key = b"\x10" + bytes(range(256)) * 4
    packets = frame_packets(65534, 0xFFFFFF00, key)  # sequence numbers wrap inside the frame
    assert len(packets) > 2
    out = [a.add(p) for p in packets]
    assert out[:-1] == [None] * (len(packets) - 1) and out[-1] == (key, 0xFFFFFF00)
    # Out of order inside the next frame; the timestamp wraps too.
    nxt = frame_packets(packets[-1].sequence_number + 1, 0x00000100, b"\x11" + bytes(900))
    results = [a.add(p) for p in (nxt[1], nxt[2], nxt[0])]
    assert results[:2] == [None, None] and results[2] is not None and results[2][1] == 0x100
    # A lost packet retransmitted with RTX (PT 97, original sequence number first) completes it.
    third = frame_packets(nxt[-1].sequence_number + 1, 0x200, b"\x11" + bytes(900))
    assert a.add(third[0]) is None and a.add(third[2]) is None
    lost = third[1]
    rtx = rtp(500, 0x200, lost.sequence_number.to_bytes(2, "big") + lost.payload, pt=97)
    assert a.add(rtx) is not None
    # A late packet of a frame older than one already forwarded is dropped.
    assert a.add(rtp(nxt[0].sequence_number, 0x100, nxt[0].payload)) is None
    assert a.add(rtp(1, 0x300, b"", marker=True)) is None
    assert a.add(rtp(1, 0x300, b"\x10\x00", marker=True, pt=111)) is None  # another payload type
