"""One association with a person of every role and a meeting: the room tests' cast."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from server.db.engine import Database
from server.db.models import Meeting, MeetingGuest, Role
from tests.support.factories import add_member, make_association, make_meeting, make_user
from tests.support.net import wait_for
from tests.support.sio import RoomClient, guest_cookie, user_cookie

ROLES = ("guest", "member", "mo_head", "methodist", "admin")


@dataclass
class Cast:
    url: str
    secret: str
    meeting: Meeting
    ids: dict[str, int]  # role -> user id (guest -> guest id), plus "outsider"
    clients: list[RoomClient] = field(default_factory=list)

    def key(self, role: str) -> str:
        return f"g:{self.ids[role]}" if role == "guest" else f"u:{self.ids[role]}"

    def cookie(self, role: str) -> str:
        if role == "guest":
            return guest_cookie(self.secret, self.ids["guest"], self.meeting.id)
        return user_cookie(self.secret, self.ids[role])

    def client(self, role: str, url: str | None = None) -> RoomClient:
        c = RoomClient(url or self.url, self.cookie(role))
        self.clients.append(c)
        return c

    async def close_all(self, sio: Any = None) -> None:
        """Close every client; with the server's ``sio``, wait until it has seen them go
        (the next test's database reset must not race a disconnect's transaction)."""
        for c in self.clients:
            await c.close()
        if sio is not None:
            await wait_for(lambda: not list(sio.manager.get_participants("/", None)), 15, what="disconnects")

    async def joined(
        self, role: str, url: str | None = None, **join: Any
    ) -> tuple[RoomClient, dict[str, Any]]:
        c = await self.client(role, url).connect()
        ack = await c.ok("join", {"meeting_id": self.meeting.id, **join})
        return c, ack


async def seed_cast(db: Database, url: str, secret: str, tag: str = "", **meeting_fields: Any) -> Cast:
    tag = tag or secrets.token_hex(3)
    association = await make_association(db, name=f"СМО {tag}")
    ids: dict[str, int] = {}
    names = {
        "member": ("Петрова", "Анна"),
        "mo_head": ("Сидоров", "Олег"),
        "methodist": ("Иванова", "Мария"),
        "admin": ("Админов", "Павел"),
        "outsider": ("Чужой", "Иван"),
        "teacher2": ("Кузнецова", "Елена"),
        "teacher3": ("Смирнов", "Антон"),
        "teacher4": ("Попова", "Ольга"),
    }
    for role, (last, first) in names.items():
        user = await make_user(
            db, f"{role}-{tag}@example.org", is_admin=role == "admin", last_name=last, first_name=first
        )
        ids[role] = user.id
        if role in ("member", "mo_head", "methodist"):
            await add_member(db, association.id, user.id, Role(role))
        elif role.startswith("teacher"):
            await add_member(db, association.id, user.id, Role.member)
    meeting_fields.setdefault("admission", "open")
    meeting = await make_meeting(db, association.id, **meeting_fields)
    async with db.transaction() as s:
        guest = MeetingGuest(
            meeting_id=meeting.id,
            name="Гость Гостевич",
            organisation="Школа №5",
            token_hash=secrets.token_hex(16),
        )
        s.add(guest)
        await s.flush()
        ids["guest"] = guest.id
    return Cast(url, secret, meeting, ids)
