"""Group commit in the room service: actions queued while a meeting's transaction is in flight
commit together, each in its own savepoint; a failing action fails alone; the log stays
gap-free and every client sees every event once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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


async def test_joins_share_a_transaction_and_each_joiner_sees_every_event_once(
    server: LiveServer, cast: Cast
) -> None:
    """The start of a meeting: people join while others chat. Joins queue and commit together
    like any other action; each joiner's snapshot (or replay) plus its live events hold every
    later event exactly once, in order."""
    room: RoomService = server.runtime.services[SERVICE_KEY]
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    await host.ok("meeting.start")
    plan = [{"name": "Первая", "members": [cast.key("member")]}]
    await host.ok("groups.start", {"groups": plan, "duration": 600})
    # A group's chat in the log: a replay must filter it with the meeting's state, which it now
    # gets from the batch (asking the service for it under the meeting's lock would wait forever).
    await member.ok("chat.send", {"text": "В группе"})
    joiners = {
        role: await cast.client(role).connect() for role in ("mo_head", "teacher2", "teacher3", "guest")
    }
    again = await cast.client("member").connect()  # a second tab, catching up from the start
    before = dict(room.stats)
    async with room.locked(cast.meeting.id):
        calls: list[asyncio.Future[Any]] = []
        for i, client in enumerate(joiners.values()):
            calls.append(asyncio.ensure_future(host.emit_ack("chat.send", {"text": f"до {i}"})))
            calls.append(asyncio.ensure_future(client.emit_ack("join", {"meeting_id": cast.meeting.id})))
        replay = asyncio.ensure_future(again.emit_ack("join", {"meeting_id": cast.meeting.id, "last_seq": 0}))
        calls.append(replay)
        calls.append(asyncio.ensure_future(host.emit_ack("chat.send", {"text": "после"})))
        await asyncio.sleep(0.5)
        assert not any(c.done() for c in calls)
    acks: list[dict[str, Any]] = list(await asyncio.wait_for(asyncio.gather(*calls), 20))
    assert all(a["ok"] for a in acks), acks
    assert room.stats["batches"] - before["batches"] <= 3  # the joins did not run one by one
    last = max(a["seq"] for a in acks if "seq" in a)
    for role, client in joiners.items():
        snapshot = next(a["state"] for a, c in zip(acks[1::2], joiners.values(), strict=False) if c is client)
        assert snapshot["participants"][cast.key(role)]["connected"], role
        await client.wait_seq(last)
        live = client.seqs()
        assert live == list(range(snapshot["last_seq"] + 1, last + 1)), (role, snapshot["last_seq"], live)
    replayed = replay.result()["events"]
    await again.wait_seq(last)
    seen = [e["seq"] for e in replayed] + again.seqs()
    assert seen == sorted(set(seen)) and seen[-1] == last  # once each, in order, to the end
    assert "В группе" in [e["payload"].get("text") for e in replayed if e["type"] == "chat.message"]
