"""A real uvicorn server on a free port, in the test process's event loop."""

from __future__ import annotations

import asyncio
import contextlib
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


async def start_live_server(settings: Settings) -> LiveServer:
    port = free_port()
    # Browsers (and tests sending an Origin) connect to Socket.IO from the server's own origin.
    own = f"http://127.0.0.1:{port}"
    if own not in settings.allowed_origins:
        settings.allowed_origins = [*settings.allowed_origins, own]
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws="websockets-sansio"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), 20, what="uvicorn started")
    if task.done():
        task.result()
    return LiveServer(app, settings, port, server, task)
