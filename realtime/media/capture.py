"""Speech capture for transcription: a publisher's own Opus packets around each speech.

Fed from the forwarding path (``Publication.on_packet``) with every Opus packet of a
microphone while the meeting's transcription is on: outside speech it keeps a short ring of
packets (the pre-roll: speech.started fires ``speech_on`` after the voice began); between
speech.started and speech.ended it keeps every payload. A speech longer than ``SOFT_LIMIT``
is cut at the first pause, and at ``HARD_LIMIT`` in any case (Whisper's window is 30 s). A
finished stretch leaves as one blob (``server.transcription.audio.pack_packets``) through
``emit``; packing it is the only work beyond an append per packet."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.db.types import utcnow
from server.transcription.audio import pack_packets

PREROLL_PACKETS = 40  # 0.8 s of 20 ms packets before speech.started
SOFT_LIMIT = 20.0  # seconds: after this, cut at the first pause
HARD_LIMIT = 29.0  # seconds: cut here whatever is said
PAUSE = 0.3  # seconds of unvoiced packets that make a pause


@dataclass(frozen=True, slots=True)
class CapturedSpeech:
    participant: str
    started_at: datetime
    ended_at: datetime
    audio: bytes
    packets: int


class SpeechCapture:
    __slots__ = ("_emit", "_packets", "_pre", "_quiet_since", "_start", "active", "participant", "threshold")

    def __init__(self, participant: str, threshold: int, emit: Callable[[CapturedSpeech], None]) -> None:
        self.participant = participant
        self.threshold = threshold  # RFC 6464 level at or below which a packet is voiced
        self._emit = emit
        self._pre: deque[tuple[int, bytes, float]] = deque(maxlen=PREROLL_PACKETS)
        self._packets: list[tuple[int, bytes]] = []
        self._start = 0.0  # monotonic time of the first captured packet
        self._quiet_since: float | None = None
        self.active = False

    def feed(self, timestamp: int, payload: bytes, level: int | None, now: float) -> None:
        """One Opus packet of the publisher (the hot path: an append)."""
        if not self.active:
            self._pre.append((timestamp, payload, now))
            return
        self._packets.append((timestamp, payload))
        if level is not None and level > self.threshold:
            if self._quiet_since is None:
                self._quiet_since = now
        else:
            self._quiet_since = None
        length = now - self._start
        if length >= HARD_LIMIT or (
            length >= SOFT_LIMIT and self._quiet_since is not None and now - self._quiet_since >= PAUSE
        ):
            self._flush(now)
            self._start = now  # the speech goes on in a new segment
            self._quiet_since = None

    def started(self, now: float) -> None:
        """speech.started: the pre-roll opens the segment."""
        if self.active:
            return
        self.active = True
        self._packets = [(ts, payload) for ts, payload, _ in self._pre]
        self._start = self._pre[0][2] if self._pre else now
        self._pre.clear()
        self._quiet_since = None

    def ended(self, now: float) -> None:
        """speech.ended (also: muted, unpublished, transcription switched off by ``drop``)."""
        if not self.active:
            return
        self._flush(now)
        self.active = False

    def drop(self) -> None:
        """Forget everything captured (transcription switched off: nothing more is kept)."""
        self.active = False
        self._packets = []
        self._pre.clear()

    def _flush(self, now: float) -> None:
        packets, self._packets = self._packets, []
        if not packets:
            return
        wall = utcnow()
        started = wall - timedelta(seconds=max(0.0, now - self._start))
        self._emit(CapturedSpeech(self.participant, started, wall, pack_packets(packets), len(packets)))
