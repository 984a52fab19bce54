"""An administrator blocks a person: they cannot log in, every session of theirs ends at once
(pages and the live room), nobody else may do it, an admin cannot block themselves; unblocking
lets them log in again."""

from __future__ import annotations

import socketio
from sqlalchemy import select

from server.db.models import User
from tests.support.client import WebClient
from tests.support.factories import DEFAULT_PASSWORD, logged_in_client, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast

JSON = {"Accept": "application/json"}


async def test_blocking_ends_every_session_and_the_room_connection(server: LiveServer) -> None:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    await make_user(server.runtime.db, "root@example.org", is_admin=True)
    admin = await logged_in_client(server, "root@example.org")
    async with server.runtime.db.read() as s:
        member = await s.get(User, cast.ids["member"])
        methodist = await s.get(User, cast.ids["methodist"])
    assert member is not None and methodist is not None
    browser = await logged_in_client(server, member.email)
    try:
        host, _ = await cast.joined("methodist")
        await host.ok("meeting.start")
        room, _ = await cast.joined("member")
        ended: list[object] = []
        room.sio.on("session.ended", lambda data: ended.append(data))
        assert (await browser.get("/notifications")).status_code == 200

        page = await admin.get("/admin")
        assert f'action="/admin/users/{member.id}/block"' in page.text
        r = await admin.submit(f"/admin/users/{member.id}/block")
        assert r.status_code == 303 and r.headers["location"] == "/admin#users"
        page = await admin.get("/admin")
        assert "учётная запись заблокирована" in page.text
        assert f'action="/admin/users/{member.id}/unblock"' in page.text

        # The page session and the open room connection end; a reconnect is refused.
        r = await browser.get("/notifications")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        await wait_for(lambda: not room.sio.connected, 15, what="the room connection closed")
        again = cast.client("member")
        try:
            await again.connect()
            raise AssertionError("a blocked person connected")
        except socketio.exceptions.ConnectionError:
            pass
        async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as fresh:
            r = await fresh.submit("/login", {"email": member.email, "password": DEFAULT_PASSWORD})
            assert r.status_code == 401
        await host.ok("chat.send", {"text": "встреча идёт"})  # the others are untouched

        # Only an administrator; not oneself.
        methodist_client = await logged_in_client(server, methodist.email)
        try:
            r = await methodist_client.submit(f"/admin/users/{member.id}/unblock", headers=JSON)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        finally:
            await methodist_client.aclose()
        async with server.runtime.db.read() as s:
            me = await s.scalar(select(User).where(User.email == "root@example.org"))
        assert me is not None
        r = await admin.submit(f"/admin/users/{me.id}/block", headers=JSON)
        assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_block_self"
        r = await admin.submit("/admin/users/999999/block", headers=JSON)
        assert r.status_code == 404

        r = await admin.submit(f"/admin/users/{member.id}/unblock")
        assert r.status_code == 303
        async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as fresh:
            await fresh.login(member.email, DEFAULT_PASSWORD)
    finally:
        await admin.aclose()
        await browser.aclose()
        await cast.close_all(server.runtime.sio)
