"""Secret polls: nothing the server keeps, sends or exports links a person to a choice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from server.db.models import Ballot, MeetingEvent, PollParticipation, SealedBallot
from server.db.types import utcnow
from server.domain.meeting.poll_closing import close_open_polls, close_poll
from server.domain.meeting.polls import PollDraft, cast_vote, create_poll, open_poll
from server.errors import AppError
from tests.support.live import LiveServer
from tests.test_polls_support import DECISION, close_all, create_open, make_world


def columns(conn: Any, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


async def test_secret_ballots_are_not_linked_to_anyone(server: LiveServer) -> None:
    world = await make_world(server, members=3)
    mod = await world.room("methodist")
    voters = {label: await world.room(label) for label in ("member1", "member2", "member3")}
    observer = await world.room("mo_head")
    try:
        poll_id = await create_open(mod, {**DECISION, "secret": True})
        choices = {"member1": 0, "member2": 1, "member3": 0}
        for label, choice in choices.items():
            ack = await voters[label].call("vote.cast", {"poll_id": poll_id, "choices": [choice]})
            assert ack == {"ok": True, "ballots": ack["ballots"], "already_voted": False}
        # A re-sent (even different) secret vote changes nothing: the first ballot stands.
        again = await voters["member2"].call("vote.cast", {"poll_id": poll_id, "choices": [2]})
        assert again == {"ok": True, "ballots": 3, "already_voted": True}

        # While open, everyone learns only the number of ballots.
        await observer.wait_event("vote.cast", poll_id=poll_id, ballots=3)
        for event in observer.of_type("vote.cast"):
            assert event["actor"] == "system"
            assert event["payload"]["voter"] is None and event["payload"]["choices"] is None
        snapshot = (await observer.call("sync", {"last_seq": 0}))["events"]
        assert all(e["actor"] == "system" for e in snapshot if e["type"] == "vote.cast")

        # The database: participation apart from sealed ballots (no counter moves before the close).
        async with server.runtime.db.read() as s:
            assert await s.scalar(select(Ballot.id).where(Ballot.poll_id == poll_id)) is None
            voters_taken = set(
                await s.scalars(select(PollParticipation.voter).where(PollParticipation.poll_id == poll_id))
            )
            boxes = list(await s.scalars(select(SealedBallot.box).where(SealedBallot.poll_id == poll_id)))
            logged = list(
                await s.scalars(
                    select(MeetingEvent).where(
                        MeetingEvent.meeting_id == world.meeting_id, MeetingEvent.type == "vote.cast"
                    )
                )
            )
            conn = await s.connection()
            participation_cols = await conn.run_sync(lambda c: columns(c, "poll_participations"))
            sealed_cols = await conn.run_sync(lambda c: columns(c, "sealed_ballots"))
        assert voters_taken == {world.key(label) for label in choices}
        assert len(boxes) == 3 and len({len(b) for b in boxes}) == 1  # one length for every choice
        assert participation_cols == {"id", "poll_id", "voter"}  # no choice, no time
        assert sealed_cols == {"id", "poll_id", "box"}  # no voter, no time, no clear choice
        for row in logged:
            assert (
                row.actor == "system"
                and row.payload.get("voter") is None
                and row.payload.get("choices") is None
            )

        result = (await mod.call("poll.close", {"poll_id": poll_id}))["result"]
        assert result["counts"] == [2, 1, 0] and result["cast"] == 3 and result["outcome"] == "accepted"

        web = await world.web("member1")
        try:
            r = await web.get(
                f"/meetings/{world.meeting_id}/polls/{poll_id}/votes.csv",
                headers={"Accept": "application/json"},
            )
            assert r.status_code == 403 and r.json()["error"]["code"] == "poll_secret"
            r = await web.get(f"/meetings/{world.meeting_id}/polls/{poll_id}/results.csv")
            assert r.status_code == 200
            for label in choices:
                assert world.users[label].last_name not in r.text
        finally:
            await web.aclose()
    finally:
        await close_all([mod, observer, *voters.values()])


async def test_a_secret_poll_cannot_allow_changing_a_vote(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod = await world.room("methodist")
    try:
        ack = await mod.call("poll.create", {**DECISION, "secret": True, "allow_change": True})
        assert ack["ok"] is False and ack["error"]["code"] == "poll_secret_change"
    finally:
        await close_all([mod])


async def test_closing_is_idempotent_across_concurrent_closers(server: LiveServer) -> None:
    """Two processes' timers (independent transactions, no shared in-process lock) close once."""
    world = await make_world(server, members=1)
    db = server.runtime.db
    async with db.transaction() as s:
        poll, _ = await create_poll(
            s,
            world.meeting_id,
            world.key("methodist"),
            True,
            PollDraft(question="Q?", kind="decision", closes_in_seconds=1),
        )
        poll_id = poll.id
    async with db.transaction() as s:
        opened, _ = await open_poll(s, world.meeting_id, poll_id, world.key("methodist"), True)
        opened.opened_at = utcnow() - timedelta(seconds=30)  # the deadline passed while nobody ran

    async def closer() -> int:
        async with db.transaction() as s:
            _, events = await close_poll(s, world.meeting_id, poll_id, "system", False, set(), automatic=True)
            return len(events)

    assert sorted(await asyncio.gather(closer(), closer(), closer())) == [0, 0, 1]
    async with db.read() as s:
        closed = list(
            await s.scalars(
                select(MeetingEvent).where(
                    MeetingEvent.meeting_id == world.meeting_id, MeetingEvent.type == "poll.closed"
                )
            )
        )
    assert len(closed) == 1 and closed[0].actor == "system" and closed[0].payload["automatic"] is True


async def test_the_domain_refuses_a_voter_who_is_not_present(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    db = server.runtime.db
    async with db.transaction() as s:
        poll, _ = await create_poll(
            s, world.meeting_id, world.key("methodist"), True, PollDraft(question="Q?", kind="decision")
        )
        await open_poll(s, world.meeting_id, poll.id, world.key("methodist"), True)
    with pytest.raises(AppError) as err:
        async with db.transaction() as s:
            await cast_vote(s, world.meeting_id, poll.id, world.key("member1"), False, [0])
    assert err.value.code == "poll_not_present"
    async with db.read() as s:
        assert await s.scalar(select(Ballot.id).where(Ballot.poll_id == poll.id)) is None


async def test_the_meeting_end_closes_its_open_polls(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    db = server.runtime.db
    chair = world.key("methodist")
    async with db.transaction() as s:
        ids = []
        for _ in range(2):
            poll, _ = await create_poll(
                s, world.meeting_id, chair, True, PollDraft(question="Q?", kind="decision")
            )
            ids.append(poll.id)
        await open_poll(s, world.meeting_id, ids[0], chair, True)  # ids[1] stays a draft
        await cast_vote(s, world.meeting_id, ids[0], world.key("member1"), True, [0])
    async with db.transaction() as s:
        events = await close_open_polls(s, world.meeting_id, {world.key("member1")})
    assert [(e.type, e.actor, e.payload["poll_id"]) for e in events] == [("poll.closed", "system", ids[0])]
    assert events[0].payload["result"]["counts"] == [1, 0, 0] and events[0].payload["result"]["present"] == 1
    async with db.transaction() as s:
        assert await close_open_polls(s, world.meeting_id) == []
