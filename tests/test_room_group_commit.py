"""Group commit in the room service: actions queued while a meeting's transaction is in flight
commit together, each in its own savepoint; a failing action fails alone; the log stays
gap-free and every client sees every event once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.meeting.service import SERVICE_KEY, RoomService
from server.db.models import Meeting, MeetingEvent
from server.domain.meeting.meeting_log import append_event, append_events
from server.domain.meeting.room_state import Outcome, RoomState
from server.errors import AppError
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


async def test_a_rolled_back_action_gives_its_log_numbers_back(server: LiveServer, cast: Cast) -> None:
    """Inside a batch the log's numbers are handed out in memory (the meeting row is locked for
    the whole transaction) and stored once: an action that appended and then failed gives its
    numbers back, and a writer outside the room service continues from the stored number."""
    room: RoomService = server.runtime.services[SERVICE_KEY]
    host, _ = await cast.joined("methodist")
    actor = cast.key("methodist")

    def say(*texts: str, fail: bool = False) -> Any:
        async def action(session: AsyncSession, state: RoomState) -> Outcome[None]:
            events = await append_events(
                session, cast.meeting.id, [("chat.message", actor, {"text": t}) for t in texts]
            )
            if fail:
                raise AppError("test_failure")
            return Outcome(events)

        return action

    async with room.locked(cast.meeting.id):  # one batch: a, b (fails after appending two), c
        tasks = [
            asyncio.ensure_future(room.commit(cast.meeting.id, say("a"))),
            asyncio.ensure_future(room.commit(cast.meeting.id, say("b1", "b2", fail=True))),
            asyncio.ensure_future(room.commit(cast.meeting.id, say("c"))),
        ]
        await asyncio.sleep(0.1)
    a, b, c = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(b, AppError) and b.code == "test_failure"
    assert isinstance(a, Outcome) and isinstance(c, Outcome)
    assert c.events[0].seq == a.events[0].seq + 1  # b's two numbers were given back
    async with server.runtime.db.transaction() as s:  # a writer that is not the room service
        d = await append_event(s, cast.meeting.id, "chat.message", actor, {"text": "d"})
    assert d.seq == c.events[0].seq + 1
    async with server.runtime.db.read() as s:
        last_seq = await s.scalar(select(Meeting.last_seq).where(Meeting.id == cast.meeting.id))
        logged = (
            await s.scalars(select(MeetingEvent.seq).where(MeetingEvent.meeting_id == cast.meeting.id))
        ).all()
    assert last_seq == d.seq
    assert sorted(logged) == list(range(1, d.seq + 1))
    await host.wait_seq(c.events[0].seq)
    assert [e["payload"]["text"] for e in host.of_type("chat.message")][-2:] == ["a", "c"]


async def test_a_vote_in_a_batch_reads_neither_the_meeting_nor_the_poll_again(
    server: LiveServer, cast: Cast
) -> None:
    """A poll's burst of votes is a batch: the meeting row is read once (its lock) and the poll
    once, the log's number is stored once; per vote there is one read (membership and ballot)
    and the writes (ballot, counter, event)."""
    room: RoomService = server.runtime.services[SERVICE_KEY]
    host, _ = await cast.joined("methodist")
    voters = [
        (await cast.joined(role))[0] for role in ("member", "mo_head", "teacher2", "teacher3", "teacher4")
    ]
    await host.ok("meeting.start")
    poll_id = (await host.ok("poll.create", {"question": "Утвердить план?", "kind": "decision"}))["poll_id"]
    await host.ok("poll.open", {"poll_id": poll_id})
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = server.runtime.db.engine.sync_engine
    async with room.locked(cast.meeting.id):
        votes = [
            asyncio.ensure_future(v.emit_ack("vote.cast", {"poll_id": poll_id, "choices": [i % 3]}))
            for i, v in enumerate(voters)
        ]
        await asyncio.sleep(0.5)  # every vote waits for the meeting: one batch
        event.listen(engine, "before_cursor_execute", count)
    try:
        acks = await asyncio.wait_for(asyncio.gather(*votes), 20)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert all(a["ok"] for a in acks), acks
    assert sorted(a["ballots"] for a in acks) == [1, 2, 3, 4, 5]

    def n(prefix: str) -> int:
        return sum(s.startswith(prefix) for s in seen)

    assert n("SELECT meetings.") == 1, seen  # the lock
    assert n("SELECT polls.") == 1, seen
    assert n("UPDATE meetings SET last_seq") == 1, seen
    assert n("SELECT EXISTS (SELECT memberships.id") == 5, seen
    assert (n("INSERT INTO ballots"), n("UPDATE polls"), n("INSERT INTO meeting_events")) == (5, 5, 5), seen
