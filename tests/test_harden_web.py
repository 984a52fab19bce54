"""Hardening of the web side (issue 15): sessions, ids in routes, renderers, login limits,
invitations, reads that must not write."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from starlette.convertors import IntegerConvertor
from starlette.routing import Mount, Route

from server.db.models import Invitation
from tests.support.client import WebClient
from tests.support.factories import logged_in_client, make_user
from tests.support.live import LiveServer
from tests.support.smtp import Inbox
from tests.test_memberships import World, invitation_link, role_of, world  # noqa: F401  (the fixture)


async def test_logout_invalidates_every_copy_of_the_cookie(server: LiveServer) -> None:
    await make_user(server.runtime.db, "copied@example.org")
    c = await logged_in_client(server, "copied@example.org")
    other_device = await logged_in_client(server, "copied@example.org")
    try:
        assert (await c.get("/notifications")).status_code == 200
        stolen = c.session_cookie
        assert stolen
        r = await c.submit("/logout")
        assert r.status_code in (302, 303)
        async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as thief:
            thief.cookies.set("smo_session", stolen)
            r = await thief.get("/notifications")
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.status_code
        # every earlier session of the person ends, not only this browser's
        r = await other_device.get("/notifications")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        # logging in again works
        again = await logged_in_client(server, "copied@example.org")
        assert (await again.get("/notifications")).status_code == 200
        await again.aclose()
    finally:
        await c.aclose()
        await other_device.aclose()


def int_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, list[str], set[str]]]:
    """(path, its int parameters, methods) of every route with an integer path parameter."""
    found = []
    for route in routes:
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            found += int_routes(list(route.routes or []), path)
            continue
        params = [
            name
            for name, conv in getattr(route, "param_convertors", {}).items()
            if isinstance(conv, IntegerConvertor)
        ]
        if params and isinstance(route, Route):
            found.append((path, params, set(route.methods or {"GET"}) - {"HEAD"}))
    return found


async def test_huge_ids_in_every_route_give_404(server: LiveServer) -> None:
    routes = int_routes(list(server.app.web.routes))
    assert len(routes) > 30, routes
    await make_user(server.runtime.db, "ids-admin@example.org", is_admin=True)
    c = await logged_in_client(server, "ids-admin@example.org")
    try:
        token = await c.csrf()
        bad: list[tuple[str, str, int]] = []
        for path, params, methods in routes:
            for huge in (2**31, 2**63, 10**30):
                url = path
                for name in params:
                    url = re.sub(r"\{" + name + r":int\}", str(huge), url)
                url = re.sub(r"\{[a-z_]+(:[a-z]+)?\}", "x", url)
                for method in sorted(methods):
                    data = {"csrf_token": token} if method != "GET" else None
                    r = await c.request(method, url, data=data, headers={"X-CSRF-Token": token})
                    if r.status_code != 404:
                        bad.append((method, url, r.status_code))
        assert not bad, bad
        assert (await c.get("/notifications")).status_code == 200  # the server is fine
    finally:
        await c.aclose()


async def test_an_invitation_is_accepted_only_by_the_invited_address(
    server: LiveServer,
    world: World,  # noqa: F811  (the fixture of tests/test_memberships.py)
    inbox: Inbox,
) -> None:
    db = server.runtime.db
    aid = world.association_id
    await make_user(db, "invited@example.org")
    stranger = await make_user(db, "stranger@example.org")
    r = await (await world.client("methodist")).submit(
        f"/associations/{aid}/invitations", {"email": "Invited@Example.org", "role": "methodist"}
    )
    assert r.status_code == 303
    _link, token = await invitation_link(inbox, "invited@example.org")
    c = await logged_in_client(server, "stranger@example.org")
    try:
        r = await c.submit(f"/invitations/{token}/accept", headers={"Accept": "application/json"})
        assert r.status_code == 403, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "invitation_other_email"
        assert "invited@example.org" in error["message_ru"]
        page = await c.get(f"/invitations/{token}")
        assert "invited@example.org" in page.text
    finally:
        await c.aclose()
    assert await role_of(server, aid, stranger.id) is None
    async with db.read() as s:
        inv = await s.scalar(select(Invitation))
        assert inv is not None and inv.accepted_at is None
    # The invited person still can (the address compared case-insensitively).
    invited = await logged_in_client(server, "INVITED@example.org")
    try:
        assert (await invited.submit(f"/invitations/{token}/accept")).status_code == 303
    finally:
        await invited.aclose()


async def test_login_limit_throttles_the_attacker_not_the_owner(server: LiveServer) -> None:
    await make_user(server.runtime.db, "owner@example.org")
    limit = server.settings.login_attempts
    attacker_ip, owner_ip = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as attacker:
        for _ in range(limit):
            r = await attacker.submit(
                "/login", {"email": "owner@example.org", "password": "guess-123456"}, headers=attacker_ip
            )
            assert r.status_code == 401
        # The attacker's address is throttled for this account, even with the right password.
        r = await attacker.submit(
            "/login", {"email": "owner@example.org", "password": "secret123"}, headers=attacker_ip
        )
        assert r.status_code == 429 and "Слишком много попыток" in r.text
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as other:
        # A wrong password from a fresh address is an ordinary failure, then that address is throttled too.
        fresh = {"X-Forwarded-For": "192.0.2.44"}
        r = await other.submit("/login", {"email": "owner@example.org", "password": "guess-1"}, headers=fresh)
        assert r.status_code == 401
        r = await other.submit(
            "/login", {"email": "owner@example.org", "password": "secret123"}, headers=fresh
        )
        assert r.status_code == 429
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as owner:
        # The owner, from an address without failures, logs in and is told what happened.
        r = await owner.submit(
            "/login", {"email": "owner@example.org", "password": "secret123"}, headers=owner_ip
        )
        assert r.status_code == 303, (r.status_code, r.text[:300])
        page = await owner.get("/login")
        assert "неудачных попыток входа" in page.text
        assert (await owner.get("/notifications")).status_code == 200
