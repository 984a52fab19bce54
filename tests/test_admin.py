"""Site administration: associations and their methodists; only administrators may enter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.db.models import Association, Invitation, Membership, QuorumRule, Role
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text

JSON = {"Accept": "application/json"}
NEW = {
    "name": "СМО учителей истории",
    "subject": "История",
    "description": "Обмен опытом <b>и</b> методические ресурсы.",
    "founder_name": "ОГБОУ ДПО «Костромской областной институт развития образования»",
    "place": "онлайн",
    "quorum_rule": "two_thirds",
}


async def association_count(server: LiveServer) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count(Association.id))) or 0)


@pytest.fixture
async def admin(server: LiveServer) -> Any:
    await make_user(server.runtime.db, "admin@example.org", is_admin=True, last_name="Админова")
    c = await logged_in_client(server, "admin@example.org")
    yield c
    await c.aclose()


async def test_admin_creates_and_edits_association(server: LiveServer, admin: WebClient) -> None:
    page = await admin.get("/admin")
    assert page.status_code == 200 and "Объединений пока нет." in page.text
    page = await admin.get("/admin/associations/new")
    assert page.status_code == 200 and 'name="quorum_rule"' in page.text

    r = await admin.submit("/admin/associations/new", NEW)
    assert r.status_code == 303
    async with server.runtime.db.read() as s:
        a = await s.scalar(select(Association))
    assert a is not None and a.quorum_rule == QuorumRule.two_thirds and a.description == NEW["description"]
    assert r.headers["location"] == f"/admin/associations/{a.id}/edit"
    page = await admin.get(r.headers["location"])
    assert "Объединение создано" in page.text
    assert "Обмен опытом &lt;b&gt;и&lt;/b&gt;" in page.text  # escaped
    assert "Объединение создано" not in (await admin.get(r.headers["location"])).text  # shown once

    r = await admin.submit(
        f"/admin/associations/{a.id}/edit", {**NEW, "name": "СМО историков", "quorum_rule": "none"}
    )
    assert r.status_code == 303
    async with server.runtime.db.read() as s:
        a2 = await s.get(Association, a.id)
    assert a2 is not None and a2.name == "СМО историков" and a2.quorum_rule == QuorumRule.none
    assert not a2.transcription_default and not a2.recording_default
    # The meetings' switches by default (docs/transcript.md): checkboxes, absent = off.
    r = await admin.submit(
        f"/admin/associations/{a.id}/edit",
        {**NEW, "name": "СМО историков", "quorum_rule": "none", "transcription_default": "on"},
    )
    assert r.status_code == 303
    async with server.runtime.db.read() as s:
        a3 = await s.get(Association, a.id)
    assert a3 is not None and a3.transcription_default and not a3.recording_default
    page = await admin.get(f"/admin/associations/{a.id}/edit")
    assert 'name="transcription_default" checked' in page.text
    assert 'name="recording_default" checked' not in page.text
    page = await admin.get("/admin")
    assert "СМО историков" in page.text and "методист не назначен" in page.text
    r = await admin.get("/admin/associations/999999/edit", headers=JSON)
    assert r.status_code == 404
    r = await admin.submit("/admin/associations/999999/edit", NEW, headers=JSON)
    assert r.status_code == 404


async def test_member_counts_on_admin_page(server: LiveServer, admin: WebClient) -> None:
    db = server.runtime.db
    a = await make_association(db)
    for i in range(3):
        u = await make_user(db, f"t{i}@example.org")
        await add_member(db, a.id, u.id, Role.methodist if i == 0 else Role.member)
    page = await admin.get("/admin")
    assert f'<td data-members="{a.id}">3</td>' in page.text
    assert "t2@example.org" in page.text


async def test_appoint_methodist_existing_and_invited(
    server: LiveServer, admin: WebClient, inbox: Inbox
) -> None:
    db = server.runtime.db
    a = await make_association(db)
    teacher = await make_user(db, "teacher@example.org", last_name="Учителева")
    await add_member(db, a.id, teacher.id, Role.member)
    r = await admin.submit(f"/admin/associations/{a.id}/methodists", {"email": "TEACHER@example.org"})
    assert r.status_code == 303
    page = await admin.get(r.headers["location"])
    assert "назначен(а) сетевым методистом" in page.text and "Учителева" in page.text
    async with db.read() as s:
        role = await s.scalar(select(Membership.role).where(Membership.user_id == teacher.id))
    assert role == Role.methodist

    r = await admin.submit(f"/admin/associations/{a.id}/methodists", {"email": "future@example.org"})
    assert r.status_code == 303
    msgs = await wait_for(lambda: inbox.to("future@example.org"), 15, what="methodist invitation mail")
    text = body_text(msgs[0])
    assert "сетевой методист" in text and "/invitations/" in text
    async with db.read() as s:
        inv = await s.scalar(select(Invitation))
    assert inv is not None and inv.role == Role.methodist and inv.association_id == a.id

    for bad in ({"email": "nope"}, {}):
        r = await admin.submit(f"/admin/associations/{a.id}/methodists", bad)
        assert r.status_code == 422 and 'class="field-error"' in r.text
    r = await admin.submit("/admin/associations/999999/methodists", {"email": "x@example.org"}, headers=JSON)
    assert r.status_code == 404
    async with db.read() as s:
        assert await s.scalar(select(func.count(Invitation.id))) == 1


BAD_ASSOCIATIONS: list[tuple[str, dict[str, Any]]] = [
    ("empty name", {"name": "  "}),
    ("no name", {"name": None}),
    ("too long name", {"name": "я" * 301}),
    ("too long subject", {"subject": "я" * 201}),
    ("too long description", {"description": "я" * 5001}),
    ("too long founder", {"founder_name": "я" * 501}),
    ("too long place", {"place": "я" * 201}),
    ("bad quorum", {"quorum_rule": "all"}),
    ("control characters", {"name": "СМО\x07"}),
]


async def test_association_form_rejects_bad_input(server: LiveServer, admin: WebClient) -> None:
    existing = await make_association(server.runtime.db, "Было")
    for case, change in BAD_ASSOCIATIONS:
        data = {k: v for k, v in {**NEW, **change}.items() if v is not None}
        for url in ("/admin/associations/new", f"/admin/associations/{existing.id}/edit"):
            r = await admin.submit(url, data)
            assert r.status_code == 422, (case, url)
            assert 'class="field-error"' in r.text, (case, url)
    assert await association_count(server) == 1
    async with server.runtime.db.read() as s:
        a = await s.get(Association, existing.id)
    assert a is not None and a.name == "Было"


ACTORS = ["anonymous", "member", "mo_head", "other_methodist", "methodist", "admin"]


async def test_admin_role_matrix(server: LiveServer, client: WebClient) -> None:
    db = server.runtime.db
    a = await make_association(db)
    b = await make_association(db, "Другое")
    clients: dict[str, WebClient] = {"anonymous": client}
    for name, assoc, role in [
        ("member", a, Role.member),
        ("mo_head", a, Role.mo_head),
        ("other_methodist", b, Role.methodist),
        ("methodist", a, Role.methodist),
    ]:
        u = await make_user(db, f"{name}@example.org")
        await add_member(db, assoc.id, u.id, role)
    await make_user(db, "admin@example.org", is_admin=True)
    try:
        for name in ACTORS[1:]:
            clients[name] = await logged_in_client(server, f"{name}@example.org")
        for actor in ACTORS:
            c = clients[actor]
            before = await association_count(server)
            results = {
                "index": await c.get("/admin", headers=JSON),
                "new page": await c.get("/admin/associations/new", headers=JSON),
                "create": await c.submit(
                    "/admin/associations/new", {**NEW, "name": f"Новое {actor}"}, headers=JSON
                ),
                "edit page": await c.get(f"/admin/associations/{a.id}/edit", headers=JSON),
                "edit": await c.submit(
                    f"/admin/associations/{a.id}/edit", {**NEW, "name": f"Изм {actor}"}, headers=JSON
                ),
                "appoint": await c.submit(
                    f"/admin/associations/{a.id}/methodists",
                    {"email": f"m-{actor}@example.org"},
                    headers=JSON,
                ),
            }
            allowed = actor == "admin"
            expected = (200, 303) if allowed else ((401,) if actor == "anonymous" else (403,))
            for action, r in results.items():
                assert r.status_code in expected, (actor, action, r.status_code, r.text[:200])
                if not allowed:
                    assert r.json()["error"]["code"] in ("forbidden", "unauthenticated")
            assert await association_count(server) == before + (1 if allowed else 0), actor
            async with db.read() as s:
                name = (await s.get(Association, a.id, populate_existing=True)).name  # type: ignore[union-attr]
                invited = await s.scalar(
                    select(Invitation.id).where(Invitation.email == f"m-{actor}@example.org")
                )
            assert (name == f"Изм {actor}") == allowed, actor
            assert (invited is not None) == allowed, actor
        # Anonymous pages redirect to the login form.
        r = await client.get("/admin")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin"
        r = await clients["member"].get("/admin")
        assert r.status_code == 403 and 'data-code="forbidden"' in r.text
    finally:
        for name, c in clients.items():
            if name != "anonymous":
                await c.aclose()


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_admin_posts_reject_bad_csrf(server: LiveServer, admin: WebClient, token: str | None) -> None:
    a = await make_association(server.runtime.db, "Было")
    extra = {} if token is None else {"csrf_token": token}
    for url, data in [
        ("/admin/associations/new", NEW),
        (f"/admin/associations/{a.id}/edit", NEW),
        (f"/admin/associations/{a.id}/methodists", {"email": "admin@example.org"}),
    ]:
        r = await admin.post(url, data={**data, **extra})
        assert r.status_code == 403 and 'data-code="csrf_failed"' in r.text, url
    assert await association_count(server) == 1
    async with server.runtime.db.read() as s:
        assert (await s.get(Association, a.id)).name == "Было"  # type: ignore[union-attr]
        assert await s.scalar(select(func.count(Membership.id))) == 0
