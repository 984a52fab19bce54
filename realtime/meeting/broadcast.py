"""Emitting logged events to the meeting, strictly in sequence order for every client.

One process: the room service emits while holding the meeting's lock, so emits follow commits.
Several processes (Redis): python-socketio's manager normally delivers to local clients at once
and to other processes through Redis, so two processes could deliver seq 5 and 6 in different
orders. Instead every event is *only* published on the Socket.IO Redis channel, under a foreign
host id, and every process (the sender included) delivers it from the channel's single, totally
ordered stream. The publish happens under the meeting's Redis lock, right after the commit, so
the channel order is the sequence order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from realtime.meeting import fast_send
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import RoomState, visible_to

if TYPE_CHECKING:
    import socketio

CHANNEL_HOST_ID = "smo-room-broadcast"
log = logging.getLogger("smo.room")


def targets(meeting_id: int, event: dict[str, Any], state: RoomState) -> str | list[str]:
    """For a logged event (its wire form): the meeting's room; the two people's rooms for a
    private chat message; for a breakout group's message the rooms of those who may read it
    (``room_state.visible_to``)."""
    if event["type"] != "chat.message":
        return meeting_room(meeting_id)
    payload, actor = event["payload"], event["actor"]
    if payload.get("to"):
        return [participant_room(meeting_id, actor), participant_room(meeting_id, payload["to"])]
    if payload.get("group") is not None:
        readers = [key for key in state.participants if visible_to(event, key, state)]
        return [participant_room(meeting_id, key) for key in sorted({actor, *readers})]
    return meeting_room(meeting_id)


def meeting_room(meeting_id: int) -> str:
    return f"m{meeting_id}"


def participant_room(meeting_id: int, key: str) -> str:
    return f"m{meeting_id}:p:{key}"


def person_room(key: str) -> str:
    """Every connection of one person (``u:<id>`` / ``g:<id>``), whatever meeting it is in."""
    return f"person:{key}"


class Broadcaster:
    def __init__(self, sio: socketio.AsyncServer, via_redis: bool) -> None:
        self.sio = sio
        self.via_redis = via_redis
        self.fast = fast_send.install()

    async def emit(self, event: str, data: Any, to: str | list[str], skip_sid: str | None = None) -> None:
        if self.via_redis:
            message = {
                "method": "emit",
                "event": event,
                "data": [data],
                "binary": False,
                "namespace": "/",
                "room": to,
                "skip_sid": skip_sid,
                "callback": None,
                "host_id": CHANNEL_HOST_ID,
            }
            await self.sio.manager._publish(message)
        else:
            try:
                self.fan_out(event, data, to, skip_sid)
            except Exception:  # python-socketio internals changed: take the public path
                log.exception("direct fan-out failed; falling back to sio.emit")
                await self.sio.emit(event, data, to=to, skip_sid=skip_sid)

    def fan_out(self, event: str, data: Any, to: str | list[str], skip_sid: str | None) -> None:
        """What ``sio.emit`` does for local recipients, minus the per-recipient work: encode the
        packet once, build its WebSocket frame once, and write it straight to each connection
        whose writer is idle (realtime/meeting/fast_send.py); other connections get it on their
        send queue as before. The emit stays in seq order because it runs synchronously, under
        the meeting's lock (or, with Redis, in the channel's order)."""
        sio: Any = self.sio
        encoded = sio.packet_class(sio_packet.EVENT, namespace="/", data=[event, data]).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        # The common case (one text packet, fast path installed): one WebSocket frame for all.
        direct = (
            fast_send.text_frame(frames[0].encode())
            if self.fast and len(frames) == 1 and isinstance(frames[0].data, str)
            else None
        )
        sockets = sio.eio.sockets
        direct_count = queued_count = 0
        for sid, eio_sid in sio.manager.get_participants("/", to):
            if sid == skip_sid:
                continue
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue
            if direct is not None and fast_send.try_write(socket, direct):
                direct_count += 1
                continue
            queued_count += 1
            for frame in frames:
                socket.queue.put_nowait(frame)
        fast_send.COUNTERS["direct"] += direct_count
        fast_send.COUNTERS["queued"] += queued_count

    async def events(
        self, meeting_id: int, events: list[LoggedEvent], skip_sid: str | None, state: RoomState
    ) -> None:
        for event in events:
            wire = event.to_wire()
            await self.emit("event", wire, targets(meeting_id, wire, state), skip_sid)
