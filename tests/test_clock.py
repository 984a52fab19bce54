"""Dates that depend on "now": the clock moves, the rules hold.

The process clock (``server.clock``) is moved to the instants where the date changes: Moscow
midnight is 21:00 UTC, and the school year turns at Moscow midnight between 31 August and
1 September. ``make test-clock`` runs the date-sensitive suites at such instants too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from server import clock
from server.domain.community.notifications import next_digest_at
from server.domain.protocol import russian as ru
from server.domain.protocol.workflow import school_year_of
from server.domain.year.plans import current_school_year
from server.domain.year.preparation.jobs import is_day_before, tomorrow_run_at

# instant (UTC) -> the date in Moscow at that instant
INSTANTS = {
    "2026-12-03T03:00:00Z": date(2026, 12, 3),
    "2026-12-03T10:00:00Z": date(2026, 12, 3),
    "2026-12-03T20:59:00Z": date(2026, 12, 3),
    "2026-12-03T21:01:00Z": date(2026, 12, 4),
    "2026-08-31T20:59:00Z": date(2026, 8, 31),
    "2026-08-31T21:01:00Z": date(2026, 9, 1),
    "2026-09-01T10:00:00Z": date(2026, 9, 1),
}


@pytest.fixture
def at() -> Iterator[Callable[[str], datetime]]:
    saved = clock._origin

    def travel(instant: str) -> datetime:
        clock.travel_to(clock.parse_instant(instant))
        return clock.now()

    yield travel
    clock._origin = saved


def test_the_clock_travels_and_ticks() -> None:
    saved = clock._origin
    try:
        clock.travel_to(datetime(2026, 8, 31, 21, 1, tzinfo=UTC))
        first = clock.now()
        assert first.tzinfo is not None and first - datetime(2026, 8, 31, 21, 1, tzinfo=UTC) < timedelta(
            seconds=5
        )
        assert clock.now() >= first
        with pytest.raises(ValueError):
            clock.travel_to(datetime(2026, 8, 31, 21, 1))
    finally:
        clock._origin = saved
    assert clock.parse_instant("2026-09-01T00:00:00") == datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize("instant", sorted(INSTANTS))
def test_today_and_the_school_year_follow_moscow(at: Callable[[str], datetime], instant: str) -> None:
    at(instant)
    expected = INSTANTS[instant]
    assert ru.today() == expected
    assert current_school_year() == (expected.year if expected.month >= 9 else expected.year - 1)


@pytest.mark.parametrize(
    ("started", "year"),
    [
        (datetime(2026, 8, 31, 20, 59, tzinfo=UTC), 2025),  # 23:59 on 31 August in Moscow
        (datetime(2026, 8, 31, 21, 1, tzinfo=UTC), 2026),  # 00:01 on 1 September in Moscow
        (datetime(2027, 8, 31, 12, 0, tzinfo=UTC), 2026),
    ],
)
def test_protocol_numbering_year_is_the_moscow_day_of_the_meeting(started: datetime, year: int) -> None:
    assert school_year_of(ru.moscow(started).date()) == year


@pytest.mark.parametrize("instant", sorted(INSTANTS))
def test_meeting_tomorrow_is_due_at_nine_moscow_the_day_before(
    at: Callable[[str], datetime], instant: str
) -> None:
    now = at(instant)
    today = INSTANTS[instant]
    for start_hour_msk in (0, 9, 23):
        # A meeting tomorrow (Moscow date) at that Moscow hour.
        starts = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=ru.MOSCOW).replace(
            hour=start_hour_msk
        )
        due = tomorrow_run_at(starts)
        assert ru.moscow(due).date() == today and ru.moscow(due).hour == 9 and ru.moscow(due).minute == 0
        assert is_day_before(starts, now)
        # The day after tomorrow is not "tomorrow" yet, and the day of the meeting no longer is.
        assert not is_day_before(starts + timedelta(days=1), now)
        assert not is_day_before(starts - timedelta(days=1), now)


@pytest.mark.parametrize("instant", sorted(INSTANTS))
def test_the_digest_leaves_at_seven_moscow(at: Callable[[str], datetime], instant: str) -> None:
    now = at(instant)
    run_at, day = next_digest_at(now)
    local = ru.moscow(run_at)
    assert (local.hour, local.minute) == (7, 0) and local.date() == day
    assert now < run_at <= now + timedelta(days=1)
