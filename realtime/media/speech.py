"""Speech detection from RTP audio levels with hysteresis (a cough is not a speech)."""

from __future__ import annotations

from typing import Literal

from realtime.media.config import MediaConfig

Change = Literal["started", "ended"] | None


class SpeechDetector:
    """Feed ``(level, now)`` for every audio packet; call ``tick(now)`` periodically so that
    speech also ends when packets stop. Levels are RFC 6464 -dBov (0 loud .. 127 silent);
    the V bit is ignored (browsers set it on silence too)."""

    def __init__(self, config: MediaConfig) -> None:
        self.threshold = config.speech_level
        self.on = config.speech_on
        self.gap = config.speech_gap
        self.off = config.speech_off
        self.speaking = False
        self.loudness = 0.0  # smoothed 127 - level, for ranking speakers
        self._run_start: float | None = None
        self._last_voiced = float("-inf")

    def feed(self, level: int, now: float) -> Change:
        self.loudness += 0.05 * ((127 - level) - self.loudness)
        if level <= self.threshold:
            if self._run_start is None or now - self._last_voiced > self.gap:
                self._run_start = now
            self._last_voiced = now
        return self.tick(now)

    def tick(self, now: float) -> Change:
        if self.speaking:
            if now - self._last_voiced >= self.off:
                self.speaking = False
                self._run_start = None
                return "ended"
            return None
        if self._run_start is not None:
            if now - self._last_voiced > self.gap:
                self._run_start = None
            elif self._last_voiced - self._run_start >= self.on:
                self.speaking = True
                return "started"
        return None

    def reset(self) -> Change:
        """Muted or gone: end a running speech at once."""
        was = self.speaking
        self.speaking = False
        self._run_start = None
        self.loudness = 0.0
        return "ended" if was else None
