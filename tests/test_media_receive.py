"""The publisher's receive path in C (realtime/media/_receive.c, _remb.c) against what it
replaces: pylibsrtp's unprotect, aiortc's ``RtpPacket.parse`` and aiortc's
``RemoteBitrateEstimator``. Random packets and packet scripts go through both; the results
(and the estimator's filter state after every packet) must be the same, malformed input a
ValueError, bad arguments a TypeError."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from realtime.media import hooks

dataplane = pytest.importorskip("realtime.media._dataplane", reason="the C extension is not built")

URIS = [
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "urn:ietf:params:rtp-hdrext:toffset",
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
]
# Valid value lengths per extension (strings: any length; the numbers: fixed).
LENGTHS = {0: None, 1: None, 2: None, 3: 3, 4: 3, 5: 1, 6: 2}


def extension_map(rng: random.Random) -> HeaderExtensionsMap:
    """A map with a random subset of the extensions on random ids (one-byte range mostly)."""
    ids = rng.sample(range(1, 15), len(URIS))
    chosen = [
        RTCRtpHeaderExtensionParameters(id=ids[i], uri=uri)
        for i, uri in enumerate(URIS)
        if rng.random() < 0.8
    ]
    m = HeaderExtensionsMap()
    m.configure(RTCRtpParameters(headerExtensions=chosen))
    return m


def random_packet(rng: random.Random, m: HeaderExtensionsMap) -> bytes:
    ids = m._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    by_field = [
        ids.mid,
        ids.repaired_rtp_stream_id,
        ids.rtp_stream_id,
        ids.abs_send_time,
        ids.transmission_offset,
        ids.audio_level,
        ids.transport_sequence_number,
    ]
    cc = rng.choice([0, 0, 0, 1, 3])
    padding = rng.random() < 0.15
    elements: list[tuple[int, bytes]] = []
    for field, x_id in enumerate(by_field):
        if x_id is None or rng.random() < 0.3:
            continue
        n = LENGTHS[field] or rng.randint(1, 8)
        if rng.random() < 0.03:
            n = rng.randint(1, 4)  # a wrong length now and then
        value = (
            bytes(rng.randrange(48, 123) for _ in range(n)) if LENGTHS[field] is None else rng.randbytes(n)
        )
        if field in (0, 1, 2) and rng.random() < 0.03:
            value = b"\xff\xfe"  # not UTF-8 / ASCII
        elements.append((x_id, value))
    if rng.random() < 0.1:
        elements.append((rng.randint(1, 14), rng.randbytes(rng.randint(1, 4))))  # unknown or repeated id
    two_byte = rng.random() < 0.2
    body = b""
    for x_id, value in elements:
        if two_byte:
            body += bytes([x_id, len(value)]) + value
        elif len(value) <= 16:
            body += bytes([(x_id << 4) | (len(value) - 1)]) + value
        if rng.random() < 0.1:
            body += b"\x00"  # padding between elements
    body += b"\x00" * (-len(body) % 4)
    extension = bool(elements) and rng.random() < 0.95
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | cc
    header = bytes([b0, rng.randrange(256)]) + rng.randbytes(10) + rng.randbytes(4 * cc)
    if extension:
        header += (b"\x10\x00" if two_byte else b"\xbe\xde") + (len(body) // 4).to_bytes(2, "big") + body
    payload = rng.randbytes(rng.choice([0, 1, 20, 160, 1100]))
    if padding:
        pad = rng.randint(1, 8)
        payload += b"\x00" * (pad - 1) + bytes([pad])
    data = header + payload
    if rng.random() < 0.15:  # damage: truncate, flip the version, bad padding length
        how = rng.randrange(3)
        if how == 0:
            data = data[: rng.randrange(len(data) + 1)]
        elif how == 1:
            data = bytes([data[0] ^ 0x40]) + data[1:]
        else:
            data = data[:-1] + bytes([rng.randrange(256)])
    return data


def outcome(parse: Any, *args: Any) -> Any:
    try:
        packet = parse(*args)
    except (ValueError, UnicodeDecodeError) as e:
        return ("error", type(e).__name__ if isinstance(e, UnicodeDecodeError) else "ValueError")
    except Exception as e:  # aiortc's struct.error for an extension of the wrong length
        return ("error", "ValueError" if type(e).__name__ == "error" else type(e).__name__)
    state = dict(vars(packet))
    state["extensions"] = vars(packet.extensions)
    return list(state.items()), type(packet), type(packet.extensions)


@pytest.mark.parametrize("seed", range(6))
def test_parse_rtp_matches_aiortc(seed: int) -> None:
    rng = random.Random(seed)
    errors = parsed = 0
    for _ in range(40):
        m = extension_map(rng)
        ids = m._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
        for _ in range(100):
            data = random_packet(rng, m)
            theirs = outcome(RtpPacket.parse, data, m)
            ours = outcome(dataplane.parse_rtp, data, ids, RtpPacket, HeaderExtensions)
            assert ours == theirs, data.hex()
            if theirs[0] == "error":
                errors += 1
            else:
                parsed += 1
    assert errors > 100 and parsed > 2000  # both sides of the comparison exercised


def test_parse_rtp_follows_a_reconfigured_map() -> None:
    """A renegotiation re-configures the map in place: the parser sees the new ids."""
    m = HeaderExtensionsMap()
    parse = hooks.rtp_parser(m)
    packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"x")
    packet.extensions.audio_level = (True, 20)
    data_m = HeaderExtensionsMap()
    data_m.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=7, uri=URIS[5])]))
    data = packet.serialize(data_m)
    assert parse(data).extensions.audio_level is None  # not negotiated yet
    m.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=7, uri=URIS[5])]))
    assert parse(data).extensions.audio_level == (True, 20)


def test_parse_rtp_typed_errors() -> None:
    ids = HeaderExtensions()
    with pytest.raises(TypeError):
        dataplane.parse_rtp("not bytes", ids, RtpPacket, HeaderExtensions)
    with pytest.raises(TypeError):
        dataplane.parse_rtp(b"\x80" * 20, ids, "not a class", HeaderExtensions)
    with pytest.raises(TypeError):
        dataplane.parse_rtp(b"\x80" * 20, ids)
    with pytest.raises(ValueError, match="less than 12"):
        dataplane.parse_rtp(b"\x80\x60", ids, RtpPacket, HeaderExtensions)


# --- SRTP ---------------------------------------------------------------------------------------
def session_pair(profile: int) -> tuple[Session, Session, Session]:
    key_len = {Policy.SRTP_PROFILE_AES128_CM_SHA1_80: 30, Policy.SRTP_PROFILE_AEAD_AES_128_GCM: 28}[profile]
    key = os.urandom(key_len)
    tx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    rx_a = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    rx_b = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    return tx, rx_a, rx_b


@pytest.mark.parametrize(
    "profile", [Policy.SRTP_PROFILE_AES128_CM_SHA1_80, Policy.SRTP_PROFILE_AEAD_AES_128_GCM]
)
def test_unprotector_matches_pylibsrtp(profile: int) -> None:
    rng = random.Random(profile)
    tx, rx_python, rx_c = session_pair(profile)

    def py_unprotect(data: bytes) -> bytes | None:
        try:
            return rx_python.unprotect(data)
        except Exception:
            return None

    c_unprotect = hooks.srtp_unprotector(rx_c)
    assert isinstance(c_unprotect, dataplane.Unprotector)
    sent: list[bytes] = []
    accepted = refused = 0
    for seq in range(400):
        clear = RtpPacket(
            payload_type=96,
            sequence_number=seq,
            timestamp=seq * 3000,
            ssrc=0x1234,
            payload=rng.randbytes(1100),
        ).serialize()
        data = tx.protect(clear)
        sent.append(data)
        choice = rng.random()
        if choice < 0.05:
            data = data[:20] + bytes([data[20] ^ 1]) + data[21:]  # tampered
        elif choice < 0.1 and len(sent) > 2:
            data = sent[rng.randrange(len(sent) - 1)]  # a replay
        elif choice < 0.12:
            data = data[: rng.randrange(12)]  # too short
        theirs, ours = py_unprotect(data), c_unprotect(data)
        assert ours == theirs
        if ours is None:
            refused += 1
        else:
            accepted += 1
            assert ours == clear
    assert accepted > 300 and refused > 15
    assert c_unprotect.refused == refused
    with pytest.raises(TypeError):
        c_unprotect("text")
    with pytest.raises(TypeError):
        c_unprotect()


def test_unprotector_python_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the diagnostic switch on, the same answers come from pylibsrtp and aiortc."""
    monkeypatch.setattr(hooks, "SMO_PYTHON_RECEIVE", True)
    tx, rx, _ = session_pair(Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    unprotect = hooks.srtp_unprotector(rx)
    assert not isinstance(unprotect, dataplane.Unprotector)
    clear = RtpPacket(payload_type=96, sequence_number=9, ssrc=5, payload=b"abc").serialize()
    data = tx.protect(clear)
    assert unprotect(data) == clear
    assert unprotect(data) is None  # a replay
    parse = hooks.rtp_parser(HeaderExtensionsMap())
    assert parse(clear).payload == b"abc"
    with pytest.raises(ValueError):
        parse(b"\x80")


# --- the bandwidth estimate ---------------------------------------------------------------------
STATE = {
    "total_count": lambda e: e.incoming_bitrate._total.count,
    "total_value": lambda e: e.incoming_bitrate._total.value,
    "offset": lambda e: e.estimator._offset,
    "slope": lambda e: e.estimator.slope,
    "avg_noise": lambda e: e.estimator.avg_noise,
    "var_noise": lambda e: e.estimator.var_noise,
    "E11": lambda e: e.estimator.E[1][1],
    "num_of_deltas": lambda e: e.estimator._num_of_deltas,
    "hypothesis": lambda e: e.detector.hypothesis.value,
    "threshold": lambda e: e.detector.threshold,
    "overuse_counter": lambda e: e.detector.overuse_counter,
    "overuse_time": lambda e: e.detector.overuse_time,
    "current_bitrate": lambda e: e.rate_control.current_bitrate,
    "rate_state": lambda e: e.rate_control.state.value,
    "avg_max_bitrate_kbps": lambda e: e.rate_control.avg_max_bitrate_kbps,
    "var_max_bitrate_kbps": lambda e: e.rate_control.var_max_bitrate_kbps,
    "near_max": lambda e: int(e.rate_control.near_max),
    "last_update_ms": lambda e: e.last_update_ms,
}


def packet_script(rng: random.Random, n: int) -> list[tuple[int, int, int, int]]:
    """(arrival ms, abs-send-time, payload size, ssrc) of a publisher's video: frames at a
    varying rate and size, queueing that builds up and drains (over- and under-use), jitter,
    reordering, pauses longer than the rate window, abs-send-time wrapping (64 s)."""
    out: list[tuple[int, int, int, int]] = []
    send = rng.uniform(0, 64)  # seconds
    arrival_base = 4_000_000_000_000 + rng.randrange(10**6)
    queue = 0.0
    trend = rng.choice([-0.002, 0.0, 0.004])
    ssrcs = [rng.getrandbits(32) for _ in range(rng.randint(1, 3))]
    while len(out) < n:
        if rng.random() < 0.01:
            send += rng.choice([0.5, 2.0, 7.0])  # a pause (muted camera, a lost link)
        if rng.random() < 0.05:
            trend = rng.choice([-0.003, -0.001, 0.0, 0.002, 0.006, 0.02])
        packets = rng.randint(1, 9)
        size = rng.choice([200, 900, 1100, 1200])
        for _ in range(packets):
            send += rng.uniform(0, 0.0008)
            queue = max(0.0, queue + trend + rng.gauss(0, 0.0005))
            arrival = arrival_base + int((send + 0.02 + queue + abs(rng.gauss(0, 0.002))) * 1000)
            abs_send_time = int(send * (1 << 18)) & 0xFFFFFF
            out.append((arrival, abs_send_time, size + rng.randrange(-50, 50), rng.choice(ssrcs)))
        send += rng.choice([1 / 30, 1 / 30, 1 / 15, 1 / 60])
    for _ in range(n // 50):  # reordering
        i = rng.randrange(1, len(out))
        out[i - 1], out[i] = out[i], out[i - 1]
    return out[:n]


@pytest.mark.parametrize("seed", range(8))
def test_bitrate_estimator_matches_aiortc(seed: int) -> None:
    rng = random.Random(1000 + seed)
    python, c = RemoteBitrateEstimator(), dataplane.BitrateEstimator()
    estimates = 0
    hypotheses: set[int] = set()
    near_max: set[int] = set()
    for step, (arrival, ast, size, ssrc) in enumerate(packet_script(rng, 6000)):
        theirs = python.add(arrival_time_ms=arrival, abs_send_time=ast, payload_size=size, ssrc=ssrc)
        ours = c.add(arrival, ast, size, ssrc)
        assert ours == theirs, step
        estimates += theirs is not None
        state = c._state()
        assert state == {name: read(python) for name, read in STATE.items()}, step
        hypotheses.add(state["hypothesis"])
        near_max.add(state["near_max"])
    assert estimates > 50
    assert len(hypotheses) >= 2  # the detector left "normal" at least once
    assert near_max == {0, 1}  # a decrease, then the additive increase near the maximum


def test_bitrate_estimator_random_values() -> None:
    """Arbitrary arrivals and send times (clock jumps backwards and forwards, wrap-around)."""
    rng = random.Random(7)
    python, c = RemoteBitrateEstimator(), dataplane.BitrateEstimator()
    now = 3_900_000_000_000
    for step in range(4000):
        now += rng.choice([0, 1, 3, 20, 400, -5, 1500]) if rng.random() < 0.995 else 70000
        args = (now, rng.randrange(1 << 24), rng.randrange(1500), rng.choice([1, 2, 3]))
        assert c.add(*args) == python.add(*args), step
        assert c._state() == {name: read(python) for name, read in STATE.items()}, step


def test_bitrate_estimator_typed_errors() -> None:
    c = dataplane.BitrateEstimator()
    with pytest.raises(TypeError):
        c.add("now", 1, 2, 3)
    with pytest.raises(ValueError):
        c.add(1, 1 << 24, 2, 3)
    with pytest.raises(TypeError):
        dataplane.BitrateEstimator(1)
    assert c._state()["total_count"] == 0  # nothing changed
    assert c.add(arrival_time_ms=1, abs_send_time=2, payload_size=3, ssrc=4) is None


def test_receivers_get_the_c_estimator() -> None:
    """The app's receivers build the C estimator (``hooks.use_lazy_bitrate_estimators``)."""
    from aiortc import rtcrtpreceiver

    original = rtcrtpreceiver.RemoteBitrateEstimator
    try:
        hooks.use_lazy_bitrate_estimators()
        assert rtcrtpreceiver.RemoteBitrateEstimator is dataplane.BitrateEstimator
    finally:
        rtcrtpreceiver.RemoteBitrateEstimator = original  # type: ignore[misc]
