"""A minimal Socket.IO client over one raw WebSocket (aiohttp) for the benchmarks' load.

The python-socketio client costs the load generator about as much CPU per received message
as the server spends per delivery; with hundreds of clients sharing this machine's two cores
with the server, the generator's own queueing then dominated what the benchmarks measured.
This client speaks just enough of Engine.IO v4 / Socket.IO v5 (open, namespace connect,
ping/pong, events, acks) and hands each event to the benchmark as raw text, so a benchmark
decodes only the events it looks at.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp


def session() -> aiohttp.ClientSession:
    """One HTTP session for all clients; no connection limit (hundreds of WebSockets)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


class RawClient:
    def __init__(
        self,
        base_url: str,
        cookie: str | None,
        http: aiohttp.ClientSession,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.cookie = cookie
        self.http = http
        self.on_event = on_event  # called with the frame's text, e.g. '42["event",{...}]'
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 60) -> None:
        headers = {"Cookie": f"smo_session={self.cookie}"} if self.cookie else {}
        self.ws = await self.http.ws_connect(self.url, headers=headers, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        await self.ws.send_str("40")
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            text: str = msg.data
            if text.startswith("42"):
                if self.on_event is not None:
                    self.on_event(text)
            elif text.startswith("43"):
                k = text.index("[")
                fut = self._acks.pop(int(text[2:k]), None)
                if fut is not None and not fut.done():
                    fut.set_result(json.loads(text[k:])[0])
            elif text == "2":
                await self.ws.send_str("3")
            elif text.startswith("40"):
                self._connected.set()

    async def call(self, event: str, data: Any, timeout: float = 60) -> Any:
        assert self.ws is not None
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = fut
        await self.ws.send_str(f"42{self._next_id}" + json.dumps([event, data], ensure_ascii=False))
        return await asyncio.wait_for(fut, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def event_of(text: str) -> dict[str, Any]:
    """The payload of a '42["event",{...}]' frame."""
    return json.loads(text[2:])[1]  # type: ignore[no-any-return]
