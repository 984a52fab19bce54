"""Build the Socket.IO server for a runtime (Redis manager when REDIS_URL is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import socketio

if TYPE_CHECKING:
    from server.runtime import Runtime


def create_realtime(runtime: Runtime) -> tuple[socketio.AsyncServer, Any]:
    settings = runtime.settings
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(settings.redis_url, channel=f"{settings.redis_prefix}:socketio")
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=[],  # same origin only
        max_http_buffer_size=1_000_000,
        ping_interval=10,
        ping_timeout=10,
        logger=False,
        engineio_logger=False,
    )
    from realtime.namespaces import register_namespaces

    register_namespaces(sio, runtime)
    runtime.live = LiveRooms(runtime)
    return sio, socketio.ASGIApp(sio, socketio_path="socket.io")


class LiveRooms:
    """The live meeting's services for the pages (server.runtime.LiveMeetings)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def close_overdue_polls(self, meeting_id: int) -> None:
        from realtime.meeting.handlers.polls import close_overdue

        await close_overdue(self.runtime, meeting_id)


async def stop_realtime(runtime: Runtime) -> None:
    if runtime.sio is not None:
        for hook in runtime.services.get("realtime_shutdown", []):
            await hook()
        await runtime.sio.shutdown()
