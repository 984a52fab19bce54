"""A slot's per-packet core in C (realtime/media/_slot.c) against the Python reference
(forwarding.PySlotCore): the same packets in, the same packets out and the same state after
every step, over random scripts of reordering, duplicates, wrap-around, source switches, key
frames, re-nominated ICE pairs and a transport not yet up; bad arguments are typed errors; a
slot in a reference cycle is collected."""

from __future__ import annotations

import gc
import random
import weakref
from typing import Any

import pytest

from realtime.media.forwarding import CLOCK, HISTORY, STEP, PySlotCore, SlotTrack

dataplane = pytest.importorskip("realtime.media._dataplane", reason="the C extension is not built")
CSlotCore = dataplane.SlotCore

STATE = (
    "_waiting_keyframe",
    "_bound",
    "_base",
    "_highest",
    "_seq_offset",
    "_ts_offset",
    "_last_seq",
    "_last_ts",
    "_last_time",
    "packets_sent",
    "octets_sent",
    "packets_dropped",
)


def recording(core: type) -> type:
    """A slot on ``core`` that binds to a recorder instead of a transport, and can be told that
    its transport is not up yet (``up``) or that ICE moved to another pair."""

    class Recording(core):  # type: ignore[misc, valid-type]
        def __init__(self, kind: str) -> None:
            core.__init__(self, kind == "video", HISTORY[kind], CLOCK[kind], STEP[kind])
            self.sent: list[tuple[int, ...]] = []
            self.asked = 0
            self.rebinds = 0
            self.up = True
            self.pairs: dict[int, Any] = {1: "pair-0"}
            self.need_keyframe = self.ask

        def ask(self) -> None:
            self.asked += 1

        def record(self, b0: int, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> None:
            self.sent.append((b0, b1, seq, ts, ssrc, len(ext), hash(payload)))

        def _bind(self) -> bool:
            if not self.up:
                return False
            self._ext = b"\xbe\xde\x00\x01\x10\x35\x00\x00"
            self._b0, self._pt, self._ssrc = 0x90, 100, 0xABCDEF01
            self._nominated = self.pairs
            self._pair = self.pairs.get(1)
            self._emit = self.record
            self._bound = True
            return True

        def _rebind(self) -> bool:
            self.rebinds += 1
            self._bound = False
            return self._bind() and self._pair is not None

    return Recording


def script(rng: random.Random, kind: str, steps: int) -> list[tuple[Any, ...]]:
    """Operations: ("packet", seq, ts, marker, payload, keyframe, now), ("switch",), ("pair", name),
    ("down",), ("up",), ("unbind",). Sequence numbers and timestamps wrap; packets come late,
    twice, or after a jump."""
    ops: list[tuple[Any, ...]] = []
    seq = rng.randrange(65536) if rng.random() < 0.5 else 65500
    ts = rng.randrange(1 << 32) if rng.random() < 0.5 else (1 << 32) - 5000
    now = 1000.0
    sent: list[int] = []
    for _ in range(steps):
        r = rng.random()
        if r < 0.03:
            ops.append(("switch",))
            seq, ts = rng.randrange(65536), rng.randrange(1 << 32)
            now += rng.choice((0.0, 0.001, 0.5, 7.3))
        elif r < 0.05:
            ops.append(("pair", rng.choice(("pair-0", "pair-1", None))))
        elif r < 0.06:
            ops.append((rng.choice(("down", "up", "unbind")),))
        else:
            if r < 0.15 and sent:
                s = rng.choice(sent[-40:])  # late or duplicate
            elif r < 0.17:
                s = (seq + rng.choice((3000, 40000, 1025, 2049))) & 0xFFFF  # a jump
                seq = s
            else:
                seq = (seq + 1) & 0xFFFF
                s = seq
            if rng.random() < 0.3:
                ts = (ts + 3000) & 0xFFFFFFFF
                now += 0.033
            key = kind == "audio" or rng.random() < 0.1
            payload = bytes([rng.randrange(256)]) * rng.randrange(1, 60)
            ops.append(("packet", s, ts, rng.randrange(2), payload, key, now))
            sent.append(s)
    return ops


def apply(slot: Any, op: tuple[Any, ...]) -> None:
    if op[0] == "packet":
        slot.forward(*op[1:])
    elif op[0] == "switch":
        slot._base = None
        if slot._clock == CLOCK["video"]:
            slot._waiting_keyframe = True
    elif op[0] == "pair":
        if op[1] is None:
            slot.pairs.pop(1, None)
        else:
            slot.pairs[1] = op[1]
    elif op[0] == "down":
        slot.up = False
    elif op[0] == "up":
        slot.up = True
    elif op[0] == "unbind":
        slot._bound = False


@pytest.mark.parametrize("kind", ["video", "audio"])
@pytest.mark.parametrize("seed", range(12))
def test_the_c_core_forwards_exactly_as_the_python_reference(kind: str, seed: int) -> None:
    rng = random.Random(seed * 7919 + (kind == "audio"))
    ops = script(rng, kind, 3000)
    ref, fast = recording(PySlotCore)(kind), recording(CSlotCore)(kind)
    origin = (rng.randrange(1 << 15), rng.randrange(1 << 32))
    for slot in (ref, fast):
        slot._last_seq, slot._last_ts = origin
    for i, op in enumerate(ops):
        apply(ref, op)
        apply(fast, op)
        assert fast.sent == ref.sent, f"step {i}: {op[:3]}"
        for name in STATE:
            assert getattr(fast, name) == getattr(ref, name), f"step {i}: {name} after {op[:3]}"
        assert (fast.asked, fast.rebinds) == (ref.asked, ref.rebinds), f"step {i}"
    assert len(ref.sent) > 300 and ref.rebinds and ref.packets_dropped and (ref.asked or kind == "audio")
    for seq in [s for _, _, s, *_ in ref.sent[-600:]] + [rng.randrange(65536) for _ in range(50)]:
        assert fast._history_entry(seq) == ref._history_entry(seq)


def test_bad_arguments_are_typed_errors_and_change_nothing() -> None:
    slot = recording(CSlotCore)("audio")
    slot.forward(1, 960, 0, b"x", True, 1.0)
    before = [getattr(slot, name) for name in STATE]
    for args in [
        (2, 960, 0, "text", True, 1.0),  # payload not bytes
        ("2", 960, 0, b"x", True, 1.0),
        (2, 960, 0, b"x", True, "now"),
        (2, 960, 0, b"x"),
    ]:
        with pytest.raises(TypeError):
            slot.forward(*args)
    assert [getattr(slot, name) for name in STATE] == before
    with pytest.raises(TypeError):
        slot._ext = "text"
    with pytest.raises(ValueError):
        CSlotCore(True, 100, 90000, 3000)  # not a power of two
    with pytest.raises(RuntimeError):
        CSlotCore.__new__(CSlotCore).forward(1, 1, 0, b"x", True, 1.0)  # never initialised


def test_an_emit_that_raises_propagates_and_the_slot_goes_on() -> None:
    slot = recording(CSlotCore)("audio")
    slot.forward(1, 960, 0, b"x", True, 1.0)

    def broken(*args: Any) -> None:
        raise OSError("gone")

    slot._emit = broken
    with pytest.raises(OSError):
        slot.forward(2, 1920, 0, b"y", True, 1.02)
    slot._emit = slot.record
    slot.forward(3, 2880, 0, b"z", True, 1.04)
    assert [s for _, _, s, *_ in slot.sent] == [(slot.sent[0][2] + i) & 0xFFFF for i in (0, 2)]


def test_a_slot_in_a_reference_cycle_is_collected() -> None:
    def cycle() -> weakref.ref[SlotTrack]:
        slot = SlotTrack("video", "1")
        slot.need_keyframe = lambda: slot.request_keyframe()  # slot -> closure -> slot
        slot._emit = lambda *args: slot  # and through the emitter
        slot.forward(1, 3000, 0, b"\x10", True, 1.0)  # unbound: dropped, nothing kept
        return weakref.ref(slot)

    gone = cycle()
    gc.collect()
    assert gone() is None


def test_fanout_forwards_to_every_slot_and_honours_an_overridden_forward() -> None:
    class Counting(recording(CSlotCore)):  # type: ignore[misc]
        def forward(self, *args: Any) -> None:
            self.calls = getattr(self, "calls", 0) + 1
            super().forward(*args)

    plain = [recording(CSlotCore)("audio") for _ in range(3)]
    counting = Counting("audio")
    reference = recording(PySlotCore)("audio")
    slots = {*plain, counting, reference}
    for i in range(5):
        dataplane.fanout(slots, 100 + i, 960 * i, 0, b"opus", True, 1.0 + i / 50)
    assert counting.calls == 5
    for slot in slots:
        assert [seq for _, _, seq, *_ in slot.sent] == [(slot.sent[0][2] + i) & 0xFFFF for i in range(5)]
    with pytest.raises(TypeError):
        dataplane.fanout(slots, 1, 1, 0, "not bytes", True, 1.0)
    with pytest.raises(TypeError):
        dataplane.fanout(None, 1, 1, 0, b"x", True, 1.0)
