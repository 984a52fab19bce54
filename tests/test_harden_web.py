"""Hardening of the web side (issue 15): sessions, ids in routes, renderers, login limits,
invitations, reads that must not write."""

from __future__ import annotations

from tests.support.client import WebClient
from tests.support.factories import logged_in_client, make_user
from tests.support.live import LiveServer


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
