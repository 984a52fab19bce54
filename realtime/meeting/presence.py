"""Who is connected to which meeting: the set of joined connections (sids) per person.

In memory on one process; in a Redis hash per person (``<prefix>:room:<meeting>:p:<key>``,
sid -> process id) when Redis is configured, so that processes agree on a person's first and
last connection. Each process keeps a heartbeat key (``<prefix>:room:host:<id>``, expiring
after ``HOST_TTL`` seconds): connections of a process that died without cleaning up (kill -9)
stop counting once its heartbeat expires. Callers hold the meeting's lock around
count/add/remove.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

HOST_TTL = 30


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Presence:
    def __init__(self, redis: Redis | None, prefix: str, host_id: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.host_id = host_id
        self._memory: dict[tuple[int, str], set[str]] = {}

    def _key(self, meeting_id: int, key: str) -> str:
        return f"{self.prefix}:room:{meeting_id}:p:{key}"

    def _host(self, host_id: str) -> str:
        return f"{self.prefix}:room:host:{host_id}"

    async def heartbeat(self) -> None:
        if self.redis is not None:
            await self.redis.set(self._host(self.host_id), "1", ex=HOST_TTL)

    async def sids(self, meeting_id: int, key: str) -> list[str]:
        """The person's live connections (those of dead processes are dropped on the way)."""
        if self.redis is None:
            return sorted(self._memory.get((meeting_id, key), ()))
        name = self._key(meeting_id, key)
        entries = {_text(s): _text(h) for s, h in (await self.redis.hgetall(name)).items()}
        if not entries:
            return []
        hosts = sorted(set(entries.values()) - {self.host_id})
        alive = {self.host_id}
        if hosts:
            flags = await self.redis.mget([self._host(h) for h in hosts])
            alive |= {h for h, flag in zip(hosts, flags, strict=True) if flag is not None}
        dead = [sid for sid, host in entries.items() if host not in alive]
        if dead:
            await self.redis.hdel(name, *dead)
        return sorted(sid for sid, host in entries.items() if host in alive)

    async def count(self, meeting_id: int, key: str) -> int:
        return len(await self.sids(meeting_id, key))

    async def add(self, meeting_id: int, key: str, sid: str) -> int:
        """Record a joined connection; returns the person's number of connections."""
        if self.redis is not None:
            await self.redis.hset(self._key(meeting_id, key), sid, self.host_id)
            return await self.count(meeting_id, key)
        sids = self._memory.setdefault((meeting_id, key), set())
        sids.add(sid)
        return len(sids)

    async def remove(self, meeting_id: int, key: str, sid: str) -> int:
        """Forget a connection; returns the person's remaining number of connections."""
        if self.redis is not None:
            await self.redis.hdel(self._key(meeting_id, key), sid)
            return await self.count(meeting_id, key)
        sids = self._memory.get((meeting_id, key), set())
        sids.discard(sid)
        if not sids:
            self._memory.pop((meeting_id, key), None)
        return len(sids)

    async def clear(self, meeting_id: int, key: str) -> list[str]:
        """Forget every connection of a person (removed from the meeting); returns the sids."""
        sids = await self.sids(meeting_id, key)
        if self.redis is not None:
            await self.redis.delete(self._key(meeting_id, key))
        else:
            self._memory.pop((meeting_id, key), None)
        return sids
