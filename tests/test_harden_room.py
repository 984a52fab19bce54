"""Hardening of the room's dispatcher (issue 15): reserved event names and rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from realtime.meeting.service import SERVICE_KEY
from server.db.models import MeetingEvent
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def count_events(server: LiveServer, meeting_id: int, type_: str) -> int:
    async with server.runtime.db.read() as s:
        n = await s.scalar(
            select(func.count(MeetingEvent.id)).where(
                MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == type_
            )
        )
    return int(n or 0)


@pytest.mark.parametrize("name", ["disconnect", "connect"])
async def test_reserved_event_names_from_clients_are_refused(
    server: LiveServer, cast: Cast, name: str
) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    before = await count_events(server, cast.meeting.id, "participant.left")
    fake = {"HTTP_COOKIE": f"smo_session={cast.cookie('admin')}"} if name == "connect" else "client"
    assert await member.error(name, fake) == "reserved_event"
    # The person is still in the room and nothing was written about them leaving.
    assert await count_events(server, cast.meeting.id, "participant.left") == before
    sent = await member.ok("chat.send", {"text": "я всё ещё здесь"})
    await host.wait_seq(sent["seq"])
    state = await server.runtime.services[SERVICE_KEY].current_state(cast.meeting.id)
    assert state.is_connected(cast.key("member"))
    # A fake connect did not re-identify the connection: it still speaks as the member.
    chat = host.of_type("chat.message")[-1]
    assert chat["actor"] == cast.key("member")
