"""The application factory: one ASGI app serving pages, the API, static files and Socket.IO.

It composes the parts, so that the imports run one way (app -> realtime / web -> domain -> db):
the runtime first, then the realtime server and the workers that use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Receive, Scope, Send

from realtime.server import create_realtime, stop_realtime
from server.domain.community import notifications
from server.domain.meeting import recording, recording_mix
from server.domain.protocol import workflow
from server.domain.year import anonymous, feedback, preparation
from server.logs import configure_logging
from server.mail import sender
from server.runtime import Runtime
from server.sessions import SESSION_COOKIE, SESSION_MAX_AGE
from server.settings import Settings
from server.web.error_handlers import HANDLERS
from server.web.middleware import CurrentUserMiddleware, SecurityHeadersMiddleware
from server.web.routes import build_routes
from server.web.templating import make_environment
from server.workers import start_workers

# The modules whose outbox jobs the workers run: importing them registers their handlers.
JOB_MODULES = (notifications, workflow, feedback, preparation, anonymous, recording, recording_mix, sender)
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SOCKETIO_PATH = "/socket.io/"


class SmoApp:
    """Routes ``/socket.io/`` to the realtime server built in the lifespan, the rest to Starlette."""

    def __init__(self, web: Starlette, runtime: Runtime) -> None:
        self.web = web
        self.runtime = runtime
        self.state = web.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] in ("http", "websocket")
            and scope["path"].startswith(SOCKETIO_PATH)
            and self.runtime.sio_app is not None
        ):
            await self.runtime.sio_app(scope, receive, send)
            return
        await self.web(scope, receive, send)


def create_app(settings: Settings | None = None) -> SmoApp:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format or "json")
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            runtime.sio, runtime.sio_app = create_realtime(runtime)
            runtime.tasks.extend(start_workers(runtime))
            runtime.started()
            yield
        finally:
            await runtime.stop_tasks()
            await stop_realtime(runtime)
            await runtime.stop()

    web = Starlette(
        routes=build_routes(STATIC_DIR),
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                SessionMiddleware,
                secret_key=runtime.secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
                https_only=settings.public_url.startswith("https://"),
            ),
            Middleware(CurrentUserMiddleware),
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    web.state.runtime = runtime
    web.state.settings = settings
    web.state.templates = make_environment()
    return SmoApp(web, runtime)
