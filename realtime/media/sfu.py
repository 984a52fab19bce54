"""The SFU of one app process: a MediaRoom per meeting, created on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.media.config import MediaConfig
from realtime.media.room import MediaRoom

# notify(meeting_id, kind, participant, data)
SfuNotify = Callable[[int, str, str, dict[str, Any]], None]


class Sfu:
    def __init__(self, config: MediaConfig, notify: SfuNotify | None = None) -> None:
        self.config = config
        self._notify = notify
        self.rooms: dict[int, MediaRoom] = {}

    def room(self, meeting_id: int) -> MediaRoom:
        room = self.rooms.get(meeting_id)
        if room is None:
            room = self.rooms[meeting_id] = MediaRoom(
                meeting_id, self.config, lambda kind, who, data: self.notify(meeting_id, kind, who, data)
            )
        return room

    def notify(self, meeting_id: int, kind: str, participant: str, data: dict[str, Any]) -> None:
        if self._notify is not None:
            self._notify(meeting_id, kind, participant, data)

    async def leave(self, meeting_id: int, participant: str, reason: str = "left") -> None:
        room = self.rooms.get(meeting_id)
        if room is not None:
            await room.remove_peer(participant, reason=reason)
            if room.idle:
                await room.close()
                self.rooms.pop(meeting_id, None)

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()

    def peer_count(self) -> int:
        return sum(len(r.peers) for r in self.rooms.values())
