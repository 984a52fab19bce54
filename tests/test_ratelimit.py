"""Rate limits count the events of the last window, whatever the time of day: in memory and
in Redis. The process clock is moved across the instants where fixed windows used to start
again (a multiple of the window since the epoch)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from server import clock
from server.errors import RateLimited
from server.ratelimit import RateLimiter

WINDOW = 300
# one second before 12:05:00 UTC: a multiple of 300 s since the epoch
BEFORE_BOUNDARY = datetime(2026, 12, 3, 12, 4, 59, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    redis: Any = None
    if request.param == "redis":
        from redis.asyncio import Redis

        redis = Redis.from_url(request.getfixturevalue("redis_url"))
    runtime = SimpleNamespace(redis=redis, settings=SimpleNamespace(redis_prefix=f"t{secrets.token_hex(4)}"))
    try:
        yield RateLimiter(runtime)  # type: ignore[arg-type]
    finally:
        clock.travel_back()
        if redis is not None:
            await redis.aclose()


def at(instant: datetime) -> None:
    assert int(BEFORE_BOUNDARY.timestamp() + 1) % WINDOW == 0
    clock.travel_to(instant)


async def test_a_limit_holds_across_the_old_window_boundary(limiter: RateLimiter) -> None:
    at(BEFORE_BOUNDARY)
    for _ in range(10):
        await limiter.hit("login:x", 10, WINDOW)
    at(BEFORE_BOUNDARY + timedelta(seconds=2))  # past 12:05:00
    with pytest.raises(RateLimited):
        await limiter.hit("login:x", 10, WINDOW)
    assert await limiter.count("login:x", WINDOW) == 11  # the refused attempt counts too


async def test_counts_and_adds_see_the_last_window(limiter: RateLimiter) -> None:
    at(BEFORE_BOUNDARY)
    for _ in range(3):
        await limiter.add("failures", WINDOW)
    at(BEFORE_BOUNDARY + timedelta(seconds=150))
    assert await limiter.add("failures", WINDOW) == 4
    assert await limiter.count("failures", WINDOW) == 4
    at(BEFORE_BOUNDARY + timedelta(seconds=WINDOW + 1))  # the first three are older than the window
    assert await limiter.count("failures", WINDOW) == 1
    at(BEFORE_BOUNDARY + timedelta(seconds=WINDOW + 151))
    assert await limiter.count("failures", WINDOW) == 0
    assert await limiter.count("never", WINDOW) == 0


async def test_an_old_burst_no_longer_limits(limiter: RateLimiter) -> None:
    at(BEFORE_BOUNDARY)
    for _ in range(5):
        await limiter.hit("room:chat", 5, 10)
    with pytest.raises(RateLimited):
        await limiter.hit("room:chat", 5, 10)
    at(BEFORE_BOUNDARY + timedelta(seconds=11))
    await limiter.hit("room:chat", 5, 10)  # allowed again
    assert await limiter.count("room:chat", 10) == 1


async def test_reset_forgets_and_keys_are_separate(limiter: RateLimiter) -> None:
    at(BEFORE_BOUNDARY)
    for _ in range(4):
        await limiter.add("a", WINDOW)
    await limiter.add("b", WINDOW)
    await limiter.reset("a")
    assert await limiter.count("a", WINDOW) == 0
    assert await limiter.count("b", WINDOW) == 1


async def test_a_connections_room_limit_is_a_sliding_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-connection count of a room message (realtime/meeting/limits.py) on the monotonic
    clock: a burst across a multiple of the window is still one burst."""
    from realtime.meeting import limits

    runtime = SimpleNamespace(
        redis=None,
        settings=SimpleNamespace(redis_prefix="t", room_rate_factor=1.0, chat_messages_per_10s=5),
    )
    runtime.limiter = RateLimiter(runtime)  # type: ignore[arg-type]
    per_connection, _, seconds = limits.rate_of(runtime, "hand.raise")  # type: ignore[arg-type]
    now = [1000.0 * seconds - 0.5]  # half a second before a multiple of the window
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    session: dict[str, Any] = {}
    for i in range(per_connection):
        await limits.check(runtime, session, "hand.raise", 1, f"u:{i}")  # type: ignore[arg-type]
    now[0] += 1.0  # past the multiple
    with pytest.raises(RateLimited):
        await limits.check(runtime, session, "hand.raise", 1, "u:x")  # type: ignore[arg-type]
    now[0] += seconds  # the burst is older than the window
    await limits.check(runtime, session, "hand.raise", 1, "u:y")  # type: ignore[arg-type]


async def test_a_flood_of_keys_keeps_the_table_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import server.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
    limiter = RateLimiter(SimpleNamespace(redis=None, settings=SimpleNamespace(redis_prefix="t")))  # type: ignore[arg-type]
    at(BEFORE_BOUNDARY)
    for _ in range(3):
        await limiter.add("busy", WINDOW)
    for i in range(1000):
        await limiter.add(f"spray:{i}", WINDOW)
        assert len(limiter._memory) <= 101
    assert await limiter.count("spray:999", WINDOW) == 1  # the most recent are kept
    clock.travel_back()
