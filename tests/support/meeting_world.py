"""A small world for the association and meeting page tests: two associations, every role,
and one logged-in client per person (built on tests/support/factories.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from server.db.models import Role
from server.sessions import decode_session_cookie
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

JSON = {"Accept": "application/json"}
# Who is who: anonymous, the association's member / mo_head / methodist, the methodist of
# another association, a site administrator.
PEOPLE = ("member", "mo_head", "methodist", "other_methodist", "admin")


@dataclass
class World:
    server: LiveServer
    association_id: int
    other_association_id: int
    ids: dict[str, int]
    _clients: dict[str, WebClient]

    async def client(self, name: str) -> WebClient:
        """The logged-in client of ``name`` (logged in on first use: argon2 is slow on purpose)."""
        if name not in self._clients:
            self._clients[name] = await logged_in_client(self.server, f"{name}@example.org")
        return self._clients[name]

    async def clients(self, *names: str) -> dict[str, WebClient]:
        return {name: await self.client(name) for name in names or ("anonymous", *PEOPLE)}


@asynccontextmanager
async def make_world(server: LiveServer, anonymous: WebClient) -> AsyncIterator[World]:
    db = server.runtime.db
    a = await make_association(db, description="Обмен опытом учителей математики.", place="онлайн")
    b = await make_association(db, "СМО учителей физики", subject="Физика")
    ids: dict[str, int] = {}
    people = [
        ("methodist", a.id, Role.methodist, "Смирнова", "МБОУ «Лицей № 17»"),
        ("mo_head", a.id, Role.mo_head, "Петров", "МОУ «Гимназия № 15»"),
        ("member", a.id, Role.member, "Иванова", "МБОУ «СОШ № 1»"),
        ("other_methodist", b.id, Role.methodist, "Кузнецова", None),
    ]
    for name, association_id, role, last_name, school in people:
        user = await make_user(db, f"{name}@example.org", last_name=last_name, school=school)
        await add_member(db, association_id, user.id, role)
        ids[name] = user.id
    ids["admin"] = (await make_user(db, "admin@example.org", is_admin=True, last_name="Админова")).id
    clients = {"anonymous": anonymous}
    try:
        yield World(server, a.id, b.id, ids, clients)
    finally:
        for name, c in clients.items():
            if name != "anonymous":
                await c.aclose()


async def count(server: LiveServer, model: type, **where: Any) -> int:
    async with server.runtime.db.read() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await s.scalar(query) or 0)


def session_of(server: LiveServer, client: WebClient) -> dict[str, Any]:
    """The client's signed session cookie, decoded as the server would."""
    return decode_session_cookie(server.runtime.secret_key, client.session_cookie)
