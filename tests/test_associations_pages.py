"""«Мои объединения» and the association page: who sees what, and what they see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from server import clock
from server.db.models import MeetingStatus
from tests.support.client import WebClient
from tests.support.factories import logged_in_client, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.meeting_world import JSON, World, make_world


@pytest.fixture
async def world(server: LiveServer, client: WebClient) -> AsyncIterator[World]:
    async with make_world(server, client) as w:
        yield w


async def test_home_anonymous_goes_to_login(client: WebClient) -> None:
    r = await client.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


async def test_home_lists_associations_and_upcoming_meetings(server: LiveServer, world: World) -> None:
    db = server.runtime.db
    soon = clock.now().replace(microsecond=0) + timedelta(days=2)
    await make_meeting(db, world.association_id, "Заседание по плану", starts_at=soon)
    await make_meeting(
        db, world.association_id, "Идёт прямо сейчас", starts_at=soon, status=MeetingStatus.live
    )
    await make_meeting(db, world.association_id, "Отменённое", starts_at=soon, status=MeetingStatus.cancelled)
    await make_meeting(db, world.other_association_id, "Физики собираются", starts_at=soon)

    member, methodist, admin = (await world.clients("member", "methodist", "admin")).values()
    r = await member.get("/")
    assert r.status_code == 200
    html = r.text
    assert "Мои объединения" in html
    assert "СМО учителей математики" in html and "Педагог" in html
    assert "СМО учителей физики" not in html and "Физики собираются" not in html
    assert "Заседание по плану" in html and "Идёт прямо сейчас" in html
    assert "Отменённое" not in html
    # The live meeting comes first, with the big button into the room.
    assert html.index("Идёт прямо сейчас") < html.index("Заседание по плану")
    assert "Войти в заседание" in html and "/room" in html
    assert 'href="/admin"' not in html

    r = await methodist.get("/")
    assert "Сетевой методист" in r.text

    r = await admin.get("/")
    assert r.status_code == 200
    assert 'href="/admin"' in r.text
    assert "СМО учителей математики" in r.text and "СМО учителей физики" in r.text
    assert "Физики собираются" in r.text


async def test_home_empty_state(server: LiveServer, client: WebClient) -> None:
    await make_user(server.runtime.db, "new@example.org")
    c = await logged_in_client(server, "new@example.org")
    try:
        r = await c.get("/")
    finally:
        await c.aclose()
    assert r.status_code == 200
    assert "Вы пока не состоите ни в одном объединении" in r.text


async def test_association_page_role_matrix(world: World) -> None:
    url = f"/associations/{world.association_id}"
    clients = await world.clients()
    r = await clients["anonymous"].get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")

    for name in ("member", "mo_head", "methodist", "admin"):
        r = await clients[name].get(url)
        assert r.status_code == 200, name
        manage = name in ("methodist", "admin")
        assert ("Новое заседание" in r.text) is manage, name
        assert (f'action="/associations/{world.association_id}/invitations"' in r.text) is manage, name
        assert ("/remove" in r.text) is manage, name
        assert 'id="members"' in r.text

    r = await clients["other_methodist"].get(url)
    assert r.status_code == 403
    assert 'data-code="forbidden"' in r.text
    r = await clients["other_methodist"].get(url, headers=JSON)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    for bad in ("/associations/999999", "/associations/99999999999999999999", "/associations/abc"):
        r = await clients["methodist"].get(bad, headers=JSON)
        assert r.status_code == 404, bad
        assert r.json()["error"]["code"] == "not_found"


async def test_association_page_shows_members_and_meetings(server: LiveServer, world: World) -> None:
    db = server.runtime.db
    future = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    await make_meeting(db, world.association_id, "Будущее заседание", starts_at=future)
    await make_meeting(
        db,
        world.association_id,
        "Прошлое заседание",
        starts_at=datetime(2025, 10, 1, 11, 0, tzinfo=UTC),
        status=MeetingStatus.ended,
    )
    methodist = await world.client("methodist")
    r = await methodist.get(f"/associations/{world.association_id}")
    html = r.text
    members = html[html.index('id="members"') :]
    for text in ("Смирнова", "Петров", "Иванова", "Сетевой методист", "Руководитель школьного МО", "Педагог"):
        assert text in members, text
    assert "МОУ «Гимназия № 15»" in members
    assert "Кузнецова" not in html  # the other association's methodist
    # The methodist gets role controls for the others, not for themself.
    assert f"/members/{world.ids['member']}/role" in html
    assert f"/members/{world.ids['methodist']}/role" not in html
    # Upcoming before past; Moscow time (UTC+3) and the Russian long date.
    assert html.index("Будущее заседание") < html.index("Прошлое заседание")
    assert "1 марта 2030 г." in html and "15:00–16:30" in html
    assert "Завершено" in html and "Запланировано" in html


async def test_association_page_escapes_user_text(server: LiveServer, world: World) -> None:
    await make_meeting(server.runtime.db, world.association_id, "<script>alert(1)</script>")
    member = await world.client("member")
    r = await member.get(f"/associations/{world.association_id}")
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
