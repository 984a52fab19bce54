"""The live room end to end on a real server: join, snapshot, chat, hands, agenda, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import socketio

from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_connect_without_identity_is_refused(server: LiveServer) -> None:
    for cookie in (None, "forged.cookie.value"):
        c = RoomClient(server.url, cookie)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await c.connect()
        assert c.connect_error["data"]["code"] == "unauthenticated", c.connect_error
        await c.close()


async def test_join_chat_and_late_join_snapshot(cast: Cast) -> None:
    host, ack = await cast.joined("methodist")
    assert ack["status"] == "in" and ack["moderator"] is True and ack["participant"] == cast.key("methodist")
    assert ack["state"]["meeting"]["status"] == "scheduled"
    assert cast.key("methodist") in ack["state"]["participants"]
    await host.ok("meeting.start")
    sent = await host.ok("chat.send", {"text": "Добрый день, коллеги!"})
    await host.wait_seq(sent["seq"])
    late, ack2 = await cast.joined("member")
    state = ack2["state"]
    assert ack2["moderator"] is False
    assert state["meeting"]["status"] == "live"
    assert [m["payload"]["text"] for m in state["chat"]] == ["Добрый день, коллеги!"]
    assert state["participants"][cast.key("member")]["connected"] is True
    assert ack2["events"] == []
    # the host sees the late joiner
    await host.wait_event(lambda e: e["type"] == "participant.joined" and e["actor"] == cast.key("member"))
    await late.close()
    await host.wait_event(lambda e: e["type"] == "participant.left")
    await host.close()


async def test_reconnect_gets_exactly_the_missed_events(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, ack = await cast.joined("member")
    seen = ack["state"]["last_seq"]
    await member.ok("chat.send", {"text": "до обрыва"})
    await member.wait_event(lambda e: e["payload"].get("text") == "до обрыва")
    seen = max(seen, *member.seqs())
    await member.close()  # the drop
    await host.wait_event(lambda e: e["type"] == "participant.left")
    posted = [(await host.ok("chat.send", {"text": f"пока вас не было {i}"}))["seq"] for i in range(3)]
    await host.ok("hand.raise")
    back = await cast.client("member").connect()
    ack = await back.ok("join", {"meeting_id": cast.meeting.id, "last_seq": seen})
    assert "state" not in ack
    got = ack["events"]
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seen + 1, seqs[-1] + 1)), seqs  # gap-free, in order, once
    texts = [e["payload"]["text"] for e in got if e["type"] == "chat.message"]
    assert texts == [f"пока вас не было {i}" for i in range(3)]
    assert set(posted) <= set(seqs)
    types = [e["type"] for e in got]
    assert types.count("participant.left") == 1 and types[-1] == "participant.joined"
    # and the explicit catch-up gives the same
    again = await back.ok("sync", {"last_seq": seen})
    assert again["events"] == got
    await back.close()
    await host.close()


async def test_two_tabs_count_once(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    tab1, _ = await cast.joined("member")
    tab2, ack = await cast.joined("member")
    assert ack["state"]["participants"][cast.key("member")]["connected"] is True
    await tab1.close()
    marker = await host.ok("chat.send", {"text": "маркер"})
    await host.wait_seq(marker["seq"])
    joined = [e for e in host.of_type("participant.joined") if e["actor"] == cast.key("member")]
    assert len(joined) == 1
    assert not host.of_type("participant.left")
    await tab2.close()
    await host.wait_event(lambda e: e["type"] == "participant.left", what="left after the last tab")
    assert len(host.of_type("participant.left")) == 1
    await host.close()


async def test_private_message_reaches_only_the_two(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    other, _ = await cast.joined("mo_head")
    secret = await member.ok("chat.send", {"text": "лично вам", "to": cast.key("methodist")})
    public = await member.ok("chat.send", {"text": "всем"})
    for c in (host, member, other):
        await c.wait_seq(public["seq"])
    assert secret["seq"] in host.seqs() and secret["seq"] in member.seqs()
    assert secret["seq"] not in other.seqs()
    # replay and snapshots apply the same filter
    for c, sees in ((other, False), (host, True)):
        replay = (await c.ok("sync", {"last_seq": 0}))["events"]
        assert (secret["seq"] in [e["seq"] for e in replay]) is sees
    late, ack = await cast.joined("admin")
    assert [m["payload"]["text"] for m in ack["state"]["chat"]] == ["всем"]
    for c in (host, member, other, late):
        await c.close()


async def test_chat_rate_limit(cast: Cast, server: LiveServer) -> None:
    member, _ = await cast.joined("member")
    limit = server.settings.chat_messages_per_10s
    codes = []
    # a fixed window: however the attempts straddle a window boundary, 2 * limit + 1 of them
    # in a row cannot all pass
    for i in range(2 * limit + 1):
        ack = await member.emit_ack("chat.send", {"text": f"сообщение {i}"})
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
        if not ack["ok"]:
            break
    assert codes[-1] == "rate_limited", codes
    assert codes.count("ok") <= 2 * limit
    await member.close()


async def test_waiting_room_admit_and_deny(cast: Cast, server: LiveServer) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.admission", {"admission": "guests"})
    guest = await cast.client("guest").connect()
    ack = await guest.ok("join", {"meeting_id": cast.meeting.id})
    assert ack["status"] == "waiting" and "state" not in ack
    assert await guest.error("chat.send", {"text": "можно войти?"}) == "not_joined"
    await host.wait_event(lambda e: e["type"] == "waiting.entered")
    # a member still enters directly under the "guests" policy
    member, ack = await cast.joined("member")
    assert ack["status"] == "in"
    await host.ok("waiting.admit", {"participant": cast.key("guest")})
    await wait_admission(guest, "in")
    ack = await guest.ok("join", {"meeting_id": cast.meeting.id})
    assert ack["status"] == "in" and ack["state"]["participants"][cast.key("guest")]["role"] == "guest"
    await guest.ok("chat.send", {"text": "спасибо"})
    # everyone waits under "everyone"; a denied person is told so
    await host.ok("meeting.admission", {"admission": "everyone"})
    head = await cast.client("mo_head").connect()
    assert (await head.ok("join", {"meeting_id": cast.meeting.id}))["status"] == "waiting"
    await host.ok("waiting.deny", {"participant": cast.key("mo_head")})
    await wait_admission(head, "denied")
    assert await host.error("waiting.admit", {"participant": cast.key("mo_head")}) == "not_waiting"
    for c in (host, guest, member, head):
        await c.close()


async def wait_admission(c: RoomClient, status: str) -> None:
    from tests.support.net import wait_for

    await wait_for(lambda: any(a["status"] == status for a in c.admissions), 10, what=f"admission {status}")


async def test_remove_and_readmit(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    await member.ok("hand.raise")
    await host.ok("participant.remove", {"participant": cast.key("member")})
    await wait_admission(member, "removed")
    assert await member.error("chat.send", {"text": "я ещё здесь?"}) in ("not_joined", "participant_removed")
    again = await cast.client("member").connect()
    assert await again.error("join", {"meeting_id": cast.meeting.id}) == "participant_removed"
    state = (await host.ok("sync", {"last_seq": 0}))["events"]
    types = [e["type"] for e in state]
    assert types[-3:] == ["hand.lowered", "participant.removed", "participant.left"]
    await host.ok("participant.readmit", {"participant": cast.key("member")})
    ack = await again.ok("join", {"meeting_id": cast.meeting.id})
    assert ack["status"] == "in" and ack["state"]["participants"][cast.key("member")]["removed"] is False
    # a methodist cannot be removed, not even by a co-moderator
    await host.ok("participant.promote", {"participant": cast.key("member")})
    assert await again.error("participant.remove", {"participant": cast.key("methodist")}) == "forbidden"
    for c in (host, member, again):
        await c.close()


async def test_locked_meeting_refuses_newcomers(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    await member.close()
    await host.ok("meeting.lock", {"locked": True})
    newcomer = await cast.client("mo_head").connect()
    assert await newcomer.error("join", {"meeting_id": cast.meeting.id}) == "meeting_locked"
    back, _ = await cast.joined("member")  # already admitted: may come back
    admin, ack2 = await cast.joined("admin")  # moderators always enter
    assert ack2["moderator"] is True
    for c in (host, newcomer, back, admin):
        await c.close()


async def test_agenda_hands_floor_and_end(cast: Cast) -> None:
    host, ack = await cast.joined("methodist")
    items = ack["state"]["agenda"]
    assert await host.error("agenda.start", {"item_id": items[0]["id"]}) == "meeting_not_live"
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    head, _ = await cast.joined("mo_head")
    await host.ok("agenda.start", {"item_id": items[0]["id"]})
    await head.ok("hand.raise")
    await member.ok("hand.raise")
    assert (await member.ok("hand.raise"))["seq"] is None  # idempotent
    await host.ok("floor.grant", {})  # the first in the queue
    await host.ok("floor.grant", {"participant": cast.key("member")})  # or anyone
    await host.ok("agenda.start", {"item_id": items[1]["id"]})  # ends the first item
    assert await member.error("agenda.end") == "forbidden"
    end = await host.ok("meeting.end")
    await member.wait_seq(end["seq"])
    types = [e["type"] for e in member.events]
    # ... then everyone still connected leaves with the meeting (reason meeting_ended).
    assert types[-6:] == ["agenda.item.ended", "floor.ended", "meeting.ended"] + ["participant.left"] * 3
    gone = {e["payload"]["participant"]: e["payload"]["reason"] for e in member.events[-3:]}
    assert gone == {cast.key(r): "meeting_ended" for r in ("methodist", "member", "mo_head")}
    floors = [
        (e["type"], e["payload"]["participant"]) for e in member.events if e["type"].startswith("floor.")
    ]
    assert floors == [
        ("floor.granted", cast.key("mo_head")),
        ("floor.ended", cast.key("mo_head")),
        ("floor.granted", cast.key("member")),
        ("floor.ended", cast.key("member")),
    ]
    for name, payload in (("chat.send", {"text": "после конца"}), ("hand.raise", {}), ("meeting.start", {})):
        c = host if name == "meeting.start" else member
        assert await c.error(name, payload) == "meeting_ended"
    late, ack = await cast.joined("admin")
    state = ack["state"]
    assert state["meeting"]["status"] == "ended" and state["current_item_id"] is None
    first, second = state["agenda"][0], state["agenda"][1]
    assert first["started_at"] and first["ended_at"] and second["ended_at"]
    assert first["spent_seconds"] >= 0
    for c in (host, member, head, late):
        await c.close()


async def test_a_vanished_connection_is_closed_by_the_sweep(cast: Cast, server: LiveServer) -> None:
    """After a crash the log may say someone is connected while no process holds their
    connection: two sweeps in a row record ``participant.left``."""
    from realtime.meeting.registry import room_service

    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    service = room_service(server.runtime)
    m = cast.meeting.id
    suspects = await service._sweep(m, set())
    assert suspects == set()  # everyone is really connected
    await service.presence.clear(m, cast.key("member"))  # as if its process had died
    suspects = await service._sweep(m, set())
    assert suspects == {cast.key("member")}
    assert not host.of_type("participant.left")
    await service._sweep(m, suspects)
    left = await host.wait_event(lambda e: e["type"] == "participant.left")
    assert left["payload"] == {"participant": cast.key("member"), "reason": "disconnect"}
    await member.close()


async def test_well_formed_nonsense_gets_typed_errors_and_changes_nothing(cast: Cast) -> None:
    host, _ack = await cast.joined("methodist")
    await host.ok("meeting.start")
    before = (await host.ok("sync", {"last_seq": 0}))["events"]
    ghost = "u:999999999"
    cases = [
        ("agenda.start", {"item_id": 2**31 - 1}, "agenda_item_unknown"),
        ("agenda.end", {}, "no_agenda_item"),
        ("chat.send", {"text": "ответ", "reply_to": 999999}, "message_unknown"),
        ("chat.send", {"text": "лично", "to": ghost}, "participant_unknown"),
        ("chat.send", {"text": "   "}, "validation_failed"),
        ("floor.grant", {}, "hand_queue_empty"),
        ("floor.grant", {"participant": ghost}, "participant_unknown"),
        ("floor.end", {}, "no_floor"),
        ("participant.remove", {"participant": ghost}, "participant_unknown"),
        ("participant.readmit", {"participant": cast.key("methodist")}, "not_removed"),
        ("participant.promote", {"participant": ghost}, "participant_unknown"),
        ("waiting.admit", {"participant": ghost}, "not_waiting"),
        ("meeting.start", {}, "meeting_already_live"),
        ("participant.remove", {"participant": cast.key("methodist")}, "forbidden"),
    ]
    for name, payload, code in cases:
        assert await host.error(name, payload) == code, (name, payload)
    other = await cast.client("member").connect()
    assert await other.error("join", {"meeting_id": 2**31 - 1}) == "not_found"
    assert await other.error("chat.send", {"text": "без входа"}) == "not_joined"
    outsider = await cast.client("outsider").connect()
    assert await outsider.error("join", {"meeting_id": cast.meeting.id}) == "forbidden"
    assert (await host.ok("sync", {"last_seq": 0}))["events"] == before
