"""Meeting -> node placement in Redis, and the relay of media signalling to the owner node.

A meeting's media (its ``MediaRoom``: every peer, slot and forwarding decision) lives on one
node. The owner is recorded as ``{prefix}:media:meeting:{id} = {node_id}`` (``SET NX PX ttl``),
renewed by the owner while the meeting has peers, deleted (compare-and-delete) when its last
peer leaves, and simply expires when the owner dies. A node publishes its public URL at
``{prefix}:media:node:{node_id}`` (same TTL), for operators and meeting-aware proxies.

The browser's signalling arrives on whichever node holds its Socket.IO connection. That node
relays the media operation (offer, candidate, mute, ...) to the owner over Redis pub/sub
(channel ``{prefix}:media:relay:{owner}``) and answers the browser with the owner's reply; the
answer SDP carries the owner's ICE candidates, so RTP flows between the browser and the owner.
Pushes from the owner (``media.slots``, ``media.closed``) go through the Socket.IO Redis
manager like every other emit, and reach the participant's connection on any node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server.errors import AppError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("smo.media")

# execute(meeting_id, op, args) -> result, run on the owner node.
Execute = Callable[[int, str, dict[str, Any]], Awaitable[dict[str, Any]]]

RELAY_TIMEOUT = 15.0  # an offer is answered within a second; a lost owner is detected faster

# Renew our own placement, or take a free one; 1 = ours now, 0 = another node's.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class NodeUnavailable(AppError):
    """The meeting's media node does not answer (it died: its placement expires after the TTL)."""

    code, status = "media_node_unavailable", 503


class NotOwner(AppError):
    """A relayed operation reached a node that no longer owns the meeting (the sender retries)."""

    code, status = "media_not_owner", 409


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Placement:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        node_id: str,
        public_url: str,
        ttl: float,
        execute: Execute,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.public_url = public_url
        self.ttl_ms = max(int(ttl * 1000), 1000)
        self.execute = execute
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- keys ---------------------------------------------------------------------------------
    def key(self, meeting_id: int) -> str:
        return f"{self.prefix}:media:meeting:{meeting_id}"

    def channel(self, node_id: str) -> str:
        return f"{self.prefix}:media:relay:{node_id}"

    def node_key(self, node_id: str) -> str:
        return f"{self.prefix}:media:node:{node_id}"

    # --- placement ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on this node's relay channel (before it may own anything)."""
        if self._listener is None:
            self._listener = asyncio.ensure_future(self._listen())
        await asyncio.wait_for(self._subscribed.wait(), RELAY_TIMEOUT)

    async def owner(self, meeting_id: int) -> str | None:
        value = await self.redis.get(self.key(meeting_id))
        return value.decode() if isinstance(value, bytes) else value

    async def claim(self, meeting_id: int) -> str:
        """The owner of the meeting's media: this node if nobody holds it (now we do)."""
        await self.start()
        for _ in range(5):
            if await self.redis.set(self.key(meeting_id), self.node_id, nx=True, px=self.ttl_ms):
                await self.redis.set(self.node_key(self.node_id), self.public_url, px=self.ttl_ms)
                return self.node_id
            owner = await self.owner(meeting_id)
            if owner is not None:
                return owner
        raise NodeUnavailable()

    async def renew(self, meeting_ids: list[int]) -> list[int]:
        """Extend our placements (or retake a lapsed one); returns the meetings we lost."""
        lost = []
        for meeting_id in meeting_ids:
            ok = await self.redis.eval(_RENEW, 1, self.key(meeting_id), self.node_id, self.ttl_ms)
            if not ok:
                lost.append(meeting_id)
        await self.redis.set(self.node_key(self.node_id), self.public_url, px=self.ttl_ms)
        return lost

    async def release(self, meeting_id: int) -> None:
        await self.redis.eval(_RELEASE, 1, self.key(meeting_id), self.node_id)

    @property
    def renew_every(self) -> float:
        return self.ttl_ms / 3000

    # --- relay --------------------------------------------------------------------------------
    async def call(self, node_id: str, meeting_id: int, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run ``op`` on ``node_id`` and return its result (its typed error is raised here)."""
        await self.start()
        request_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {
            "t": "req",
            "id": request_id,
            "from": self.node_id,
            "meeting": meeting_id,
            "op": op,
            "args": args,
        }
        try:
            receivers = await self.redis.publish(self.channel(node_id), json.dumps(message))
            if not receivers:  # nobody listens on the owner's channel: the node is gone
                raise NodeUnavailable()
            try:
                reply = await asyncio.wait_for(future, RELAY_TIMEOUT)
            except TimeoutError:
                raise NodeUnavailable() from None
        finally:
            self._pending.pop(request_id, None)
        if reply.get("ok"):
            result: dict[str, Any] = reply.get("result") or {}
            return result
        error = reply.get("error") or {}
        raise AppError(
            str(error.get("code") or "internal"),
            status=int(error.get("status") or 500),
            details=error.get("details") or None,
        )

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel(self.node_id))
                self._subscribed.set()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        self._receive(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media relay listener failed; resubscribing")
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _receive(self, raw: bytes | str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("t") == "rep":
            future = self._pending.get(str(message.get("id")))
            if future is not None and not future.done():
                future.set_result(message)
        elif message.get("t") == "req":
            task = asyncio.ensure_future(self._serve(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"t": "rep", "id": message.get("id")}
        try:
            result = await self.execute(int(message["meeting"]), str(message["op"]), dict(message["args"]))
            reply |= {"ok": True, "result": result}
        except AppError as err:
            reply |= {"ok": False, "error": {"code": err.code, "status": err.status, "details": err.details}}
        except Exception:
            log.exception("relayed media operation failed", extra={"op": str(message.get("op"))})
            reply |= {"ok": False, "error": {"code": "internal", "status": 500}}
        with contextlib.suppress(Exception):
            await self.redis.publish(self.channel(str(message.get("from"))), json.dumps(reply))

    async def close(self, owned: list[int]) -> None:
        for meeting_id in owned:
            with contextlib.suppress(Exception):
                await self.release(meeting_id)
        tasks = [t for t in (self._listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener = None
