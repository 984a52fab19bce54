"""Direct WebSocket writes for the room's broadcast: one frame built once, written to every
recipient's transport, instead of python-socketio's per-recipient path (a queue put, a writer
task wake-up, an ``asyncio.wait_for`` task, per-recipient encoding and framing).

A frame is written directly only when that is indistinguishable from the normal path:

- the Engine.IO socket is on the WebSocket transport, open, with an empty send queue and its
  writer task parked in ``queue.get()`` (so every packet queued earlier is already on the wire:
  a direct write cannot overtake an acknowledgement or a snapshot);
- the connection is uvicorn's ``websockets-sansio`` protocol, handshake done, not closing, not
  paused by back-pressure (``writable`` set), the websockets state machine OPEN.

Otherwise the packet goes on the socket's queue as before. Frames are unmasked text frames
without compression (RSV1 = 0), valid on every connection whether or not permessage-deflate
was negotiated (RFC 7692 §6: a message may be sent uncompressed).

Private surfaces used (each checked by tests/test_room_fast_send.py, versions pinned below):
``engineio.async_socket.AsyncSocket._websocket_handler`` (wrapped to remember the connection),
``AsyncSocket.queue`` (an ``asyncio.Queue``; ``_getters``), the engineio ASGI ``WebSocket``'s
``asgi_send`` (a bound method of uvicorn's protocol), and uvicorn's
``WebSocketsSansIOProtocol`` attributes ``transport``, ``writable``, ``handshake_complete``,
``close_sent``, ``disconnected``, ``conn.state``. With other versions the fast path stays off.
"""

from __future__ import annotations

import functools
import logging
import struct
from importlib.metadata import version
from typing import Any

log = logging.getLogger("smo.room")

PINNED = {"python-engineio": "4.15.1", "uvicorn": "0.54.0", "websockets": "17.4"}
ATTR = "_smo_ws_protocol"
_state: dict[str, bool] = {}
# Frames written directly / packets that took the queue (the room tests and benchmarks read these).
COUNTERS = {"direct": 0, "queued": 0}


def versions_match() -> bool:
    try:
        return all(version(name) == wanted for name, wanted in PINNED.items())
    except Exception:
        return False


def install() -> bool:
    """Wrap Engine.IO's WebSocket handler once per process; False when the fast path is off."""
    if "installed" in _state:
        return _state["installed"]
    if not versions_match():
        log.warning("fast room broadcast off: versions differ from %s", PINNED)
        _state["installed"] = False
        return False
    from engineio.async_socket import AsyncSocket
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    original = AsyncSocket._websocket_handler

    @functools.wraps(original)
    async def _websocket_handler(self: Any, ws: Any) -> Any:
        protocol = getattr(getattr(ws, "asgi_send", None), "__self__", None)
        if isinstance(protocol, WebSocketsSansIOProtocol):
            setattr(self, ATTR, protocol)
        try:
            return await original(self, ws)
        finally:
            if hasattr(self, ATTR):
                delattr(self, ATTR)

    setattr(AsyncSocket, "_websocket_handler", _websocket_handler)  # noqa: B010 (patching a method)
    _state["installed"] = True
    return True


def text_frame(payload: str) -> bytes:
    """An unmasked, uncompressed, final WebSocket text frame (RFC 6455 §5.2)."""
    data = payload.encode()
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + data


def _writer_parked(socket: Any) -> bool:
    queue = socket.queue
    if not queue.empty():
        return False
    return any(not waiter.done() for waiter in queue._getters)


def try_write(socket: Any, frame: bytes) -> bool:
    """Write ``frame`` on the socket's connection now if that keeps the order; else False."""
    protocol = getattr(socket, ATTR, None)
    if protocol is None or not socket.upgraded or socket.upgrading or socket.closing or socket.closed:
        return False
    if not _writer_parked(socket):
        return False
    if (
        not protocol.handshake_complete
        or protocol.close_sent
        or protocol.disconnected
        or not protocol.writable.is_set()
        or protocol.transport.is_closing()
        or protocol.conn.state.name != "OPEN"
    ):
        return False
    protocol.transport.write(frame)
    return True
