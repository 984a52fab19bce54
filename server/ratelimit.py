"""Sliding-window rate limits: in memory on one process, in Redis when configured.

A key's count is the number of events in the last ``window_seconds``, whatever the time of
day. (Until 2026-12-06 the windows were fixed buckets aligned to the wall clock: every count
started again at each multiple of the window — an attacker got twice the limit across a
boundary, and a test that failed 10 logins then expected to be throttled was let in when a
5-minute boundary fell between its requests.) Time is the process clock (``server.clock``).

Memory: per key the instants of its events in the window (at most ``MAX_KEPT`` of them).
Redis: per key a sorted set of the events' instants, trimmed and counted in one
transaction, expiring with the window.
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import TYPE_CHECKING

from server import clock
from server.errors import RateLimited

if TYPE_CHECKING:
    from server.runtime import Runtime

MAX_KEPT = 10_000  # instants kept per key in memory: every limit in the app is far below
MAX_KEYS = 100_000  # keys in memory before the idle ones are dropped


def _now() -> float:
    return clock.now().timestamp()


def slide(instants: deque[float], now: float, window_seconds: float) -> int:
    """Add an event at ``now`` to a window's instants (oldest first), drop those that left the
    window; how many are in it now. Also the room's per-connection limits
    (realtime/meeting/limits.py)."""
    while instants and instants[0] <= now - window_seconds:
        instants.popleft()
    instants.append(now)
    return len(instants)


class RateLimiter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # key -> (its window in seconds, the instants of its events in the window, oldest first)
        self._memory: dict[str, tuple[int, deque[float]]] = {}

    def _redis_key(self, key: str) -> str:
        return f"{self.runtime.settings.redis_prefix}:rl:{key}"

    async def _record(self, key: str, window_seconds: int) -> int:
        """Count one event under ``key``; how many there were in the window, it included."""
        now = _now()
        redis = self.runtime.redis
        if redis is not None:
            name = self._redis_key(key)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(name, "-inf", now - window_seconds)
                pipe.zadd(name, {f"{now:.6f}:{secrets.token_hex(4)}": now})
                pipe.zcard(name)
                pipe.expire(name, window_seconds + 1)
                results = await pipe.execute()
            return int(results[2])
        kept = self._memory.get(key)
        if kept is None:
            kept = self._memory[key] = (window_seconds, deque(maxlen=MAX_KEPT))
        count = slide(kept[1], now, window_seconds)
        if len(self._memory) > MAX_KEYS:
            self._forget_idle(now)
        return count

    def _forget_idle(self, now: float) -> None:
        """Drop the keys with nothing in their window; if a flood of keys still fills the
        table, keep the most recently used half (so the next clean-up is far away: a flood
        costs an amortised constant per key, not a scan per key)."""
        kept = {
            k: (w, instants)
            for k, (w, instants) in self._memory.items()
            if instants and instants[-1] > now - w
        }
        if len(kept) > MAX_KEYS // 2:
            kept = dict(sorted(kept.items(), key=lambda item: item[1][1][-1])[-(MAX_KEYS // 2) :])
        self._memory = kept

    async def hit(self, key: str, limit: int, window_seconds: int) -> None:
        """Count one attempt under ``key``; raise RateLimited past ``limit`` in the window."""
        if await self._record(key, window_seconds) > limit:
            raise RateLimited(retry_after=window_seconds)

    async def count(self, key: str, window_seconds: int) -> int:
        """How many times ``key`` was counted in the last ``window_seconds`` (nothing is counted)."""
        now = _now()
        redis = self.runtime.redis
        if redis is not None:
            return int(await redis.zcount(self._redis_key(key), f"({now - window_seconds}", "+inf"))
        kept = self._memory.get(key)
        return 0 if kept is None else sum(1 for t in kept[1] if t > now - window_seconds)

    async def add(self, key: str, window_seconds: int) -> int:
        """Count one event under ``key`` without a limit; the new count."""
        return await self._record(key, window_seconds)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s events."""
        if self.runtime.redis is not None:
            await self.runtime.redis.delete(self._redis_key(key))
        self._memory.pop(key, None)
