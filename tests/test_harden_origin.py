"""Socket.IO accepts only the configured origins (issue 15, item 7): SMO_PUBLIC_URL's origin,
SMO_ALLOWED_ORIGINS, and requests without an Origin header (non-browser clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import socketio

from server.settings import Settings
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def connect_with_origin(cast: Cast, origin: str | None) -> RoomClient:
    c = cast.client("member")
    headers = {"Cookie": f"smo_session={cast.cookie('member')}"}
    if origin is not None:
        headers["Origin"] = origin
    await c.sio.connect(cast.url, headers=headers, transports=["websocket"], wait_timeout=10)
    return c


async def test_a_foreign_origin_cannot_connect(server: LiveServer, cast: Cast) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect_with_origin(cast, "https://evil.example")
    # The polling handshake is refused as well.
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(
            "/socket.io/?EIO=4&transport=polling",
            headers={"Origin": "https://evil.example", "Cookie": f"smo_session={cast.cookie('member')}"},
        )
        assert r.status_code == 400
        r = await http.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": server.url})
        assert r.status_code == 200
    # Its own origin, the public one and no Origin at all (a non-browser client) connect.
    for origin in (server.url, None):
        c = await connect_with_origin(cast, origin)
        assert (await c.ok("join", {"meeting_id": cast.meeting.id}))["status"] == "in"
        await c.close()


def test_allowed_origins_setting() -> None:
    s = Settings(
        public_url="https://smo.example.org/app", allowed_origins="https://a.example, http://b.example:8080/"
    )
    assert s.socket_origins() == ["https://smo.example.org", "https://a.example", "http://b.example:8080"]
    s = Settings(public_url="https://smo.example.org", allowed_origins='["https://c.example"]')
    assert s.socket_origins() == ["https://smo.example.org", "https://c.example"]
