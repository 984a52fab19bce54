"""Each breakout group's room has its own chat and its own raised hands (docs/groups.md), as the
server delivers them: a group's message reaches those who have been in the group and the
moderators, never another group's connections, not in the join snapshot and not in a replay;
a hand belongs to the room it was raised in, moving to another room lowers it, and «Дать слово
следующему» takes the next hand of the moderator's own room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

PEOPLE = ("member", "teacher2", "mo_head", "teacher3", "guest")


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def enter(cast: Cast) -> tuple[RoomClient, dict[str, RoomClient]]:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    return host, {role: (await cast.joined(role))[0] for role in PEOPLE}


def texts(events: list[dict[str, Any]]) -> set[str]:
    return {e["payload"]["text"] for e in events if e["type"] == "chat.message"}


async def start(host: RoomClient, cast: Cast) -> list[int]:
    k = cast.key
    plan = [
        {"name": "Первая", "members": [k("member"), k("teacher2")]},
        {"name": "Вторая", "members": [k("mo_head"), k("teacher3")]},
    ]
    await host.ok("groups.start", {"groups": plan, "duration": 600})
    created = await host.wait_event(lambda e: e["type"] == "groups.created")
    return [g["id"] for g in created["payload"]["groups"]]


async def test_a_groups_chat_reaches_its_own_people_only(server: LiveServer, cast: Cast) -> None:
    host, people = await enter(cast)
    member, teacher2, mo_head, guest = (people[r] for r in ("member", "teacher2", "mo_head", "guest"))
    first, second = await start(host, cast)

    sent = await member.ok("chat.send", {"text": "Секрет первой группы"})
    reply = await mo_head.ok("chat.send", {"text": "Черновик второй группы"})
    main = await guest.ok("chat.send", {"text": "Вопрос из основной комнаты"})
    # Delivered: the group's people and the moderator get it...
    for client in (teacher2, host):
        await client.wait_event(lambda e: e["seq"] == sent["seq"])
    assert (await host.wait_event(lambda e: e["seq"] == reply["seq"]))["payload"]["group"] == second
    for client in (member, teacher2, mo_head):  # the main room's chat is everyone's
        await client.wait_event(lambda e: e["seq"] == main["seq"])
    # ...and nobody else: by the time a later event reached everyone, the message had not.
    fence = await host.ok("groups.broadcast", {"text": "Пять минут"})
    for client in (mo_head, people["teacher3"], guest):
        await client.wait_event(lambda e: e["seq"] == fence["seq"])
        assert "Секрет первой группы" not in texts(client.events)
    assert "Черновик второй группы" not in texts(member.events) | texts(guest.events)

    # A replay after a reconnect and the join snapshot follow the same rule.
    replayed = (await guest.ok("sync", {"last_seq": 0}))["events"]
    assert "Вопрос из основной комнаты" in texts(replayed)
    assert not texts(replayed) & {"Секрет первой группы", "Черновик второй группы"}
    assert "Секрет первой группы" in texts((await teacher2.ok("sync", {"last_seq": 0}))["events"])
    again, joined = await cast.joined("mo_head")
    snapshot = {m["payload"]["text"] for m in joined["state"]["chat"]}
    assert "Черновик второй группы" in snapshot and "Секрет первой группы" not in snapshot
    await again.close()

    # A person moved into the first group may read its chat from then on, and after the end.
    await host.ok("groups.move", {"participant": cast.key("guest"), "group": first})
    assert "Секрет первой группы" in texts((await guest.ok("sync", {"last_seq": 0}))["events"])
    await host.ok("groups.end")
    assert "Секрет первой группы" not in texts((await mo_head.ok("sync", {"last_seq": 0}))["events"])
    assert "Черновик второй группы" in texts((await host.ok("sync", {"last_seq": 0}))["events"])


async def test_a_hand_belongs_to_the_room_it_was_raised_in(server: LiveServer, cast: Cast) -> None:
    host, people = await enter(cast)
    member, teacher2, guest = people["member"], people["teacher2"], people["guest"]
    k = cast.key

    # Raised in the main room, then moved into a group: the hand goes down.
    await member.ok("hand.raise")
    await guest.ok("hand.raise")
    first, _second = await start(host, cast)
    lowered = await host.wait_event(lambda e: e["type"] == "hand.lowered")
    assert lowered["payload"]["participant"] == k("member")

    # In the group: the group's own queue; the main room's moderator gives the floor to the
    # next hand of the main room, not to a group's.
    await teacher2.ok("hand.raise")
    await host.wait_event(
        lambda e: e["type"] == "hand.raised" and e["payload"]["participant"] == k("teacher2")
    )
    await host.ok("floor.grant", {})
    granted = await host.wait_event(lambda e: e["type"] == "floor.granted")
    assert granted["payload"]["participant"] == k("guest")
    await host.ok("floor.end")
    assert await host.error("floor.grant", {}) == "hand_queue_empty"  # teacher2's is the group's

    # Visiting the group, the moderator's next hand is the group's.
    await host.ok("groups.visit", {"group": first})
    await host.ok("floor.grant", {})
    await host.wait_event(
        lambda e: e["type"] == "floor.granted" and e["payload"]["participant"] == k("teacher2")
    )
    await host.ok("floor.end")
    await host.ok("groups.leave")

    # The end of the groups lowers the hands raised in them.
    await member.ok("hand.raise")
    await host.wait_event(lambda e: e["type"] == "hand.raised" and e["payload"]["participant"] == k("member"))
    await host.ok("groups.end")
    ended = await host.wait_event(lambda e: e["type"] == "groups.ended")
    await host.wait_event(
        lambda e: (
            e["type"] == "hand.lowered"
            and e["payload"]["participant"] == k("member")
            and e["seq"] > ended["seq"]
        )
    )
    state = (await cast.joined("teacher3"))[1]["state"]
    assert state["hands"] == []
