"""Build the Socket.IO server for a runtime (Redis manager when REDIS_URL is set)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import socketio

from realtime.meeting import acks
from server.errors import AppError

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.room")
# Names python-socketio uses for its own connection lifecycle (and the client's): a client
# packet carrying one must never reach the connect/disconnect handlers.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


class ReservedEvent(AppError):
    code, status = "reserved_event", 400


class RealtimeServer(socketio.AsyncServer):
    """python-socketio's server, refusing client events named like the lifecycle events."""

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        name = data[0] if data else None
        if isinstance(name, str) and name in RESERVED_EVENTS:
            log.warning("reserved event name from a client refused", extra={"event": name, "sid": sid})
            if id is not None:
                locale = "ru"
                try:
                    locale = str((await self.get_session(sid, namespace)).get("locale", "ru"))
                except KeyError:
                    pass
                await server._send_packet(
                    eio_sid,
                    self.packet_class(
                        socketio.packet.ACK,
                        namespace=namespace,
                        id=id,
                        data=[acks.fail(ReservedEvent(), locale)],
                    ),
                )
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


def create_realtime(runtime: Runtime) -> tuple[socketio.AsyncServer, Any]:
    settings = runtime.settings
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(settings.redis_url, channel=f"{settings.redis_prefix}:socketio")
    sio = RealtimeServer(
        async_mode="asgi",
        client_manager=manager,
        # Browsers connect only from the configured origins; clients sending no Origin header
        # (not browsers) are not checked.
        cors_allowed_origins=settings.socket_origins(),
        max_http_buffer_size=1_000_000,
        ping_interval=10,
        ping_timeout=10,
        logger=False,
        engineio_logger=False,
    )
    from realtime.media.service import media_status
    from realtime.namespaces import register_namespaces

    register_namespaces(sio, runtime)
    runtime.services["media_status"] = lambda: media_status(runtime)  # /healthz
    runtime.live = LiveRooms(runtime)
    return sio, socketio.ASGIApp(sio, socketio_path="socket.io")


class LiveRooms:
    """The live meeting's services for the pages (server.runtime.LiveMeetings)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def close_overdue_polls(self, meeting_id: int) -> None:
        from realtime.meeting.handlers.polls import close_overdue

        await close_overdue(self.runtime, meeting_id)

    async def end_connections(self, participant: str) -> None:
        """The person's sessions ended (blocked): their open room connections end too. This
        process disconnects its own (a reconnect is refused: the cookie is void); every process's
        clients get ``session.ended`` through the room broadcaster and close by themselves."""
        from realtime.meeting.broadcast import person_room

        sio = self.runtime.sio
        if sio is None:
            return
        room = person_room(participant)
        await sio.emit("session.ended", {}, room=room)
        for sid in list(sio.manager.get_participants("/", room)):
            await sio.disconnect(sid[0] if isinstance(sid, tuple) else sid, ignore_queue=True)


async def stop_realtime(runtime: Runtime) -> None:
    if runtime.sio is not None:
        for hook in runtime.services.get("realtime_shutdown", []):
            await hook()
        await runtime.sio.shutdown()
