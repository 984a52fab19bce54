"""Group commit in the room service: actions queued while a meeting's transaction is in flight
commit together, each in its own savepoint; a failing action fails alone; the log stays
gap-free and every client sees every event once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from realtime.meeting.service import SERVICE_KEY, RoomService
from server.db.models import MeetingEvent
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_queued_actions_commit_together_and_fail_alone(server: LiveServer, cast: Cast) -> None:
    room: RoomService = server.runtime.services[SERVICE_KEY]
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    head, _ = await cast.joined("mo_head")
    await host.ok("meeting.start")
    before = dict(room.stats)
    senders = {"methodist": host, "member": member, "mo_head": head}
    async with room.locked(cast.meeting.id):  # hold the meeting: everything below queues up
        calls = [
            c.emit_ack("chat.send", {"text": f"{role} {i}"}) for role, c in senders.items() for i in range(6)
        ] + [c.emit_ack("chat.send", {"text": "ответ", "reply_to": 999_999}) for c in senders.values()]
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0.5)  # every message has reached the server and waits
        assert not any(t.done() for t in tasks)
    acks = await asyncio.gather(*tasks)
    good, bad = acks[:18], acks[18:]
    assert all(a["ok"] for a in good), good
    assert [a["error"]["code"] for a in bad] == ["message_unknown"] * 3
    seqs = sorted(a["seq"] for a in good)
    assert seqs == list(range(seqs[0], seqs[0] + 18))  # gap-free: the failures took no number
    assert room.stats["actions"] - before["actions"] == 21
    assert room.stats["batches"] - before["batches"] <= 3  # not one transaction per action
    await member.wait_seq(seqs[-1])
    texts = [e["payload"]["text"] for e in member.of_type("chat.message")]
    assert sorted(texts) == sorted(f"{role} {i}" for role in senders for i in range(6))
    assert member.seqs() == sorted(set(member.seqs()))  # once each, in order
    async with server.runtime.db.read() as s:
        logged = (
            await s.scalars(
                select(MeetingEvent.seq)
                .where(MeetingEvent.meeting_id == cast.meeting.id)
                .order_by(MeetingEvent.seq)
            )
        ).all()
    assert list(logged) == list(range(1, len(logged) + 1))
