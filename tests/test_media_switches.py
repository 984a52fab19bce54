"""A media room being set up reads the meeting's switches (the microphone lock, transcription,
recording) from the log while it already takes operations. A switch that reaches the room in
that time is newer than the read, and the read must not undo it. (CI once saw it: the
moderator switched transcription on while the first media connection was being made, and the
room captured no speech for the whole test.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from realtime.media import service as media_module
from realtime.media.service import media_service
from tests.support.factories import make_association, make_meeting
from tests.support.live import LiveServer


async def a_meeting(server: LiveServer) -> int:
    association = await make_association(server.runtime.db)
    return (await make_meeting(server.runtime.db, association.id, "Заседание СМО: переключатели")).id


class SlowRead:
    """The set-up's reads return what the log said when they ran, then wait for ``go_on``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, said: dict[str, Any]) -> None:
        self.reading, self.go_on = asyncio.Event(), asyncio.Event()
        for name, value in said.items():
            monkeypatch.setattr(media_module, name, self._read(value))

    def _read(self, value: Any) -> Callable[..., Awaitable[Any]]:
        async def read(*_args: Any) -> Any:
            self.reading.set()
            await self.go_on.wait()
            return value

        return read


async def test_a_switch_made_while_the_room_is_set_up_is_kept(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = media_service(server.runtime)
    meeting_id = await a_meeting(server)
    # The log as the set-up reads it: transcription off, microphones locked.
    slow = SlowRead(monkeypatch, {"switched_on": False, "microphones_locked": True})
    setup = asyncio.ensure_future(media._fresh(meeting_id, meeting_id))
    await asyncio.wait_for(slow.reading.wait(), 10)
    # Meanwhile the moderator switches transcription on and unlocks the microphones.
    assert (await media.run(meeting_id, "transcription", on=True))["transcribing"] is True
    assert (await media.run(meeting_id, "unlock"))["locked"] is False
    slow.go_on.set()
    room = await asyncio.wait_for(setup, 10)
    assert room.transcribing is True
    assert room.locked is False


async def test_a_new_room_takes_the_switches_from_the_log(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an operation in between, the log's switches are the room's."""
    media = media_service(server.runtime)
    meeting_id = await a_meeting(server)
    slow = SlowRead(monkeypatch, {"switched_on": True, "microphones_locked": True})
    slow.go_on.set()
    room = await media._fresh(meeting_id, meeting_id)
    assert room.transcribing is True
    assert room.locked is True
