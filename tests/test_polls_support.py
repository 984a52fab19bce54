"""Shared helpers of the poll tests (no tests here): a meeting with people of every role, and
real python-socketio clients that join it with a session cookie."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from base64 import b64encode
from dataclasses import dataclass, field
from typing import Any

import itsdangerous
import socketio

from realtime.meeting.registry import room_state
from server.db.models import AdmissionPolicy, MeetingGuest, MeetingStatus, QuorumRule, Role, User
from server.sessions import SESSION_COOKIE
from tests.support.client import WebClient
from tests.support.factories import add_member, make_association, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for

# Meeting ids unique within the test process: the room service caches state by meeting id,
# and SQLite hands out the same ids again after the fixture empties the tables.
_MEETING_IDS = itertools.count(100_000 + secrets.randbelow(10_000) * 100)


def session_cookie(server: LiveServer, data: dict[str, Any]) -> str:
    """A session cookie exactly as Starlette's SessionMiddleware signs it (no login round trip)."""
    signer = itsdangerous.TimestampSigner(str(server.runtime.secret_key))
    return signer.sign(b64encode(json.dumps(data).encode())).decode()


def user_cookie(server: LiveServer, user: User) -> str:
    return session_cookie(server, {"uid": user.id, "sv": user.session_version})


@dataclass
class World:
    server: LiveServer
    meeting_id: int
    association_id: int
    users: dict[str, User] = field(default_factory=dict)  # by label
    guests: dict[str, int] = field(default_factory=dict)  # label -> MeetingGuest.id

    def key(self, label: str) -> str:
        if label in self.guests:
            return f"g:{self.guests[label]}"
        return f"u:{self.users[label].id}"

    def cookie(self, label: str) -> str:
        if label in self.guests:
            return session_cookie(
                self.server, {"guest": {"id": self.guests[label], "meeting_id": self.meeting_id}}
            )
        return user_cookie(self.server, self.users[label])

    async def web(self, label: str) -> WebClient:
        client = WebClient(base_url=self.server.url, follow_redirects=False, timeout=20)
        client.cookies.set(SESSION_COOKIE, self.cookie(label))
        return client

    async def room(self, label: str, *, join: bool = True, url: str | None = None) -> RoomClient:
        client = RoomClient(self, url)
        await client.connect(self.cookie(label))
        if join:
            ack = await client.call("join", {"meeting_id": self.meeting_id})
            assert ack["ok"] and ack["status"] == "in", ack
        return client


async def make_world(
    server: LiveServer,
    *,
    members: int = 3,
    guests: int = 1,
    quorum_rule: QuorumRule = QuorumRule.none,
    status: MeetingStatus = MeetingStatus.live,
) -> World:
    """methodist, mo_head, member1..N (members), admin and outsider (not members), guest1..M."""
    db = server.runtime.db
    tag = secrets.token_hex(3)
    assoc = await make_association(db, quorum_rule=quorum_rule)
    meeting = await make_meeting(
        db, assoc.id, id=next(_MEETING_IDS), status=status, admission=AdmissionPolicy.open
    )
    world = World(server, meeting.id, assoc.id)
    people: list[tuple[str, Role | None, bool]] = [
        ("methodist", Role.methodist, False),
        ("mo_head", Role.mo_head, False),
        *((f"member{i}", Role.member, False) for i in range(1, members + 1)),
        ("admin", None, True),
        ("outsider", None, False),
    ]
    for n, (label, role, admin) in enumerate(people):
        user = await make_user(
            db,
            f"{label}-{tag}@example.org",
            is_admin=admin,
            last_name=f"Фамилия{n:03d}",
            first_name="Анна",
            middle_name="Сергеевна",
            school="МБОУ «СОШ № 1»",
        )
        world.users[label] = user
        if role is not None:
            await add_member(db, assoc.id, user.id, role)
    async with db.transaction() as s:
        for i in range(1, guests + 1):
            guest = MeetingGuest(
                meeting_id=meeting.id,
                name=f"Гость Гостевой {i}",
                organisation="Лицей № 2",
                token_hash=secrets.token_hex(32),
            )
            s.add(guest)
            await s.flush()
            world.guests[f"guest{i}"] = guest.id
    return world


class RoomClient:
    """A real Socket.IO client (WebSocket transport) that records the events it receives."""

    def __init__(self, world: World, url: str | None = None) -> None:
        self.world = world
        self.url = url or world.server.url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.sio.on("event", self._on_event)

    async def _on_event(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    async def connect(self, cookie: str) -> None:
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            transports=["websocket"],
            socketio_path="socket.io",
            wait_timeout=10,
        )

    async def call(self, name: str, payload: Any = None) -> dict[str, Any]:
        result = await self.sio.call(name, payload if payload is not None else {}, timeout=20)
        assert isinstance(result, dict)
        return result

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    async def wait_event(self, event_type: str, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for e in self.of_type(event_type):
                if all(e["payload"].get(k) == v for k, v in match.items()):
                    return e
            return None

        return await wait_for(found, 15, what=f"{event_type} {match}")

    async def close(self) -> None:
        await self.sio.disconnect()


async def close_all(clients: list[RoomClient]) -> None:
    """Disconnect, then wait until the server has written everyone's departure (so that the
    next test's table truncation does not race this meeting's last transactions)."""
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    for world in {id(c.world): c.world for c in clients}.values():

        async def everyone_left(w: World = world) -> bool:
            state = await room_state(w.server.runtime, w.meeting_id)
            return not any(p["connected"] for p in state.participants.values())

        await wait_for(everyone_left, 15, what="every participant left")


DECISION = {"question": "Утвердить план работы СМО на год?", "kind": "decision"}


async def create_open(mod: RoomClient, payload: dict[str, Any] | None = None, *, open_it: bool = True) -> int:
    ack = await mod.call("poll.create", payload or DECISION)
    assert ack["ok"], ack
    if open_it:
        opened = await mod.call("poll.open", {"poll_id": ack["poll_id"]})
        assert opened["ok"], opened
    return int(ack["poll_id"])
