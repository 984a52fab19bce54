"""Breakout groups over real Socket.IO clients (docs/groups.md): the moderator's actions, the
checks and typed errors, group chat, reconnecting inside a group, the durable timer (the clock
travels forward), each group's document captured at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from realtime.meeting.registry import all_handlers
from server.db.models import OutboxMessage
from tests.support.doc_peer import DocPeer
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import ROLES, Cast, seed_cast
from tests.support.sio import RoomClient

PEOPLE = ("member", "teacher2", "mo_head", "teacher3", "teacher4", "guest")


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def _sent(server: LiveServer, count: int) -> bool:
    async with server.runtime.db.read() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "groups.end")))
    return sum(1 for r in rows if r.status == "sent") >= count


def plan(cast: Cast) -> list[dict[str, Any]]:
    k = cast.key
    return [
        {"name": "Группа 1", "task": "Составить кейс урока", "members": [k("member"), k("teacher2")]},
        {"name": "Практики", "task": "Разобрать задачу ОГЭ", "members": [k("mo_head"), k("teacher3")]},
        {"name": "", "task": "", "members": [k("teacher4"), k("guest")]},
    ]


async def enter(cast: Cast) -> tuple[RoomClient, dict[str, RoomClient]]:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    people = {role: (await cast.joined(role))[0] for role in PEOPLE}
    return host, people


async def test_groups_actions_checks_chat_and_reconnect(server: LiveServer, cast: Cast) -> None:
    host, people = await enter(cast)
    member, guest = people["member"], people["guest"]
    k = cast.key

    # Only moderators run groups; bad input is refused with a typed error and changes nothing.
    assert await member.error("groups.start", {"groups": plan(cast), "duration": 600}) == "forbidden"
    assert await guest.error("groups.end") == "forbidden"
    assert await host.error("groups.start", {"groups": plan(cast), "duration": 30}) == "groups_bad_duration"
    assert await host.error("groups.start", {"groups": plan(cast), "duration": "600"}) == "validation_failed"
    assert await host.error("groups.start", {"groups": [], "duration": 600}) == "validation_failed"
    assert (
        await host.error("groups.start", {"groups": plan(cast), "duration": 600, "evil": True})
        == "validation_failed"
    )
    unknown = [{"name": "X", "members": ["u:999999"]}]
    assert await host.error("groups.start", {"groups": unknown, "duration": 600}) == "participant_unknown"
    twice = [{"members": [k("member")]}, {"members": [k("member")]}]
    assert await host.error("groups.start", {"groups": twice, "duration": 600}) == "group_member_twice"
    assert await host.error("groups.move", {"participant": k("member"), "group": 1}) == "groups_not_running"
    assert await member.error("groups.call_moderator") == "groups_not_running"
    assert not any(e["type"].startswith("groups.") for e in host.events)
    # A removed person may not be put in a group.
    outsider_like = people["teacher4"]
    await host.ok("participant.remove", {"participant": k("teacher4")})
    refused = [{"members": [k("teacher4")]}]
    assert await host.error("groups.start", {"groups": refused, "duration": 600}) == "group_member_forbidden"
    await host.ok("participant.readmit", {"participant": k("teacher4")})
    await outsider_like.close()
    people["teacher4"] = (await cast.joined("teacher4"))[0]

    ack = await host.ok("groups.start", {"groups": plan(cast), "duration": 600})
    created = await member.wait_event(lambda e: e["type"] == "groups.created")
    started = await member.wait_event(lambda e: e["type"] == "groups.started")
    assert started["seq"] == ack["seq"] == created["seq"] + 1
    groups = created["payload"]["groups"]
    assert [g["name"] for g in groups] == ["Группа 1", "Практики", "Группа 3"]
    assert [g["members"] for g in groups] == [p["members"] for p in plan(cast)]
    ids = [g["id"] for g in groups]
    assert await host.error("groups.start", {"groups": plan(cast), "duration": 600}) == "groups_running"

    # Everyone knows their room; each group has its document «Результаты группы N».
    assert (await member.ok("groups.state"))["room"] == ids[0]
    assert (await people["mo_head"].ok("groups.state"))["room"] == ids[1]
    assert (await guest.ok("groups.state"))["room"] == ids[2]
    assert (await host.ok("groups.state"))["room"] is None
    docs = {d["id"]: d for d in (await host.ok("doc.list"))["documents"]}
    assert docs[groups[1]["doc_id"]]["title"] == "Результаты группы 2: Практики"
    assert docs[groups[0]["doc_id"]]["editors"] == sorted(plan(cast)[0]["members"])

    # Group chat carries the group; the main room's chat does not.
    sent = await member.ok("chat.send", {"text": "Начнём с цели урока"})
    message = await host.wait_event(lambda e: e["seq"] == sent["seq"])
    assert message["payload"]["group"] == ids[0]
    sent = await host.ok("chat.send", {"text": "Коллеги, у вас 10 минут"})
    assert (await member.wait_event(lambda e: e["seq"] == sent["seq"]))["payload"]["group"] is None

    # Broadcast, visit and leave, a call, a move, an extension.
    assert await member.error("groups.broadcast", {"text": "x"}) == "forbidden"
    await host.ok("groups.broadcast", {"text": "Осталось пять минут"})
    await guest.wait_event(
        lambda e: e["type"] == "groups.broadcast" and e["payload"]["text"] == "Осталось пять минут"
    )
    assert await host.error("groups.visit", {"group": 999}) == "group_unknown"
    await host.ok("groups.visit", {"group": ids[1]})
    assert (await host.ok("groups.state"))["room"] == ids[1]
    await host.ok("groups.leave")
    assert (await host.ok("groups.state"))["room"] is None
    await member.ok("groups.call_moderator")
    call = await host.wait_event(lambda e: e["type"] == "groups.call_moderator")
    assert call["payload"]["group"] == ids[0] and call["actor"] == k("member")
    assert (await host.ok("groups.state"))["groups"]["calls"] == {str(ids[0]): call["at"]}
    assert (
        await host.error("groups.move", {"participant": "u:999999", "group": ids[2]}) == "participant_unknown"
    )
    assert await host.error("groups.move", {"participant": k("teacher2"), "group": 999}) == "group_unknown"
    await host.ok("groups.move", {"participant": k("teacher2"), "group": ids[2]})
    assert (await people["teacher2"].ok("groups.state"))["room"] == ids[2]
    docs = {d["id"]: d for d in (await host.ok("doc.list"))["documents"]}
    assert k("teacher2") in docs[groups[2]["doc_id"]]["editors"]
    assert k("teacher2") not in docs[groups[0]["doc_id"]]["editors"]
    assert await host.error("groups.extend", {"seconds": 10}) == "groups_bad_duration"
    assert await host.error("groups.extend", {"seconds": 5 * 3600}) == "groups_bad_duration"
    before = (await host.ok("groups.state"))["groups"]["ends_at"]
    await host.ok("groups.extend", {"seconds": 300})
    after = (await host.ok("groups.state"))["groups"]["ends_at"]
    assert after > before

    # Reconnecting puts you back in your group: the snapshot and the room say so.
    await member.close()
    again, joined = await cast.joined("member")
    snapshot = joined["state"]["groups"]
    assert snapshot["status"] == "running"
    assert k("member") in snapshot["groups"][0]["members"]
    assert (await again.ok("groups.state"))["room"] == ids[0]

    # The moderator ends the groups: everyone is back in the main room.
    assert await again.error("groups.end") == "forbidden"
    await host.ok("groups.end")
    ended = await again.wait_event(lambda e: e["type"] == "groups.ended")
    assert ended["payload"] == {"round": 1, "reason": "moderator"}
    assert (await again.ok("groups.state"))["room"] is None
    assert await host.error("groups.end") == "groups_not_running"
    # A second round numbers its groups on.
    await host.ok("groups.start", {"groups": plan(cast)[:2], "duration": 120, "random": True})
    second = await host.wait_event(lambda e: e["type"] == "groups.created" and e["payload"]["round"] == 2)
    assert [g["id"] for g in second["payload"]["groups"]] == [ids[-1] + 1, ids[-1] + 2]
    spread = [m for g in second["payload"]["groups"] for m in g["members"]]
    assert sorted(spread) == sorted(k(r) for r in PEOPLE) and k("methodist") not in spread
    await host.ok("groups.end")


async def test_the_timer_ends_the_groups_and_captures_their_documents(
    server: LiveServer, cast: Cast, travel: Any
) -> None:
    host, people = await enter(cast)
    await host.ok("groups.start", {"groups": plan(cast), "duration": 60})
    created = await host.wait_event(lambda e: e["type"] == "groups.created")
    groups = created["payload"]["groups"]
    # Each group writes its results in its own document (its members may, others may not).
    writer = DocPeer(people["mo_head"], groups[1]["doc_id"])
    await writer.open()
    ack = await writer.add_paragraph("Решение задачи 21 разобрано")
    assert ack["ok"] is True, ack
    stranger = DocPeer(people["member"], groups[1]["doc_id"])
    await stranger.open()
    assert (await stranger.add_paragraph("чужая правка"))["ok"] is False
    # Extended once: the first deadline's job finds the round still running and does nothing.
    await host.ok("groups.extend", {"seconds": 60})
    async with server.runtime.db.read() as s:
        jobs = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "groups.end")))
    assert len(jobs) == 2
    travel(65)
    # The first deadline has passed: its job ran and did nothing (still running).
    await wait_for(lambda: _sent(server, 1), 15, what="the first deadline's job")
    assert (await host.ok("groups.state"))["groups"]["status"] == "running"
    travel(60)
    ended = await host.wait_event(lambda e: e["type"] == "groups.ended", timeout=15)
    assert ended["payload"] == {"round": 1, "reason": "timer"} and ended["actor"] == "system"
    snapshot = await host.wait_event(
        lambda e: e["type"] == "doc.snapshot" and e["payload"]["doc_id"] == groups[1]["doc_id"]
    )
    assert snapshot["payload"]["reason"] == "groups_ended"
    assert "Решение задачи 21 разобрано" in snapshot["payload"]["text"]
    assert snapshot["seq"] > ended["seq"]
    assert (await people["mo_head"].ok("groups.state"))["room"] is None
    # Exactly one end, whatever ran twice.
    assert len(host.of_type("groups.ended")) == 1


@pytest.mark.parametrize("role", ROLES)
async def test_groups_role_matrix(server: LiveServer, cast: Cast, role: str) -> None:
    """Every groups.* message for a guest, a member, a school-MO head, a methodist and an
    administrator: the moderator's are refused with ``forbidden`` for the first three."""
    host, _ = await cast.joined("methodist" if role != "methodist" else "admin")
    await host.ok("meeting.start")
    actor, _ = await cast.joined(role)
    teacher, _ = await cast.joined("teacher2")
    moderator = role in ("methodist", "admin")
    seen: set[str] = set()

    async def send(name: str, payload: dict[str, Any] | None = None) -> bool:
        seen.add(name)
        ack = await actor.emit_ack(name, payload or {})
        restricted = all_handlers()[name].moderator
        expected = "forbidden" if restricted and not moderator else "ok"
        outcome = "ok" if ack["ok"] else ack["error"]["code"]
        assert outcome == expected, (name, ack)
        return bool(ack["ok"])

    members = [cast.key("teacher2")] + ([] if moderator else [cast.key(role)])
    plan = [{"name": "Первая", "members": members}, {"name": "Вторая", "members": []}]
    if not await send("groups.start", {"groups": plan, "duration": 300}):
        await host.ok("groups.start", {"groups": plan, "duration": 300})
    ids = [g["id"] for g in (await host.ok("groups.state"))["groups"]["groups"]]
    await send("groups.state")
    await send("groups.broadcast", {"text": "Пять минут"})
    await send("groups.extend", {"seconds": 120})
    await send("groups.move", {"participant": cast.key("teacher2"), "group": ids[1]})
    await send("groups.visit", {"group": ids[0]})
    await send("groups.leave")
    if moderator:
        seen.add("groups.call_moderator")
        assert await actor.error("groups.call_moderator") == "group_none"
        await teacher.ok("groups.call_moderator")
    else:
        await send("groups.call_moderator")
    await send("groups.end")
    assert seen == {name for name in all_handlers() if name.startswith("groups.")}
