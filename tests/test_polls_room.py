"""Polls and votes through the real server and real Socket.IO clients, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from server.db.models import Ballot, MeetingEvent, MeetingStatus, Poll, QuorumRule
from tests.support.live import LiveServer
from tests.test_polls_support import DECISION, RoomClient, World, close_all, create_open, make_world


async def ballots_in_db(world: World, poll_id: int) -> int:
    async with world.server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll_id)) or 0)


async def vote_events_in_log(world: World) -> int:
    async with world.server.runtime.db.read() as s:
        return int(
            await s.scalar(
                select(func.count(MeetingEvent.id)).where(
                    MeetingEvent.meeting_id == world.meeting_id, MeetingEvent.type == "vote.cast"
                )
            )
            or 0
        )


async def test_decision_poll_from_creation_to_frozen_result(server: LiveServer) -> None:
    world = await make_world(server, members=3, quorum_rule=QuorumRule.more_than_half)
    labels = ["methodist", "mo_head", "member1", "member2", "member3"]
    clients = {label: await world.room(label) for label in labels}
    try:
        mod = clients["methodist"]
        poll_id = await create_open(mod, {**DECISION, "decision_text": "Утвердить план."})
        created = await clients["member1"].wait_event("poll.created", poll_id=poll_id)
        assert created["payload"]["options"] == ["за", "против", "воздержались"]
        assert created["payload"]["decision_text"] == "Утвердить план."
        await clients["member1"].wait_event("poll.opened", poll_id=poll_id)

        votes = {"methodist": 0, "mo_head": 0, "member1": 0, "member2": 1, "member3": 2}
        for label, choice in votes.items():
            ack = await clients[label].call("vote.cast", {"poll_id": poll_id, "choices": [choice]})
            assert ack["ok"] and ack["already_voted"] is False, ack
        # Named poll: everyone sees who voted what.
        seen = await clients["member3"].wait_event("vote.cast", poll_id=poll_id, ballots=5)
        assert seen["payload"]["voter"] == seen["actor"]
        named = {
            e["payload"]["voter"]: e["payload"]["choices"] for e in clients["member3"].of_type("vote.cast")
        }
        assert named == {world.key(label): [c] for label, c in votes.items()}

        ack = await mod.call("poll.close", {"poll_id": poll_id})
        assert ack["ok"], ack
        expected = {
            "eligible": 5,
            "present": 5,
            "cast": 5,
            "counts": [3, 1, 1],
            "quorum": True,
            "outcome": "accepted",
            "unanimous": False,
        }
        assert ack["result"] == expected
        for client in clients.values():
            closed = await client.wait_event("poll.closed", poll_id=poll_id)
            assert closed["payload"]["result"] == expected and closed["payload"]["automatic"] is False
        # Closing again is harmless: same result, no second event.
        again = await mod.call("poll.close", {"poll_id": poll_id})
        assert again["ok"] and again["result"] == expected
        late = await world.room("member1", join=True)
        try:
            ack = await late.call("sync", {"last_seq": 0})
            assert [e["type"] for e in ack["events"]].count("poll.closed") == 1
        finally:
            await late.close()
    finally:
        await close_all(list(clients.values()))


async def test_present_and_quorum_are_counted_at_the_close(server: LiveServer) -> None:
    world = await make_world(server, members=4, quorum_rule=QuorumRule.two_thirds)
    mod = await world.room("methodist")
    voters = [await world.room(f"member{i}") for i in (1, 2)]
    try:
        poll_id = await create_open(mod, {**DECISION, "rule": "majority_present"})
        for v in voters:
            assert (await v.call("vote.cast", {"poll_id": poll_id, "choices": [0]}))["ok"]
        ack = await mod.call("poll.close", {"poll_id": poll_id})
        # 6 members (methodist, mo_head, 4 members); 3 present: no two-thirds quorum.
        assert ack["result"]["eligible"] == 6 and ack["result"]["present"] == 3
        assert ack["result"]["quorum"] is False and ack["result"]["outcome"] == "rejected"
    finally:
        await close_all([mod, *voters])


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_concurrent_and_duplicated_votes_give_exact_tallies(server: LiveServer, secret: bool) -> None:
    world = await make_world(server, members=14, guests=0)
    mod = await world.room("methodist")
    voters = await asyncio.gather(*(world.room(f"member{i}") for i in range(1, 15)))
    observer = voters[0]
    try:
        poll_id = await create_open(mod, {**DECISION, "secret": secret})
        choice = {i: i % 3 for i in range(len(voters))}

        async def vote_twice(i: int, client: RoomClient) -> list[dict[str, Any]]:
            payload = {"poll_id": poll_id, "choices": [choice[i]]}
            return list(
                await asyncio.gather(client.call("vote.cast", payload), client.call("vote.cast", payload))
            )

        acks = await asyncio.gather(*(vote_twice(i, c) for i, c in enumerate(voters)))
        for pair in acks:
            assert all(a["ok"] for a in pair), pair
            assert sorted(a["already_voted"] for a in pair) == [False, True]
        await observer.wait_event("vote.cast", poll_id=poll_id, ballots=len(voters))
        assert await vote_events_in_log(world) == len(voters)
        ballots = sorted(e["payload"]["ballots"] for e in observer.of_type("vote.cast"))
        assert ballots == list(range(1, len(voters) + 1))
        assert await ballots_in_db(world, poll_id) == (0 if secret else len(voters))

        result = (await mod.call("poll.close", {"poll_id": poll_id}))["result"]
        expected = [sum(1 for c in choice.values() if c == option) for option in range(3)]
        assert result["counts"] == expected and result["cast"] == len(voters)
    finally:
        await close_all([mod, *voters])


async def test_retry_is_idempotent_and_a_change_needs_allow_change(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        fixed = await create_open(mod)
        first = await voter.call("vote.cast", {"poll_id": fixed, "choices": [0]})
        retry = await voter.call("vote.cast", {"poll_id": fixed, "choices": [0]})
        assert first == {"ok": True, "ballots": 1, "already_voted": False}
        assert retry == {"ok": True, "ballots": 1, "already_voted": True}
        change = await voter.call("vote.cast", {"poll_id": fixed, "choices": [1]})
        assert change["ok"] is False and change["error"]["code"] == "vote_already_cast"
        assert (await mod.call("poll.close", {"poll_id": fixed}))["result"]["counts"] == [1, 0, 0]

        flexible = await create_open(mod, {**DECISION, "allow_change": True})
        assert (await voter.call("vote.cast", {"poll_id": flexible, "choices": [0]}))["ok"]
        changed = await voter.call("vote.cast", {"poll_id": flexible, "choices": [2]})
        assert changed == {"ok": True, "ballots": 1, "already_voted": False}
        event = await voter.wait_event("vote.cast", poll_id=flexible, choices=[2])
        assert event["payload"]["ballots"] == 1
        result = (await mod.call("poll.close", {"poll_id": flexible}))["result"]
        assert result["counts"] == [0, 0, 1] and result["cast"] == 1
        assert await ballots_in_db(world, flexible) == 1
    finally:
        await close_all([mod, voter])


async def test_multiple_choice_poll_counts_every_option(server: LiveServer) -> None:
    world = await make_world(server, members=3)
    mod = await world.room("methodist")
    voters = [await world.room(f"member{i}") for i in (1, 2, 3)]
    try:
        poll_id = await create_open(
            mod,
            {"question": "Темы семинаров", "kind": "multiple", "options": ["ФГОС", "ВПР", "ОГЭ", "ЕГЭ"]},
        )
        for v, choices in zip(voters, ([0, 1], [1, 3], [1]), strict=True):
            assert (await v.call("vote.cast", {"poll_id": poll_id, "choices": choices}))["ok"]
        result = (await mod.call("poll.close", {"poll_id": poll_id}))["result"]
        assert result["counts"] == [1, 3, 0, 1] and result["cast"] == 3 and result["outcome"] is None
    finally:
        await close_all([mod, *voters])


async def test_guests_vote_only_when_the_poll_allows_it(server: LiveServer) -> None:
    world = await make_world(server, members=1, guests=1)
    mod, guest, admin = await world.room("methodist"), await world.room("guest1"), await world.room("admin")
    try:
        closed_to_guests = await create_open(mod)
        ack = await guest.call("vote.cast", {"poll_id": closed_to_guests, "choices": [0]})
        assert ack["error"]["code"] == "poll_guests_excluded"
        ack = await admin.call("vote.cast", {"poll_id": closed_to_guests, "choices": [0]})
        assert ack["error"]["code"] == "poll_not_eligible"  # an administrator is not a member

        open_to_guests = await create_open(mod, {**DECISION, "guests_vote": True})
        assert (await guest.call("vote.cast", {"poll_id": open_to_guests, "choices": [1]}))["ok"]
        result = (await mod.call("poll.close", {"poll_id": open_to_guests}))["result"]
        # eligible: methodist, mo_head, member1 + the guest; present: methodist + guest.
        assert result["eligible"] == 4 and result["present"] == 2 and result["counts"] == [0, 1, 0]
    finally:
        await close_all([mod, guest, admin])


async def test_only_those_present_vote(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod = await world.room("methodist")
    absent = await world.room("member1", join=False)  # connected, never entered the room
    leaver = await world.room("mo_head")
    try:
        poll_id = await create_open(mod)
        ack = await absent.call("vote.cast", {"poll_id": poll_id, "choices": [0]})
        assert ack["ok"] is False and ack["error"]["code"] == "not_joined"
        assert (await leaver.call("leave"))["ok"]
        ack = await leaver.call("vote.cast", {"poll_id": poll_id, "choices": [0]})
        assert ack["ok"] is False
        assert await vote_events_in_log(world) == 0
    finally:
        await close_all([mod, absent, leaver])


async def test_poll_closes_automatically_when_its_time_is_up(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        poll_id = await create_open(mod, {**DECISION, "closes_in_seconds": 1})
        assert (await voter.call("vote.cast", {"poll_id": poll_id, "choices": [0]}))["ok"]
        closed = await voter.wait_event("poll.closed", poll_id=poll_id)
        assert closed["actor"] == "system" and closed["payload"]["automatic"] is True
        assert closed["payload"]["result"]["counts"] == [1, 0, 0]
        late = await voter.call("vote.cast", {"poll_id": poll_id, "choices": [1]})
        assert late["error"]["code"] == "poll_closed"
        async with server.runtime.db.read() as s:
            poll = await s.get(Poll, poll_id)
            assert poll is not None and poll.status == "closed" and poll.result is not None
    finally:
        await close_all([mod, voter])


ROLES = ["guest1", "member1", "mo_head", "methodist", "admin"]
MODERATORS = {"methodist", "admin"}
VOTE_ERRORS = {"guest1": "poll_guests_excluded", "admin": "poll_not_eligible"}


async def test_role_by_action_matrix(server: LiveServer) -> None:
    world = await make_world(server, members=1, guests=1)
    clients = {label: await world.room(label) for label in ROLES}
    mod = clients["methodist"]
    try:
        for label, client in clients.items():
            allowed = label in MODERATORS
            created = await client.call("poll.create", DECISION)
            assert created["ok"] is allowed, (label, created)
            draft = created["poll_id"] if allowed else await create_open(mod, open_it=False)
            opened = await client.call("poll.open", {"poll_id": draft})
            assert opened["ok"] is allowed, (label, opened)
            if not allowed:
                assert opened["error"]["code"] == "forbidden"
                assert (await mod.call("poll.open", {"poll_id": draft}))["ok"]
            vote = await client.call("vote.cast", {"poll_id": draft, "choices": [0]})
            if label in VOTE_ERRORS:
                assert vote["ok"] is False and vote["error"]["code"] == VOTE_ERRORS[label], (label, vote)
            else:
                assert vote["ok"] is True, (label, vote)
            closed = await client.call("poll.close", {"poll_id": draft})
            assert closed["ok"] is allowed, (label, closed)
            if not allowed:
                assert closed["error"]["code"] == "forbidden"
                assert created["error"]["code"] == "forbidden"
    finally:
        await close_all(list(clients.values()))


async def test_bad_input_gets_a_typed_error_and_changes_nothing(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        single = await create_open(mod, {"question": "Где?", "kind": "single", "options": ["Здесь", "Там"]})
        draft = await create_open(mod, open_it=False)
        closed = await create_open(mod)
        assert (await mod.call("poll.close", {"poll_id": closed}))["ok"]
        async with server.runtime.db.read() as s:
            seq_before = await s.scalar(select(func.max(MeetingEvent.seq)))
        bad_votes: list[tuple[Any, str]] = [
            ({"poll_id": 999999, "choices": [0]}, "poll_not_found"),
            ({"poll_id": single, "choices": [2]}, "poll_bad_choice"),
            ({"poll_id": single, "choices": [-1]}, "poll_bad_choice"),
            ({"poll_id": single, "choices": [0, 0]}, "poll_bad_choice"),
            ({"poll_id": single, "choices": []}, "validation_failed"),
            ({"poll_id": single, "choices": [0, 1]}, "poll_single_choice"),
            ({"poll_id": single}, "validation_failed"),
            ({"poll_id": str(single), "choices": [0]}, "validation_failed"),
            ({"poll_id": single, "choices": ["0"]}, "validation_failed"),
            ({"poll_id": single, "choices": [0], "voter": "u:1"}, "validation_failed"),
            ({"poll_id": 2**40, "choices": [0]}, "validation_failed"),
            ({"poll_id": single, "choices": [2**70]}, "poll_bad_choice"),
            ({"poll_id": closed, "choices": [0]}, "poll_closed"),
            ({"poll_id": draft, "choices": [0]}, "poll_not_open"),
            ("vote", "validation_failed"),
        ]
        for payload, code in bad_votes:
            ack = await voter.call("vote.cast", payload)
            assert ack["ok"] is False and ack["error"]["code"] == code, (payload, ack)
            assert ack["error"]["message_ru"] and ack["error"]["message_en"]
        bad_polls: list[tuple[dict[str, Any], str]] = [
            ({"question": "Q", "kind": "single", "options": ["один"]}, "poll_options_invalid"),
            ({"question": "Q", "kind": "single", "options": ["да", "Да"]}, "poll_options_invalid"),
            ({"question": "Q", "kind": "single"}, "poll_options_invalid"),
            ({"question": " ", "kind": "decision"}, "validation_failed"),
            ({"question": "Q", "kind": "ranked"}, "validation_failed"),
            ({**DECISION, "rule": "unanimous"}, "validation_failed"),
            ({**DECISION, "closes_in_seconds": 0}, "validation_failed"),
            ({**DECISION, "secret": True, "allow_change": True}, "poll_secret_change"),
            ({**DECISION, "agenda_item_id": 999999}, "agenda_item_not_found"),
            ({**DECISION, "options": ["x"] * 21}, "validation_failed"),
            ({**DECISION, "extra": 1}, "validation_failed"),
            ({**DECISION, "question": "nul\x00"}, "validation_failed"),
            ({**DECISION, "agenda_item_id": 2**40}, "validation_failed"),
            ({**DECISION, "secret": "yes"}, "validation_failed"),
        ]
        for payload, code in bad_polls:
            ack = await mod.call("poll.create", payload)
            assert ack["ok"] is False and ack["error"]["code"] == code, (payload, ack)
        for name, payload, code in [
            ("poll.open", {"poll_id": 999999}, "poll_not_found"),
            ("poll.open", {"poll_id": closed}, "poll_closed"),
            ("poll.close", {"poll_id": draft}, "poll_not_open"),
            ("poll.close", {"poll_id": "x"}, "validation_failed"),
        ]:
            ack = await mod.call(name, payload)
            assert ack["ok"] is False and ack["error"]["code"] == code, (name, payload, ack)
        async with server.runtime.db.read() as s:
            assert await s.scalar(select(func.max(MeetingEvent.seq))) == seq_before
            assert await s.scalar(select(func.count(Ballot.id))) == 0
        # The connection still works.
        assert (await voter.call("vote.cast", {"poll_id": single, "choices": [1]}))["ok"]
    finally:
        await close_all([mod, voter])


async def test_a_promoted_co_moderator_runs_polls_and_drafts_wait_for_the_start(server: LiveServer) -> None:
    world = await make_world(server, members=1, status=MeetingStatus.scheduled)
    mod, member = await world.room("methodist"), await world.room("member1")
    try:
        draft = await create_open(mod, open_it=False)  # prepared before the meeting
        ack = await mod.call("poll.open", {"poll_id": draft})
        assert ack["ok"] is False and ack["error"]["code"] == "meeting_not_live"
        assert (await member.call("poll.create", DECISION))["error"]["code"] == "forbidden"
        assert (await mod.call("participant.promote", {"participant": world.key("member1")}))["ok"]
        await member.wait_event("participant.promoted", participant=world.key("member1"))
        assert (await member.call("poll.create", DECISION))["ok"]
        assert (await mod.call("meeting.start"))["ok"]
        assert (await member.call("poll.open", {"poll_id": draft}))["ok"]
        assert (await member.call("vote.cast", {"poll_id": draft, "choices": [0]}))["ok"]
        assert (await member.call("poll.close", {"poll_id": draft}))["result"]["counts"] == [1, 0, 0]
    finally:
        await close_all([mod, member])
