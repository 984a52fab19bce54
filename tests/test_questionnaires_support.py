"""Shared setup of the questionnaire tests: an association with a person of every role, and
the builder's HTTP calls. (No tests here.)"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from server.db.models import Role
from server.db.models.questionnaires import Question
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

ROLES = ("guest", "outsider", "member", "mo_head", "methodist", "admin")
NAMES = {
    "member": ("Петрова", "Анна"),
    "mo_head": ("Сидоров", "Олег"),
    "methodist": ("Иванова", "Мария"),
    "admin": ("Админов", "Павел"),
    "outsider": ("Чужой", "Иван"),
}


@dataclass
class World:
    server: LiveServer
    association_id: int
    other_association_id: int
    emails: dict[str, str]
    ids: dict[str, int]
    clients: dict[str, WebClient] = field(default_factory=dict)

    async def as_(self, role: str) -> WebClient:
        if role not in self.clients:
            if role == "guest":
                self.clients[role] = WebClient(base_url=self.server.url, follow_redirects=False, timeout=20)
            else:
                self.clients[role] = await logged_in_client(self.server, self.emails[role])
        return self.clients[role]

    async def close(self) -> None:
        for c in self.clients.values():
            await c.aclose()


async def make_world(server: LiveServer, teachers: int = 0) -> World:
    """methodist, mo_head, member (+ ``teachers`` more members «teacherN»), an administrator who
    is not a member, and an outsider who is a member of another association."""
    db = server.runtime.db
    tag = secrets.token_hex(3)
    association = await make_association(db, name=f"СМО учителей истории {tag}")
    other = await make_association(db, name=f"Другое СМО {tag}")
    emails: dict[str, str] = {}
    ids: dict[str, int] = {}
    names = dict(NAMES)
    for n in range(1, teachers + 1):
        names[f"teacher{n}"] = (f"Учителева{n}", "Ольга")
    for role, (last, first) in names.items():
        email = f"{role}-{tag}@example.org"
        user = await make_user(db, email, is_admin=role == "admin", last_name=last, first_name=first)
        emails[role], ids[role] = email, user.id
        if role in ("member", "mo_head", "methodist"):
            await add_member(db, association.id, user.id, Role(role))
        elif role.startswith("teacher"):
            await add_member(db, association.id, user.id, Role.member)
        elif role == "outsider":
            await add_member(db, other.id, user.id, Role.methodist)
    return World(server, association.id, other.id, emails, ids)


def created_id(r: httpx.Response) -> int:
    assert r.status_code == 303, (r.status_code, r.text[:800])
    m = re.match(r"^/questionnaires/(\d+)/edit", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


async def create_draft(c: WebClient, association_id: int, **fields: Any) -> int:
    data = {"title": "Анкета", "description": "", "anonymous": "1", **fields}
    return created_id(await c.submit(f"/associations/{association_id}/questionnaires", data))


async def add_question(
    c: WebClient,
    qid: int,
    kind: str,
    text: str,
    options: tuple[str, ...] = (),
    *,
    required: bool = False,
    allow_other: bool = False,
) -> httpx.Response:
    data = {"kind": kind, "text": text, "options": "\n".join(options)}
    if required:
        data["required"] = "1"
    if allow_other:
        data["allow_other"] = "1"
    r = await c.submit(f"/questionnaires/{qid}/questions", data)
    return r


async def question_ids(server: LiveServer, qid: int) -> list[int]:
    async with server.runtime.db.read() as s:
        return list(
            (
                await s.scalars(
                    select(Question.id).where(Question.questionnaire_id == qid).order_by(Question.position)
                )
            ).all()
        )


async def publish(c: WebClient, qid: int) -> None:
    r = await c.submit(f"/questionnaires/{qid}/publish")
    assert r.status_code == 303, (r.status_code, r.text[:800])
