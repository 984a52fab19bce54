"""Invitations by e-mail, role changes and removal by the association's methodist."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from server.db.models import Invitation, Membership, OutboxMessage, Role, User
from server.db.types import utcnow
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text

JSON = {"Accept": "application/json"}
LINK = re.compile(r"(http://\S+/invitations/([A-Za-z0-9_-]+))")


@dataclass
class World:
    server: LiveServer
    association_id: int
    other_association_id: int
    ids: dict[str, int]
    anonymous: WebClient
    _clients: dict[str, WebClient] = field(default_factory=dict)

    async def client(self, name: str) -> WebClient:
        """The actor's WebClient, logged in on first use (argon2 makes logins costly)."""
        if name == "anonymous":
            return self.anonymous
        if name not in self._clients:
            self._clients[name] = await logged_in_client(self.server, f"{name}@example.org")
        return self._clients[name]


@pytest.fixture
async def world(server: LiveServer, client: WebClient) -> AsyncIterator[World]:
    """One association with a methodist, an MO head and a member; a second association's methodist;
    an administrator; and an anonymous client."""
    db = server.runtime.db
    a = await make_association(db)
    b = await make_association(db, "СМО учителей физики")
    ids: dict[str, int] = {}
    for name, assoc, role in [
        ("methodist", a.id, Role.methodist),
        ("mo_head", a.id, Role.mo_head),
        ("member", a.id, Role.member),
        ("other_methodist", b.id, Role.methodist),
    ]:
        user = await make_user(db, f"{name}@example.org", last_name=name.capitalize())
        await add_member(db, assoc, user.id, role)
        ids[name] = user.id
    ids["admin"] = (await make_user(db, "admin@example.org", is_admin=True)).id
    w = World(server, a.id, b.id, ids, client)
    yield w
    for c in w._clients.values():
        await c.aclose()


async def count(server: LiveServer, model: type) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def role_of(server: LiveServer, association_id: int, user_id: int) -> Role | None:
    async with server.runtime.db.read() as s:
        return await s.scalar(
            select(Membership.role).where(
                Membership.association_id == association_id, Membership.user_id == user_id
            )
        )


async def invitation_link(inbox: Inbox, email: str) -> tuple[str, str]:
    msgs = await wait_for(lambda: inbox.to(email), 15, what=f"mail to {email}")
    text = body_text(msgs[-1])
    m = LINK.search(text)
    assert m, text
    return m.group(1), m.group(2)


async def test_invite_register_and_accept_end_to_end(server: LiveServer, world: World, inbox: Inbox) -> None:
    methodist = await world.client("methodist")
    aid = world.association_id
    page = await methodist.get(f"/associations/{aid}/invitations/new")
    assert page.status_code == 200 and "Пригласить в объединение" in page.text

    r = await methodist.submit(
        f"/associations/{aid}/invitations", {"email": " New.Teacher@Example.org", "role": "mo_head"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/associations/{aid}#members"
    link, token = await invitation_link(inbox, "new.teacher@example.org")
    msg = inbox.to("new.teacher@example.org")[-1]
    assert "Приглашение" in str(msg["Subject"]) or "=?utf-8?" in str(msg["Subject"]).lower()
    text = body_text(msg)
    assert "СМО учителей математики" in text and "руководитель школьного МО" in text
    assert link.startswith(server.settings.public_url)
    async with server.runtime.db.read() as s:
        inv = await s.scalar(select(Invitation))
        assert inv is not None and inv.token_hash != token and len(inv.token_hash) == 64
        assert inv.expires_at - utcnow() > timedelta(days=13)

    async with WebClient(base_url=server.url, follow_redirects=False) as newcomer:
        page = await newcomer.get(f"/invitations/{token}")
        assert page.status_code == 200
        assert "СМО учителей математики" in page.text
        assert 'value="new.teacher@example.org" readonly' in page.text
        assert f"/login?next=/invitations/{token}" in page.text
        # A bad form writes nothing and keeps the invitation usable.
        r = await newcomer.submit(
            f"/invitations/{token}/register",
            {"last_name": "Новикова", "first_name": "", "password": "abc", "password_confirm": "abc"},
        )
        assert r.status_code == 422 and "Заполните это поле." in r.text
        assert await count(server, User) == 5
        r = await newcomer.submit(
            f"/invitations/{token}/register",
            {
                "email": "someone.else@example.org",  # ignored: the invitation's address is used
                "last_name": "Новикова",
                "first_name": "Ольга",
                "password": "parol2026",
                "password_confirm": "parol2026",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == f"/associations/{aid}"
        assert "Вы уже вошли" in (await newcomer.get("/login")).text
    async with server.runtime.db.read() as s:
        user = await s.scalar(select(User).where(User.email == "new.teacher@example.org"))
        assert user is not None
        inv = await s.scalar(select(Invitation))
        assert inv is not None and inv.accepted_at is not None and inv.accepted_by_id == user.id
    assert await role_of(server, aid, user.id) == Role.mo_head

    # Single use: the page, accepting and registering all answer "invalid" now.
    member = await world.client("member")
    r = await member.get(f"/invitations/{token}")
    assert r.status_code == 410 and 'data-code="invitation_invalid"' in r.text
    r = await member.submit(f"/invitations/{token}/accept")
    assert r.status_code == 410
    assert await count(server, Membership) == 5


async def test_existing_user_accepts_when_logged_in(server: LiveServer, world: World, inbox: Inbox) -> None:
    db = server.runtime.db
    await make_user(db, "existing@example.org")
    aid = world.association_id
    r = await (await world.client("methodist")).submit(
        f"/associations/{aid}/invitations", {"email": "existing@example.org"}
    )
    assert r.status_code == 303
    _link, token = await invitation_link(inbox, "existing@example.org")
    async with WebClient(base_url=server.url, follow_redirects=False) as c:
        page = await c.get(f"/invitations/{token}")
        assert "Войти и принять приглашение" in page.text and 'name="password_confirm"' not in page.text
        r = await c.submit(f"/invitations/{token}/accept")  # not logged in yet
        assert r.status_code == 303 and r.headers["location"] == f"/login?next=/invitations/{token}"
        r = await c.submit(
            "/login",
            {"email": "existing@example.org", "password": "secret123", "next": f"/invitations/{token}"},
        )
        assert r.headers["location"] == f"/invitations/{token}"
        page = await c.get(f"/invitations/{token}")
        assert "Принять приглашение" in page.text
        r = await c.submit(f"/invitations/{token}/accept")
        assert r.status_code == 303 and r.headers["location"] == f"/associations/{aid}"
        r = await c.submit(f"/invitations/{token}/accept")
        assert r.status_code == 410
    async with db.read() as s:
        uid = await s.scalar(select(User.id).where(User.email == "existing@example.org"))
    assert uid is not None
    assert await role_of(server, aid, uid) == Role.member


async def test_expired_and_unknown_tokens(server: LiveServer, world: World, inbox: Inbox) -> None:
    aid = world.association_id
    r = await (await world.client("methodist")).submit(
        f"/associations/{aid}/invitations", {"email": "late@example.org"}
    )
    assert r.status_code == 303
    _link, token = await invitation_link(inbox, "late@example.org")
    async with server.runtime.db.transaction() as s:
        await s.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    users_before = await count(server, User)
    async with WebClient(base_url=server.url, follow_redirects=False) as c:
        r = await c.get(f"/invitations/{token}")
        assert r.status_code == 410 and "Приглашение недействительно" in r.text
        r = await c.submit(
            f"/invitations/{token}/register",
            {
                "last_name": "Поздняя",
                "first_name": "Анна",
                "password": "parol2026",
                "password_confirm": "parol2026",
            },
        )
        assert r.status_code == 410
        r = await c.get("/invitations/no-such-token", headers=JSON)
        assert r.status_code == 404 and r.json()["error"]["code"] == "invitation_invalid"
    r = await (await world.client("member")).submit(f"/invitations/{token}/accept")
    assert r.status_code == 410
    assert await count(server, User) == users_before
    assert await count(server, Membership) == 4


BAD_INVITES: list[tuple[dict[str, str], str]] = [
    ({"email": "not-an-email"}, "invalid_email"),
    ({"email": "x" * 260 + "@example.org"}, "string_too_long"),
    ({"email": "ok@example.org", "role": "admin"}, "enum"),
    ({"email": "member@example.org"}, "already_member"),
    ({}, "missing"),
]


async def test_invite_rejects_bad_input(server: LiveServer, world: World) -> None:
    methodist = await world.client("methodist")
    aid = world.association_id
    for data, code in BAD_INVITES:
        r = await methodist.submit(f"/associations/{aid}/invitations", data)
        assert r.status_code in (409, 422), data
        assert 'class="field-error"' in r.text, data
        r = await methodist.submit(f"/associations/{aid}/invitations", data, headers=JSON)
        assert r.json()["error"]["details"]["fields"]["email" if code != "enum" else "role"] == code
    assert await count(server, Invitation) == 0
    assert await count(server, OutboxMessage) == 0


async def test_change_role_and_remove(server: LiveServer, world: World) -> None:
    methodist = await world.client("methodist")
    aid, ids = world.association_id, world.ids
    r = await methodist.submit(f"/associations/{aid}/members/{ids['member']}/role", {"role": "methodist"})
    assert r.status_code == 303 and r.headers["location"] == f"/associations/{aid}#members"
    assert await role_of(server, aid, ids["member"]) == Role.methodist
    r = await methodist.submit(f"/associations/{aid}/members/{ids['mo_head']}/remove")
    assert r.status_code == 303
    assert await role_of(server, aid, ids["mo_head"]) is None
    # Bad role, unknown member, member of another association: typed 4xx, nothing changed.
    r = await methodist.submit(
        f"/associations/{aid}/members/{ids['member']}/role", {"role": "boss"}, headers=JSON
    )
    assert r.status_code == 422
    r = await methodist.submit(f"/associations/{aid}/members/{ids['other_methodist']}/remove", headers=JSON)
    assert r.status_code == 404
    r = await methodist.submit(f"/associations/{aid}/members/999999/role", {"role": "member"}, headers=JSON)
    assert r.status_code == 404
    r = await methodist.submit(f"/associations/{aid}/members/99999999999/remove", headers=JSON)
    assert r.status_code == 404
    assert await role_of(server, world.other_association_id, ids["other_methodist"]) == Role.methodist


async def test_last_methodist_cannot_be_removed_or_demoted(server: LiveServer, world: World) -> None:
    aid, ids = world.association_id, world.ids
    admin = await world.client("admin")
    for url, data in [
        (f"/associations/{aid}/members/{ids['methodist']}/remove", {}),
        (f"/associations/{aid}/members/{ids['methodist']}/role", {"role": "member"}),
    ]:
        r = await admin.submit(url, data)
        assert r.status_code == 409 and 'data-code="last_methodist"' in r.text
        assert "последнего сетевого методиста" in r.text
    assert await role_of(server, aid, ids["methodist"]) == Role.methodist
    # With a second methodist the first may step down.
    await admin.submit(f"/associations/{aid}/members/{ids['member']}/role", {"role": "methodist"})
    r = await (await world.client("methodist")).submit(
        f"/associations/{aid}/members/{ids['methodist']}/role", {"role": "member"}
    )
    assert r.status_code == 303
    assert await role_of(server, aid, ids["methodist"]) == Role.member


ALLOWED = {"methodist", "admin"}
ACTORS = ["anonymous", "member", "mo_head", "other_methodist", "methodist", "admin"]


async def test_role_matrix(server: LiveServer, world: World) -> None:
    db = server.runtime.db
    aid = world.association_id
    for actor in ACTORS:
        c = await world.client(actor)
        target = await make_user(db, f"target-{actor}@example.org")
        await add_member(db, aid, target.id, Role.member)
        gone = await make_user(db, f"gone-{actor}@example.org")
        await add_member(db, aid, gone.id, Role.member)
        actions = {
            "invite page": await c.get(f"/associations/{aid}/invitations/new", headers=JSON),
            "invite": await c.submit(
                f"/associations/{aid}/invitations", {"email": f"inv-{actor}@example.org"}, headers=JSON
            ),
            "role": await c.submit(
                f"/associations/{aid}/members/{target.id}/role", {"role": "mo_head"}, headers=JSON
            ),
            "remove": await c.submit(f"/associations/{aid}/members/{gone.id}/remove", headers=JSON),
        }
        expected = (200, 303) if actor in ALLOWED else ((401,) if actor == "anonymous" else (403,))
        for name, r in actions.items():
            assert r.status_code in expected, (actor, name, r.status_code, r.text[:200])
        allowed = actor in ALLOWED
        assert await role_of(server, aid, target.id) == (Role.mo_head if allowed else Role.member), actor
        assert (await role_of(server, aid, gone.id) is None) == allowed, actor
        async with db.read() as s:
            invited = await s.scalar(
                select(Invitation.id).where(Invitation.email == f"inv-{actor}@example.org")
            )
        assert (invited is not None) == allowed, actor


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_membership_posts_reject_bad_csrf(
    server: LiveServer, world: World, inbox: Inbox, token: str | None
) -> None:
    aid, ids = world.association_id, world.ids
    methodist = await world.client("methodist")
    r = await methodist.submit(f"/associations/{aid}/invitations", {"email": "csrf@example.org"})
    assert r.status_code == 303
    _link, invite_token = await invitation_link(inbox, "csrf@example.org")
    extra = {} if token is None else {"csrf_token": token}
    posts = [
        (methodist, f"/associations/{aid}/invitations", {"email": "x@example.org"}),
        (methodist, f"/associations/{aid}/members/{ids['member']}/role", {"role": "mo_head"}),
        (methodist, f"/associations/{aid}/members/{ids['member']}/remove", {}),
        (await world.client("member"), f"/invitations/{invite_token}/accept", {}),
        (
            world.anonymous,
            f"/invitations/{invite_token}/register",
            {"last_name": "А", "first_name": "Б", "password": "parol2026", "password_confirm": "parol2026"},
        ),
    ]
    for c, url, data in posts:
        await c.get("/login")
        r = await c.post(url, data={**data, **extra}, headers=JSON)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed", url
    assert await count(server, Invitation) == 1
    assert await role_of(server, aid, ids["member"]) == Role.member
    assert await count(server, User) == 5
    async with server.runtime.db.read() as s:
        inv = await s.scalar(select(Invitation))
        assert inv is not None and inv.accepted_at is None


async def test_second_invitation_promotes_but_never_demotes(
    server: LiveServer, world: World, inbox: Inbox
) -> None:
    aid = world.association_id
    methodist = await world.client("methodist")
    await make_user(server.runtime.db, "twice@example.org")
    tokens = []
    for role in ("member", "methodist", "mo_head"):
        inbox.clear()
        r = await methodist.submit(
            f"/associations/{aid}/invitations", {"email": "twice@example.org", "role": role}
        )
        assert r.status_code == 303
        tokens.append((await invitation_link(inbox, "twice@example.org"))[1])
    async with WebClient(base_url=server.url, follow_redirects=False) as c:
        await c.login("twice@example.org", "secret123")
        async with server.runtime.db.read() as s:
            uid = await s.scalar(select(User.id).where(User.email == "twice@example.org"))
        assert uid is not None
        for token, role in zip(tokens, [Role.member, Role.methodist, Role.methodist], strict=True):
            assert (await c.submit(f"/invitations/{token}/accept")).status_code == 303
            assert await role_of(server, aid, uid) == role
