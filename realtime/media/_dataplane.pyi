from collections.abc import Callable, Iterable
from typing import Any

class Leg: ...

class LegEmit:
    leg: Leg
    thread: SendThread
    def __call__(
        self, b0: int, b1: int, seq: int, timestamp: int, ssrc: int, extension: bytes, payload: bytes, /
    ) -> bool: ...

class SendThread:
    def __init__(self, capacity: int = 8192) -> None: ...
    def push(self, leg: Leg, buffer: bytes | bytearray | memoryview | Any, length: int, /) -> bool: ...
    def flush(self) -> None: ...
    def emit(
        self,
        leg: Leg,
        b0: int,
        b1: int,
        seq: int,
        timestamp: int,
        ssrc: int,
        extension: bytes,
        payload: bytes,
        /,
    ) -> bool: ...
    def emitter(self, leg: Leg, /) -> LegEmit: ...
    def leg(self, fd: int, host: str, port: int, srtp: int = 0, owner: object = None, /) -> Leg: ...
    def pending(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...

class SlotCore:
    _waiting_keyframe: bool
    _bound: bool
    _base: int | None
    _highest: int
    _seq_offset: int
    _ts_offset: int
    _last_seq: int
    _last_ts: int
    _last_time: float
    _clock: int
    _mask: int
    packets_sent: int
    octets_sent: int
    packets_dropped: int
    _b0: int
    _pt: int
    _ssrc: int
    _ext: bytes
    _emit: Any
    _pair: Any
    _nominated: Any
    need_keyframe: Callable[[], None] | None
    def __init__(self, video: bool, history: int, clock: int, step: int) -> None: ...
    def forward(
        self, seq: int, ts: int, marker: int, payload: bytes, keyframe: bool, now: float, /
    ) -> None: ...
    def _history_entry(self, seq: int, /) -> tuple[int, int, int, bytes] | None: ...

def fanout(
    slots: Iterable[Any], seq: int, ts: int, marker: int, payload: bytes, keyframe: bool, now: float, /
) -> None: ...
def set_protect(address: int, /) -> None: ...

class Unprotector:
    refused: int
    def __init__(self, function: int, ctx: int, owner: object) -> None: ...
    def __call__(self, data: bytes, /) -> bytes | None: ...

def parse_rtp(data: bytes, ids: Any, packet_type: type[Any], extensions_type: type[Any], /) -> Any: ...

class BitrateEstimator:
    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None: ...
    def _state(self) -> dict[str, Any]: ...
