"""Hardening of the room's dispatcher (issue 15): reserved event names and rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from realtime.meeting.service import SERVICE_KEY
from server.db.models import Meeting, MeetingDocument, MeetingEvent
from tests.support.client import WebClient
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient


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


async def flood(client: RoomClient, name: str, payload: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` messages at once (python-socketio handles each in its own task)."""
    return list(await asyncio.gather(*(client.emit_ack(name, payload, timeout=60) for _ in range(n))))


def person_limit(name: str) -> int:
    from realtime.meeting.limits import LIMITS

    return LIMITS[name].per_person


async def test_a_hand_flood_is_limited_and_others_are_unaffected(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    flooder, _ = await cast.joined("member")
    other, _ = await cast.joined("teacher2")
    start = await count_events(server, cast.meeting.id, "hand.raised")
    acks = await flood(flooder, "hand.raise", {}, 60) + await flood(flooder, "hand.lower", {}, 60)
    codes = [a["error"]["code"] for a in acks if not a["ok"]]
    assert codes and set(codes) == {"rate_limited"}, codes
    # Nothing beyond the limit reached the log (a fixed window: at most two windows' worth).
    stored = await count_events(server, cast.meeting.id, "hand.raised") - start
    stored += await count_events(server, cast.meeting.id, "hand.lowered")
    passed = sum(1 for a in acks if a["ok"])
    assert stored <= passed <= 2 * (person_limit("hand.raise") + person_limit("hand.lower"))
    # Everyone else keeps acting and receiving: the limit is the flooder's own.
    raised = await other.ok("hand.raise")
    await host.wait_seq(raised["seq"])
    sent = await host.ok("chat.send", {"text": "продолжаем"})
    await other.wait_seq(sent["seq"])
    await flooder.wait_seq(sent["seq"])  # the flooder still receives, too


async def test_a_sync_flood_is_limited_per_connection_and_person(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    flooder, _ = await cast.joined("member")
    acks = await flood(flooder, "sync", {"last_seq": 0}, 80)
    codes = {a["error"]["code"] for a in acks if not a["ok"]}
    assert codes == {"rate_limited"}, codes
    # A second connection of the same person shares the person's budget.
    second, _ = await cast.joined("member")
    acks2 = await flood(second, "sync", {"last_seq": 0}, 80)
    assert any(not a["ok"] for a in acks2)
    # The others' sync still works.
    assert (await host.ok("sync", {"last_seq": 0}))["events"]


def test_every_room_message_has_its_own_limit() -> None:
    from realtime.meeting.limits import LIMITS
    from realtime.meeting.registry import all_handlers

    assert set(all_handlers()) == set(LIMITS)


async def count_documents(server: LiveServer, meeting_id: int) -> int:
    async with server.runtime.db.read() as s:
        n = await s.scalar(
            select(func.count(MeetingDocument.id)).where(MeetingDocument.meeting_id == meeting_id)
        )
    return int(n or 0)


async def test_reading_the_documents_of_an_ended_meeting_writes_nothing(
    server: LiveServer, cast: Cast
) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    await host.ok("meeting.end")
    before = await count_documents(server, cast.meeting.id)
    async with server.runtime.db.read() as s:
        last_seq = (await s.get(Meeting, cast.meeting.id)).last_seq  # type: ignore[union-attr]
    member, _ = await cast.joined("member")
    listed = await member.ok("doc.list")
    assert len(listed["documents"]) == before
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as web:
        web.cookies.set("smo_session", cast.cookie("member"))
        page = await web.get(f"/meetings/{cast.meeting.id}/documents")
        assert page.status_code == 200
    assert await count_documents(server, cast.meeting.id) == before
    async with server.runtime.db.read() as s:
        assert (await s.get(Meeting, cast.meeting.id)).last_seq == last_seq  # type: ignore[union-attr]
