"""Breakout groups' media with real aiortc peers over real Socket.IO (docs/groups.md): three
groups, each hears and sees only its own; the moderator's visit; the timer ends the groups and
everyone is back in the main room's media; a reconnect inside a group; the group rooms are
gone after every round."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtime.media.service import media_service
from tests.support.live import LiveServer
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

GROUPS = (("member", "teacher2"), ("mo_head", "teacher3"), ("teacher4", "guest"))
CAMERAS = ("member", "mo_head", "teacher4", "methodist")


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


class Person:
    """A browser stand-in: a room connection and one media connection, which stays the same
    when groups move the person (the server moves it between rooms and sends a new slot map)."""

    def __init__(self, role: str, key: str, client: RoomClient) -> None:
        self.role = role
        self.key = key
        self.client = client
        self.peer: ClientPeer | None = None
        self.slots: dict[str, Any] = {}
        self.offers = 0
        self._base: dict[str, int] = {}  # frames on a slot when it was given its current source
        self._slots_seen = False  # a media.slots arrived since the last offer was sent
        self.attach(client)

    def attach(self, client: RoomClient) -> None:
        self.client = client
        client.sio.on("media.slots", self._slots)

    async def _slots(self, data: dict[str, Any]) -> None:
        # Always the newest map: it may come before the offer's acknowledgement (a publisher
        # joined the room meanwhile), whose older map must not replace it then.
        self.use(data["slots"])
        self._slots_seen = True

    def use(self, slots: dict[str, Any]) -> None:
        """A new slot map: what a slot received before it carried its new source doesn't count."""
        received = self.peer.received if self.peer is not None else {}
        for mid, who in slots.items():
            if who != self.slots.get(mid):
                self._base[mid] = received[mid].frames if mid in received else 0
        self.slots = slots

    async def connect(self) -> None:
        if self.peer is not None:
            await self.peer.close()
        peer = self.peer = ClientPeer(audio_slots=3, video_slots=2)
        self.slots, self._base = {}, {}
        peer.publish(ToneTrack(), "mic")
        if self.role in CAMERAS:
            peer.publish(PatternTrack(), "camera")

        async def send(sdp: str, sources: dict[str, str]) -> str:
            self._slots_seen = False
            ack = await self.client.ok("media.offer", {"sdp": sdp, "type": "offer", "sources": sources})
            if peer is self.peer and not self._slots_seen:  # no newer map arrived meanwhile
                self.use(ack["slots"])
            return str(ack["sdp"])

        await peer.offer(send)
        self.offers += 1

    def hears(self) -> set[str]:
        """Whose audio arrives (frames on a slot the server says carries them)."""
        return self._arriving("mic")

    def sees(self) -> set[str]:
        return self._arriving("camera")

    def _arriving(self, source: str) -> set[str]:
        peer = self.peer
        if peer is None:
            return set()
        return {
            who["participant"]
            for mid, who in self.slots.items()
            if who
            and who["source"] == source
            and mid in peer.received
            and peer.received[mid].frames - self._base.get(mid, 0) > 3
        }

    def forwarded(self) -> set[str]:
        return {who["participant"] for who in self.slots.values() if who}

    async def close(self) -> None:
        if self.client.connected:
            await self.client.emit_ack("media.leave")
        if self.peer is not None:
            await self.peer.close()


def rooms(server: LiveServer, meeting_id: int) -> dict[Any, set[str]]:
    sfu = media_service(server.runtime).sfu
    return {key: set(room.peers) for key, room in sfu.rooms_of(meeting_id)}


async def test_three_groups_hear_and_see_only_their_own(server: LiveServer, cast: Cast, travel: Any) -> None:
    meeting = cast.meeting.id
    host_client, _ = await cast.joined("methodist")
    await host_client.ok("meeting.start")
    people: dict[str, Person] = {"methodist": Person("methodist", cast.key("methodist"), host_client)}
    for group in GROUPS:
        for role in group:
            people[role] = Person(role, cast.key(role), (await cast.joined(role))[0])
    everyone = list(people.values())
    try:
        await asyncio.gather(*(p.connect() for p in everyone))
        await wait_for(
            lambda: rooms(server, meeting) == {meeting: {p.key for p in everyone}}, 20, what="main room"
        )
        await wait_for(lambda: all(len(p.hears()) >= 2 for p in everyone), 20, what="main room audio")

        async def in_groups(round_: int, visiting: dict[int, str] | None = None) -> dict[Any, set[str]]:
            created = await host_client.wait_event(
                lambda e: e["type"] == "groups.created" and e["payload"]["round"] == round_
            )
            ids = [g["id"] for g in created["payload"]["groups"]]
            expected: dict[Any, set[str]] = {
                (meeting, gid): {cast.key(r) for r in group} for gid, group in zip(ids, GROUPS, strict=True)
            }
            host_room = meeting
            for gid, who in (visiting or {}).items():
                expected[(meeting, ids[gid])].add(who)
                host_room = (meeting, ids[gid])
            if host_room == meeting:
                expected[meeting] = {cast.key("methodist")}
            await wait_for(lambda: rooms(server, meeting) == expected, 25, what=f"group rooms {expected}")
            return expected

        # Round 1: three groups; everyone's media is moved into their group's room.
        plan = [
            {"name": f"Группа {i + 1}", "task": "Задание", "members": [cast.key(r) for r in g]}
            for i, g in enumerate(GROUPS)
        ]
        await host_client.ok("groups.start", {"groups": plan, "duration": 60})
        await in_groups(1)
        for group in GROUPS:
            mine = {cast.key(r) for r in group}
            for role in group:
                person = people[role]
                other = (mine - {person.key}).pop()
                # The new slot map follows the move: the group's own media only.
                await wait_for(
                    lambda p=person, o=other, g=mine: o in p.hears() and p.forwarded() <= g,
                    20,
                    what=f"{role} hears the group and nobody else",
                )
        # Cameras: the first of each group is seen by the second, and nobody else's camera.
        for first, second in GROUPS:
            await wait_for(
                lambda a=first, b=second: people[b].sees() == {cast.key(a)}, 20, what="group camera"
            )
        assert people["methodist"].forwarded() == set()  # alone in the main room

        # The moderator visits group 2: hears it and is heard there, nowhere else.
        created = host_client.of_type("groups.created")[-1]["payload"]["groups"]
        await host_client.ok("groups.visit", {"group": created[1]["id"]})
        await in_groups(1, {1: cast.key("methodist")})
        host = people["methodist"]
        await wait_for(
            lambda: {cast.key("mo_head"), cast.key("teacher3")} <= host.hears(), 20, what="visitor hears"
        )
        await wait_for(lambda: host.key in people["teacher3"].hears(), 20, what="group hears the visitor")
        for role in ("member", "teacher2", "teacher4", "guest"):
            assert host.key not in people[role].forwarded()
        await host_client.ok("groups.broadcast", {"text": "Осталось пять минут"})
        await people["guest"].client.wait_event(lambda e: e["type"] == "groups.broadcast")
        await host_client.ok("groups.leave")
        await in_groups(1)

        # The timer ends the groups (the clock travels past ends_at): everyone back in the main room.
        travel(61)
        await host_client.wait_event(lambda e: e["type"] == "groups.ended", timeout=15)
        await wait_for(
            lambda: rooms(server, meeting) == {meeting: {p.key for p in everyone}},
            25,
            what="back in the main room",
        )
        # Into the groups, the visit and back: each over the connection made at the start.
        assert [p.offers for p in everyone] == [1] * len(everyone)
        await wait_for(
            lambda: all(
                p.hears() - {cast.key(r) for g in GROUPS if p.role in g for r in g} for p in everyone
            ),
            20,
            what="everyone hears someone beyond their former group",
        )

        # Round 2 (random), with a reconnect inside a group: the new connection lands in the group.
        await host_client.ok("groups.start", {"groups": plan, "duration": 600})
        created2 = await host_client.wait_event(
            lambda e: e["type"] == "groups.created" and e["payload"]["round"] == 2
        )
        placed = {m: g["id"] for g in created2["payload"]["groups"] for m in g["members"]}
        await wait_for(
            lambda: all(
                p.key in rooms(server, meeting).get((meeting, placed[p.key]), set())
                for p in everyone
                if p.key in placed
            ),
            25,
            what="round 2 rooms",
        )
        person = people["teacher3"]
        await person.client.close()
        await person.close()
        person.peer = None
        client, joined = await cast.joined("teacher3")
        person.attach(client)
        assert joined["state"]["groups"]["status"] == "running"
        await person.connect()
        assert person.key in rooms(server, meeting)[(meeting, placed[person.key])]
        await host_client.ok("groups.end")
        await wait_for(
            lambda: rooms(server, meeting) == {meeting: {p.key for p in everyone}}, 25, what="back again"
        )
        # No group room is left over after the rounds.
        assert [k for k in media_service(server.runtime).sfu.rooms if not isinstance(k, int)] == []
    finally:
        await asyncio.gather(*(p.close() for p in everyone), return_exceptions=True)
    await wait_for(lambda: media_service(server.runtime).sfu.peer_count() == 0, 20, what="peers released")


async def test_many_rounds_leave_nothing_behind(server: LiveServer, cast: Cast) -> None:
    """Five rounds of groups started and ended one after another (as many as the moderator's
    rate limit allows in 10 s): the connections made at the start carry on, every group room is
    gone after each round, and the main room holds no state of anyone gone."""
    meeting = cast.meeting.id
    host_client, _ = await cast.joined("methodist")
    await host_client.ok("meeting.start")
    roles = ("methodist", "member", "teacher2", "mo_head")
    people = [Person("methodist", cast.key("methodist"), host_client)]
    people += [Person(r, cast.key(r), (await cast.joined(r))[0]) for r in roles[1:]]
    sfu = media_service(server.runtime).sfu
    everyone = {p.key for p in people}
    try:
        await asyncio.gather(*(p.connect() for p in people))
        await wait_for(lambda: rooms(server, meeting) == {meeting: everyone}, 20, what="main room")
        plan = [
            {"name": "А", "members": [cast.key("member"), cast.key("teacher2")]},
            {"name": "Б", "members": [cast.key("mo_head")]},
        ]
        for round_ in range(1, 6):
            await host_client.ok("groups.start", {"groups": plan, "duration": 600})
            ids = [
                g["id"]
                for g in (
                    await host_client.wait_event(
                        lambda e, r=round_: e["type"] == "groups.created" and e["payload"]["round"] == r
                    )
                )["payload"]["groups"]
            ]
            split = {
                meeting: {cast.key("methodist")},
                (meeting, ids[0]): {cast.key("member"), cast.key("teacher2")},
                (meeting, ids[1]): {cast.key("mo_head")},
            }
            await wait_for(lambda s=split: rooms(server, meeting) == s, 20, what=f"round {round_} rooms")
            await host_client.ok("groups.end")
            await wait_for(lambda: rooms(server, meeting) == {meeting: everyone}, 20, what=f"after {round_}")
        assert list(sfu.rooms) == [meeting]
        main = sfu.rooms[meeting]
        assert set(main._slot_maps) <= everyone and set(main._mics_sent) <= everyone
        assert len(main._tasks) <= len(everyone)  # ICE deadlines at most, no task per round
        assert [p.offers for p in people] == [1] * len(people)
        await wait_for(lambda: people[1].hears() >= {cast.key("mo_head")}, 20, what="the main room's audio")
    finally:
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
    await wait_for(lambda: sfu.peer_count() == 0, 20, what="peers released")
