"""Registers every Socket.IO namespace of the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio

if TYPE_CHECKING:
    from server.runtime import Runtime


def register_namespaces(sio: socketio.AsyncServer, runtime: Runtime) -> None:
    # The meeting room namespace is registered here (realtime/meeting/).
    return None
