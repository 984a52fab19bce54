"""A python-socketio AsyncClient for the meeting room, as a browser tab would use it.

    async with RoomClient(server.url, cookie) as c:        # WebSocket transport only
        r = await c.emit_ack("join", {"meeting_id": m.id})
        await c.emit_ack("chat.send", {"text": "Добрый день"})
        await c.wait_event(lambda e: e["type"] == "chat.message")

The cookie is the ``smo_session`` value: from a logged-in WebClient (``client.session_cookie``)
or made directly with :func:`session_cookie` for a user or a guest.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable
from typing import Any

import itsdangerous
import socketio

from tests.support.net import wait_for


def session_cookie(secret_key: str, data: dict[str, Any]) -> str:
    """Sign a session exactly as Starlette's SessionMiddleware does."""
    signer = itsdangerous.TimestampSigner(secret_key)
    return signer.sign(b64encode(json.dumps(data).encode())).decode()


def user_cookie(secret_key: str, user_id: int, session_version: int = 1) -> str:
    return session_cookie(secret_key, {"uid": user_id, "sv": session_version})


def guest_cookie(secret_key: str, guest_id: int, meeting_id: int) -> str:
    return session_cookie(secret_key, {"guest": {"id": guest_id, "meeting_id": meeting_id}})


class RoomClient:
    def __init__(self, url: str, cookie: str | None, *, lang: str | None = None) -> None:
        self.url = url
        self.cookie = cookie
        self.lang = lang
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.admissions: list[dict[str, Any]] = []
        self.other: list[tuple[str, Any]] = []
        self.connect_error: Any = None
        self.sio.on("event", self._on_event)
        self.sio.on("admission", self._on_admission)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("*", self._on_any)

    async def _on_event(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    async def _on_admission(self, data: dict[str, Any]) -> None:
        self.admissions.append(data)

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data

    async def _on_any(self, event: str, *data: Any) -> None:
        self.other.append((event, data[0] if data else None))

    async def connect(self) -> RoomClient:
        cookies = []
        if self.cookie:
            cookies.append(f"smo_session={self.cookie}")
        if self.lang:
            cookies.append(f"lang={self.lang}")
        headers = {"Cookie": "; ".join(cookies)} if cookies else {}
        await self.sio.connect(self.url, headers=headers, transports=["websocket"], wait_timeout=10)
        return self

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.sio.shutdown()

    async def __aenter__(self) -> RoomClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def emit_ack(self, name: str, payload: Any = None, timeout: float = 15) -> Any:
        """Send a message with an acknowledgement callback; return the ack."""
        if payload is None:
            payload = {}
        return await self.sio.call(name, payload, timeout=timeout)

    async def ok(self, name: str, payload: Any = None) -> dict[str, Any]:
        """Send and assert a positive acknowledgement."""
        ack = await self.emit_ack(name, payload)
        assert isinstance(ack, dict) and ack.get("ok") is True, (name, payload, ack)
        return ack

    async def error(self, name: str, payload: Any = None) -> str:
        """Send and assert a typed error; return its code."""
        ack = await self.emit_ack(name, payload)
        assert isinstance(ack, dict) and ack.get("ok") is False, (name, payload, ack)
        err = ack["error"]
        assert {"code", "message", "message_ru", "message_en"} <= set(err), ack
        return str(err["code"])

    def seqs(self, type_: str | None = None) -> list[int]:
        return [e["seq"] for e in self.events if type_ is None or e["type"] == type_]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10, what: str = ""
    ) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if predicate(e)), None)

        result = await wait_for(found, timeout, what=what or "room event")
        assert result is not None
        return result

    async def wait_seq(self, seq: int, timeout: float = 10) -> None:
        await wait_for(lambda: any(e["seq"] >= seq for e in self.events), timeout, what=f"seq {seq}")
