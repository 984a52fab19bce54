"""A real uvicorn server on a free port, in the test process's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import uvicorn

from server.app import SmoApp, create_app
from server.runtime import Runtime
from server.settings import Settings
from tests.support.net import free_port, wait_for


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test runner owns the signals


@dataclass
class LiveServer:
    app: SmoApp
    settings: Settings
    port: int
    server: _Server
    task: asyncio.Task[Any]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def runtime(self) -> Runtime:
        return self.app.runtime

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def start_live_server(settings: Settings, also_on: tuple[str, ...] = ()) -> LiveServer:
    """``also_on``: more local addresses to listen on, same port (e.g. a test namespace's
    link address, tests/support/netns.py)."""
    port = free_port()
    # Browsers (and tests sending an Origin) connect to Socket.IO from the server's own origin.
    own = f"http://127.0.0.1:{port}"
    if own not in settings.allowed_origins:
        settings.allowed_origins = [*settings.allowed_origins, own]
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        ws="websockets-sansio",
        # Longer than any pause between a test's requests on a loaded machine: with uvicorn's 5 s
        # the server may close a kept-alive connection just as the client reuses it (ReadError).
        timeout_keep_alive=120,
    )
    server = _Server(config)
    sockets = None
    if also_on:
        sockets = []
        for host in ("127.0.0.1", *also_on):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sockets.append(sock)
    task = asyncio.create_task(server.serve(sockets=sockets))
    await wait_for(lambda: server.started or task.done(), 20, what="uvicorn started")
    if task.done():
        task.result()
    return LiveServer(app, settings, port, server, task)
