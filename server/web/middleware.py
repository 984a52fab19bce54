"""ASGI middleware: current user, security headers, access log."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.db.models import User

log = logging.getLogger("smo.http")

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class CurrentUserMiddleware:
    """Puts the logged-in, active user (or None) into ``scope['user']``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["user"] = await self._load(scope)
        await self.app(scope, receive, send)

    async def _load(self, scope: Scope) -> User | None:
        session: dict[str, Any] = scope.get("session") or {}
        uid = session.get("uid")
        if not isinstance(uid, int):
            return None
        runtime = scope["app"].state.runtime
        async with runtime.db.read() as db:
            user = await db.get(User, uid)
        if user is None or not user.is_active or user.session_version != session.get("sv"):
            return None
        if scope["type"] == "http" and not scope["path"].startswith("/static/"):
            from server.domain.community.notifications import unread_count  # the header's bell: one COUNT

            async with runtime.db.read() as db:
                scope["unread_notifications"] = await unread_count(db, user.id)
        return user


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault(
                    "Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)"
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not scope["path"].startswith("/static/"):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
