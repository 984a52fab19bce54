"""The room broadcast's direct WebSocket writes (realtime/meeting/fast_send.py): the private
surfaces it relies on are still there, the frames are valid, a busy connection is never
overtaken, and on a real server the broadcast actually takes the fast path."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from engineio.async_drivers import asgi as eio_asgi
from engineio.async_socket import AsyncSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime.meeting import fast_send
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast


def test_pinned_versions_and_private_surfaces() -> None:
    assert fast_send.versions_match(), f"re-check realtime/meeting/fast_send.py for {fast_send.PINNED}"
    assert fast_send.install()
    assert getattr(AsyncSocket._websocket_handler, "__wrapped__", None) is not None
    # engineio keeps the ASGI send callable on its WebSocket wrapper and an asyncio.Queue per socket
    assert "self.asgi_send = environ['asgi.send']" in inspect.getsource(eio_asgi.WebSocket)
    assert "await self.queue.get()" in inspect.getsource(
        AsyncSocket.poll
    ) or "self.queue.get()" in inspect.getsource(AsyncSocket.poll)
    assert hasattr(asyncio.Queue(), "_getters")
    # uvicorn's sans-io protocol: the attributes try_write reads, and send() writes frames itself
    source = inspect.getsource(WebSocketsSansIOProtocol)
    for attr in (
        "self.writable",
        "self.handshake_complete",
        "self.close_sent",
        "self.disconnected",
        "self.conn",
    ):
        assert attr in source, attr
    assert "self.conn.send_text(" in inspect.getsource(WebSocketsSansIOProtocol.send)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_text_frames_parse_back(size: int) -> None:
    text = ("42" + "я" * size)[: max(size, 2)]
    reader = StreamReader()
    reader.feed_data(fast_send.text_frame(text))
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert frame.opcode is Opcode.TEXT and frame.fin and not frame.rsv1
    assert frame.data.decode() == text


def _fake(queue_items: int, writer_waiting: bool, **proto: Any) -> tuple[Any, list[bytes]]:
    written: list[bytes] = []
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for i in range(queue_items):
        queue.put_nowait(i)
    if writer_waiting:
        queue._getters.append(asyncio.get_running_loop().create_future())  # type: ignore[attr-defined]
    protocol = SimpleNamespace(
        handshake_complete=True,
        close_sent=False,
        disconnected=False,
        writable=SimpleNamespace(is_set=lambda: proto.get("writable", True)),
        transport=SimpleNamespace(is_closing=lambda: False, write=written.append),
        conn=SimpleNamespace(state=SimpleNamespace(name=proto.get("state", "OPEN"))),
    )
    socket = SimpleNamespace(upgraded=True, upgrading=False, closing=False, closed=False, queue=queue)
    setattr(socket, fast_send.ATTR, protocol)
    return socket, written


async def test_a_busy_connection_is_never_overtaken() -> None:
    frame = fast_send.text_frame('42["event",{}]')
    idle, written = _fake(0, True)
    assert fast_send.try_write(idle, frame) and written == [frame]
    for socket, out in (
        _fake(1, True),  # a packet (e.g. the join snapshot) is still queued
        _fake(0, False),  # the writer took packets and is still sending them
        _fake(0, True, writable=False),  # back-pressure: let the queue hold it
        _fake(0, True, state="CLOSING"),
    ):
        assert not fast_send.try_write(socket, frame) and out == []


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_room_broadcast_takes_the_fast_path(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    await host.ok("meeting.start")
    before = dict(fast_send.COUNTERS)
    sent = [await host.ok("chat.send", {"text": f"сообщение {i}"}) for i in range(8)]
    await member.wait_seq(sent[-1]["seq"])
    texts = [e["payload"]["text"] for e in member.of_type("chat.message")]
    assert texts == [f"сообщение {i}" for i in range(8)]
    assert member.seqs() == sorted(set(member.seqs()))
    assert (
        fast_send.COUNTERS["direct"] - before["direct"] >= 8
    )  # at least the member's deliveries were direct writes
