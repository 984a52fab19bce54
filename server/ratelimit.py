"""Fixed-window rate limits: in memory on one process, in Redis when configured."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from server.errors import RateLimited

if TYPE_CHECKING:
    from server.runtime import Runtime


class RateLimiter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._memory: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> None:
        """Count one attempt under ``key``; raise RateLimited past ``limit`` in the window."""
        window = int(time.time()) // window_seconds
        bucket = f"{self.runtime.settings.redis_prefix}:rl:{key}:{window}"
        redis = self.runtime.redis
        if redis is not None:
            count = await redis.incr(bucket)
            if count == 1:
                await redis.expire(bucket, window_seconds)
        else:
            old_window, old_count = self._memory.get(key, (window, 0))
            count = (old_count if old_window == window else 0) + 1
            self._memory[key] = (window, count)
            if len(self._memory) > 100_000:
                self._memory = {k: v for k, v in self._memory.items() if v[0] == window}
        if count > limit:
            raise RateLimited(retry_after=window_seconds)

    async def count(self, key: str, window_seconds: int) -> int:
        """How many times ``key`` was counted in the current window (nothing is counted)."""
        window = int(time.time()) // window_seconds
        redis = self.runtime.redis
        if redis is not None:
            value = await redis.get(f"{self.runtime.settings.redis_prefix}:rl:{key}:{window}")
            return int(value or 0)
        old_window, old_count = self._memory.get(key, (window, 0))
        return old_count if old_window == window else 0

    async def add(self, key: str, window_seconds: int) -> int:
        """Count one event under ``key`` without a limit; the new count."""
        try:
            await self.hit(key, 2**62, window_seconds)
        except RateLimited:  # pragma: no cover - the limit cannot be reached
            pass
        return await self.count(key, window_seconds)

    async def reset(self, key: str, window_seconds: int) -> None:
        window = int(time.time()) // window_seconds
        if self.runtime.redis is not None:
            await self.runtime.redis.delete(f"{self.runtime.settings.redis_prefix}:rl:{key}:{window}")
        self._memory.pop(key, None)
