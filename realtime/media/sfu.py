"""The SFU of one app process: a MediaRoom per meeting, created on first use.

A room is keyed by the meeting id, or by ``(meeting id, group id)`` for a breakout group's own
room (docs/groups.md): its own peers and forwarding policy, on the meeting's node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.media import hooks, sendthread
from realtime.media.config import MediaConfig
from realtime.media.room import MediaRoom

# The main room of a meeting: its id; a breakout group's room: (meeting id, group id).
RoomKey = int | tuple[int, int]
# notify(room key, kind, participant, data)
SfuNotify = Callable[[RoomKey, str, str, dict[str, Any]], None]


def meeting_of(key: RoomKey) -> int:
    return key if isinstance(key, int) else key[0]


def room_key(meeting_id: int, group: int | None) -> RoomKey:
    return meeting_id if group is None else (meeting_id, group)


class Sfu:
    def __init__(self, config: MediaConfig, notify: SfuNotify | None = None) -> None:
        hooks.use_lazy_bitrate_estimators()
        sendthread.configure(config.send_thread)
        self.config = config
        self._notify = notify
        self.rooms: dict[RoomKey, MediaRoom] = {}

    def room(self, key: RoomKey) -> MediaRoom:
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = MediaRoom(
                meeting_of(key), self.config, lambda kind, who, data: self.notify(key, kind, who, data)
            )
        return room

    def rooms_of(self, meeting_id: int) -> list[tuple[RoomKey, MediaRoom]]:
        """The meeting's main room and its groups' rooms (those that exist here)."""
        return [(k, r) for k, r in list(self.rooms.items()) if meeting_of(k) == meeting_id]

    def notify(self, key: RoomKey, kind: str, participant: str, data: dict[str, Any]) -> None:
        if self._notify is not None:
            self._notify(key, kind, participant, data)

    async def leave(self, key: RoomKey, participant: str, reason: str = "left") -> None:
        room = self.rooms.get(key)
        if room is not None:
            await room.remove_peer(participant, reason=reason)
            if room.idle:
                await room.close()
                self.rooms.pop(key, None)

    def move_many(self, moves: dict[str, RoomKey]) -> list[str]:
        """Move each person's media connection from whichever of the meeting's rooms holds it
        into their target room (created if need be) over the same connection; each room touched
        is rebalanced once (a round of groups starts or ends for a whole meeting at a time).
        Returns who moved: a person with no peer in another of the meeting's rooms does not."""
        touched: dict[RoomKey, MediaRoom] = {}
        moved = []
        for participant, to in moves.items():
            held = next(
                (k for k, r in self.rooms_of(meeting_of(to)) if participant in r.peers and k != to), None
            )
            if held is None:
                continue
            source = self.rooms[held]
            muted = participant in source.muted
            peer = source.release_peer(participant)
            if peer is None:
                continue
            target = self.room(to)
            target.adopt_peer(peer, muted=muted)
            touched[held], touched[to] = source, target
            moved.append(participant)
        for room in touched.values():
            room.rebalance()
        return moved

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()

    def peer_count(self) -> int:
        return sum(len(r.peers) for r in self.rooms.values())
