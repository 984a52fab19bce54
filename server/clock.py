"""The one source of "now" for the whole process.

Everything that asks what time it is — event stamps, column defaults, the outbox's due times,
«заседание завтра», the school year, today's date in Moscow — asks :func:`now`. In production
it is the system clock. A test run can move the process to any instant with
:func:`travel_to`; the clock then ticks on from there in real time, so the server and the test
agree on what "today" and "tomorrow" are. ``SMO_TEST_NOW`` makes the test suite start at such
an instant (``make test-clock`` runs the date-sensitive tests at the hours and days where
dates change); nothing in the application reads that variable.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# (the instant we travelled to, the monotonic time when we did) or None for the system clock
_origin: tuple[datetime, float] | None = None


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    if _origin is None:
        return datetime.now(UTC)
    start, at = _origin
    return start + timedelta(seconds=time.monotonic() - at)


def travel_to(instant: datetime) -> None:
    """Make :func:`now` continue from ``instant`` (timezone-aware) for the whole process."""
    global _origin
    if instant.tzinfo is None:
        raise ValueError("travel_to needs a timezone-aware instant")
    _origin = (instant.astimezone(UTC), time.monotonic())


def travel_back() -> None:
    """Back to the system clock."""
    global _origin
    _origin = None


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant such as ``2026-08-31T21:01:00Z``; without an offset it is UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
