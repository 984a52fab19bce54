"""Planning meetings, the meeting page and its JSON form, the guest link and guest entry."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.db.models import AgendaItem, Meeting, MeetingGuest, MeetingStatus
from tests.support.client import WebClient
from tests.support.factories import DEFAULT_PASSWORD, make_meeting
from tests.support.live import LiveServer
from tests.support.meeting_world import JSON, World, count, make_world, session_of


@pytest.fixture
async def world(server: LiveServer, client: WebClient) -> AsyncIterator[World]:
    async with make_world(server, client) as w:
        yield w


def meeting_form(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Формирующее оценивание на уроках математики",
        "form": "workshop",
        "description": "Практикум по плану работы.",
        "date": "2030-12-01",
        "start_time": "15:00",
        "end_time": "16:30",
        "chair_id": str(world.ids["methodist"]),
        "secretary_id": str(world.ids["mo_head"]),
        "admission": "open",
        "agenda_title[]": ["О плане работы", "", "Из опыта работы", "Разное", ""],
        "agenda_rapporteur[]": [str(world.ids["methodist"]), "", str(world.ids["member"]), "", ""],
        "agenda_minutes[]": ["15", "", "25", "", ""],
    }
    data.update(overrides)
    return data


async def load(server: LiveServer, meeting_id: int) -> Meeting:
    async with server.runtime.db.read() as s:
        meeting = await s.scalar(
            select(Meeting).where(Meeting.id == meeting_id).options(selectinload(Meeting.agenda))
        )
    assert meeting is not None
    return meeting


def meeting_id_from(location: str) -> int:
    m = re.fullmatch(r"/meetings/(\d+)", location)
    assert m, location
    return int(m.group(1))


async def test_meeting_page_and_api_role_matrix(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, chair_id=world.ids["member"])
    clients = await world.clients()
    page, api = f"/meetings/{meeting.id}", f"/api/meetings/{meeting.id}"

    r = await clients["anonymous"].get(page)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await clients["anonymous"].get(api)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"

    for name in ("member", "mo_head", "methodist", "admin"):
        r = await clients[name].get(page)
        assert r.status_code == 200, name
        assert "Войти в заседание" in r.text and f'href="/meetings/{meeting.id}/room"' in r.text
        # Moderators (the methodist, the admin, and here the member who chairs) see the guest link.
        moderator = name != "mo_head"
        assert (f"/g/{meeting.guest_token}" in r.text) is moderator, name
        assert ("Изменить заседание" in r.text) is (name in ("methodist", "admin")), name
        r = await clients[name].get(api)
        assert r.status_code == 200, name
        data = r.json()
        assert data["id"] == meeting.id and data["status"] == "scheduled"
        assert [i["title"] for i in data["agenda"]] == [
            "О плане работы СМО на учебный год",
            "Обмен опытом: формирующее оценивание",
        ]
        assert ("guest_url" in data) is moderator, name

    for url in (page, api):
        r = await clients["other_methodist"].get(url, headers=JSON)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    for url in ("/meetings/424242", "/api/meetings/424242", "/meetings/99999999999999999999"):
        r = await clients["admin"].get(url, headers=JSON)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", url


async def test_create_and_edit_meeting_round_trip(server: LiveServer, world: World) -> None:
    methodist = await world.client("methodist")
    r = await methodist.get(f"/associations/{world.association_id}/meetings/new")
    assert r.status_code == 200
    for label in ("Семинар-практикум", "Круглый стол", "Педагогическая мастерская", "Деловая игра"):
        assert label in r.text
    assert r.text.count('name="agenda_title[]"') >= 3  # blank rows work without JS

    r = await methodist.submit(f"/associations/{world.association_id}/meetings/new", meeting_form(world))
    assert r.status_code == 303, r.text[:2000]
    meeting_id = meeting_id_from(r.headers["location"])
    m = await load(server, meeting_id)
    assert m.title == "Формирующее оценивание на уроках математики"
    assert m.form.value == "workshop" and m.admission.value == "open"
    # Entered in Moscow time, stored in UTC.
    assert m.starts_at == datetime(2030, 12, 1, 12, 0, tzinfo=UTC)
    assert m.ends_at == datetime(2030, 12, 1, 13, 30, tzinfo=UTC)
    assert (m.chair_id, m.secretary_id) == (world.ids["methodist"], world.ids["mo_head"])
    assert [(i.position, i.title, i.rapporteur_id, i.planned_minutes) for i in m.agenda] == [
        (1, "О плане работы", world.ids["methodist"], 15),
        (2, "Из опыта работы", world.ids["member"], 25),
        (3, "Разное", None, 10),
    ]
    assert len(m.guest_token) >= 24

    r = await methodist.get(f"/meetings/{meeting_id}")
    assert "Заседание запланировано." in r.text  # the flash
    assert "1 декабря 2030 г." in r.text and "15:00–16:30" in r.text
    assert "Семинар-практикум" in r.text and "Всего по плану: 50 мин" in r.text

    r = await methodist.get(f"/meetings/{meeting_id}/edit")
    assert r.status_code == 200
    assert 'value="2030-12-01"' in r.text and 'value="15:00"' in r.text and 'value="16:30"' in r.text
    assert 'value="О плане работы"' in r.text

    # Edit: drop the first item, rename the others, move the time; kept rows keep their ids.
    old_ids = [i.id for i in m.agenda]
    form = meeting_form(
        world,
        title="Новая тема",
        start_time="10:05",
        end_time="11:00",
        chair_id="",
        **{
            "agenda_title[]": ["Из опыта работы (обновлено)", "Разное"],
            "agenda_rapporteur[]": [str(world.ids["mo_head"]), ""],
            "agenda_minutes[]": ["30", "5"],
        },
    )
    r = await methodist.submit(f"/meetings/{meeting_id}/edit", form)
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{meeting_id}"
    m = await load(server, meeting_id)
    assert m.title == "Новая тема" and m.chair_id is None
    assert m.starts_at == datetime(2030, 12, 1, 7, 5, tzinfo=UTC)
    assert [(i.id, i.position, i.title, i.rapporteur_id, i.planned_minutes) for i in m.agenda] == [
        (old_ids[0], 1, "Из опыта работы (обновлено)", world.ids["mo_head"], 30),
        (old_ids[1], 2, "Разное", None, 5),
    ]
    assert await count(server, AgendaItem) == 2

    # Growing the agenda again appends new rows.
    form["agenda_title[]"] = ["А", "Б", "В", "Г"]
    form["agenda_rapporteur[]"] = ["", "", "", ""]
    form["agenda_minutes[]"] = ["1", "2", "3", "4"]
    r = await methodist.submit(f"/meetings/{meeting_id}/edit", form)
    assert r.status_code == 303
    m = await load(server, meeting_id)
    assert [(i.position, i.title) for i in m.agenda] == [(1, "А"), (2, "Б"), (3, "В"), (4, "Г")]

    # The administrator may plan meetings in any association too.
    admin = await world.client("admin")
    r = await admin.submit(f"/associations/{world.association_id}/meetings/new", meeting_form(world))
    assert r.status_code == 303


async def test_meeting_title_is_escaped(server: LiveServer, world: World) -> None:
    methodist = await world.client("methodist")
    evil = "<script>alert('x')</script>"
    r = await methodist.submit(
        f"/associations/{world.association_id}/meetings/new",
        meeting_form(
            world,
            title=evil,
            description=evil,
            **{"agenda_title[]": [evil], "agenda_rapporteur[]": [""], "agenda_minutes[]": [""]},
        ),
    )
    assert r.status_code == 303
    for url in (r.headers["location"], f"/associations/{world.association_id}", "/"):
        html = (await methodist.get(url)).text
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(" in html, url


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("missing title", {"title": ""}, "title"),
    ("blank title", {"title": "   "}, "title"),
    ("too-long title", {"title": "т" * 301}, "title"),
    ("end before start", {"start_time": "16:00", "end_time": "15:00"}, "end_time"),
    ("end equals start", {"end_time": "15:00"}, "end_time"),
    ("bad date", {"date": "2030-02-30"}, "date"),
    ("garbage date", {"date": "завтра"}, "date"),
    ("ancient date", {"date": "0001-01-01"}, "date"),
    ("bad time", {"start_time": "25:00"}, "start_time"),
    ("unknown form", {"form": "party"}, "form"),
    ("unknown admission", {"admission": "all"}, "admission"),
    ("unknown chair id", {"chair_id": "987654"}, "chair_id"),
    ("non-numeric chair", {"chair_id": "abc"}, "chair_id"),
    ("huge chair id", {"chair_id": "99999999999999999999"}, "chair_id"),
    ("too-long agenda item", {"agenda_title[]": ["ж" * 501]}, "agenda.0.title"),
    (
        "agenda minutes zero",
        {"agenda_title[]": ["Пункт"], "agenda_minutes[]": ["0"]},
        "agenda.0.planned_minutes",
    ),
    (
        "rapporteur without item",
        {"agenda_title[]": [""], "agenda_rapporteur[]": ["1"], "agenda_minutes[]": [""]},
        "agenda.0.title",
    ),
    ("too many agenda items", {"agenda_title[]": [f"П{i}" for i in range(51)]}, "agenda"),
]


async def test_meeting_form_rejects_bad_input(server: LiveServer, world: World) -> None:
    methodist = await world.client("methodist")
    url = f"/associations/{world.association_id}/meetings/new"
    outsider = world.ids["other_methodist"]
    cases = [
        *BAD_INPUT,
        ("non-member chair", {"chair_id": str(outsider)}, "chair_id"),
        ("non-member secretary", {"secretary_id": str(outsider)}, "secretary_id"),
        (
            "non-member rapporteur",
            {"agenda_title[]": ["Пункт"], "agenda_rapporteur[]": [str(outsider)], "agenda_minutes[]": ["5"]},
            "agenda.0.rapporteur_id",
        ),
    ]
    for name, overrides, field in cases:
        r = await methodist.submit(url, meeting_form(world, **overrides))
        assert r.status_code == 422, (name, r.status_code)
        assert "Проверьте правильность заполнения полей." in r.text, name
        assert f'id="e-{field}"' in r.text, name
    assert await count(server, Meeting) == 0
    assert await count(server, AgendaItem) == 0
    # JSON clients get the typed error with the failing fields.
    r = await methodist.submit(url, meeting_form(world, title="", chair_id=str(outsider)), headers=JSON)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert r.json()["error"]["details"]["fields"] == {"title": "required"}
    r = await methodist.submit(url, meeting_form(world, chair_id=str(outsider)), headers=JSON)
    assert r.json()["error"]["details"]["fields"] == {"chair_id": "not_member"}
    # The form comes back refilled with what was typed.
    r = await methodist.submit(url, meeting_form(world, title="Тема", end_time="14:00"))
    assert 'value="Тема"' in r.text and "Окончание должно быть позже начала." in r.text

    # Malformed bodies and a missing CSRF token: 4xx, nothing written.
    token = await methodist.csrf()
    r = await methodist.post(
        url,
        content=b"title=%ff%fe&csrf_token=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422  # a truncated form: the required fields are missing
    r = await methodist.post(
        url, content=b"\xff\xfe\x00garbage", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 400
    r = await methodist.post(url, json={"title": "x"})
    assert r.status_code == 403
    r = await methodist.post(url, data=meeting_form(world))  # no csrf_token
    assert r.status_code == 403 and "Форма устарела" in r.text
    assert await count(server, Meeting) == 0


async def test_planning_permissions(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, chair_id=world.ids["member"])
    clients = await world.clients()
    new = f"/associations/{world.association_id}/meetings/new"
    posts = [
        (new, meeting_form(world)),
        (f"/meetings/{meeting.id}/edit", meeting_form(world)),
        (f"/meetings/{meeting.id}/cancel", {}),
    ]
    for name in ("member", "mo_head", "other_methodist"):
        c = clients[name]
        for url in (new, f"/meetings/{meeting.id}/edit"):
            r = await c.get(url, headers=JSON)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (name, url)
        for url, data in posts:
            r = await c.submit(url, data, headers=JSON)
            assert r.status_code == 403, (name, url)
        # Invalid input from someone without the right is still a 403, never a form with members.
        r = await c.submit(new, meeting_form(world, title=""))
        assert r.status_code == 403, name
    r = await clients["anonymous"].get(new)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await clients["anonymous"].submit(new, meeting_form(world))
    assert r.status_code in (303, 401, 403)
    r = await clients["methodist"].get("/associations/424242/meetings/new", headers=JSON)
    assert r.status_code == 404
    r = await clients["methodist"].get("/meetings/424242/edit", headers=JSON)
    assert r.status_code == 404

    assert await count(server, Meeting) == 1
    m = await load(server, meeting.id)
    assert m.status == MeetingStatus.scheduled and m.title == meeting.title
    # The other association's methodist plans in their own association only.
    r = await clients["other_methodist"].get(f"/associations/{world.other_association_id}/meetings/new")
    assert r.status_code == 200


async def test_editing_and_cancelling_follow_the_status(server: LiveServer, world: World) -> None:
    db = server.runtime.db
    live = await make_meeting(db, world.association_id, "Идёт", status=MeetingStatus.live)
    planned = await make_meeting(db, world.association_id, "Запланировано")
    methodist = await world.client("methodist")

    r = await methodist.get(f"/meetings/{live.id}/edit", headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "meeting_not_editable"
    r = await methodist.submit(f"/meetings/{live.id}/edit", meeting_form(world))
    assert r.status_code == 409 and "ещё не началось" in r.text
    assert (await load(server, live.id)).title == "Идёт"
    r = await methodist.submit(f"/meetings/{live.id}/cancel", {}, headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "meeting_not_cancellable"

    r = await methodist.submit(f"/meetings/{planned.id}/cancel", {})
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{planned.id}"
    assert (await load(server, planned.id)).status == MeetingStatus.cancelled
    r = await methodist.get(f"/meetings/{planned.id}")
    assert "Заседание отменено." in r.text
    assert f'href="/meetings/{planned.id}/room"' not in r.text
    r = await methodist.submit(f"/meetings/{planned.id}/cancel", {}, headers=JSON)
    assert r.status_code == 409
    r = await methodist.get(f"/meetings/{planned.id}/edit", headers=JSON)
    assert r.status_code == 409


async def test_guest_link_rotation(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id)
    old = meeting.guest_token
    member, methodist = (await world.clients("member", "methodist")).values()

    r = await member.submit(f"/meetings/{meeting.id}/guest-link/rotate", {}, headers=JSON)
    assert r.status_code == 403
    assert (await load(server, meeting.id)).guest_token == old

    r = await methodist.submit(f"/meetings/{meeting.id}/guest-link/rotate", {})
    assert r.status_code == 303
    new = (await load(server, meeting.id)).guest_token
    assert new != old
    r = await methodist.get(f"/meetings/{meeting.id}")
    assert f"{server.settings.public_url}/g/{new}" in r.text and old not in r.text

    anonymous = await world.client("anonymous")
    r = await anonymous.get(f"/g/{old}")
    assert r.status_code == 404 and 'data-code="guest_link_invalid"' in r.text
    r = await anonymous.get(f"/g/{new}")
    assert r.status_code == 200


async def test_guest_entry_flow(server: LiveServer, world: World, client: WebClient) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, "Открытый семинар")
    url = f"/g/{meeting.guest_token}"
    r = await client.get(url)
    assert r.status_code == 200
    assert "Открытый семинар" in r.text and 'name="organisation"' in r.text
    for part in ("last_name", "first_name", "middle_name"):  # the name asked for in its parts
        assert f'name="{part}"' in r.text

    r = await client.submit(url, {"name": "  ", "organisation": "Школа"})
    assert r.status_code == 422 and "Укажите фамилию и имя." in r.text
    r = await client.submit(url, {"last_name": "Орлова", "first_name": " ", "organisation": "Школа"})
    assert r.status_code == 422 and "Укажите имя." in r.text and 'value="Орлова"' in r.text
    r = await client.submit(url, {"first_name": "Вера", "middle_name": "Михайловна"})
    assert r.status_code == 422 and "Укажите фамилию и имя." in r.text
    r = await client.submit(url, {"name": "Гость" * 50})
    assert r.status_code == 422
    r = await client.post(url, data={"name": "Без токена"})
    assert r.status_code == 403
    assert await count(server, MeetingGuest) == 0

    r = await client.submit(url, {"name": "Соколова Анна Игоревна", "organisation": "КОИРО"})
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{meeting.id}/room"
    async with server.runtime.db.read() as s:
        guest = (await s.scalars(select(MeetingGuest))).one()
    assert (guest.meeting_id, guest.name, guest.organisation) == (
        meeting.id,
        "Соколова Анна Игоревна",
        "КОИРО",
    )
    assert re.fullmatch(r"[0-9a-f]{64}", guest.token_hash)
    assert session_of(server, client)["guest"] == {"id": guest.id, "meeting_id": meeting.id}

    # Parts in any case are tidied; a name typed on one line (any order, no patronymic) is parsed.
    for form, stored in (
        (
            {"last_name": "орлова", "first_name": "вера", "middle_name": "михайловна"},
            "Орлова Вера Михайловна",
        ),
        ({"name": "вера орлова"}, "Орлова Вера"),
        ({"name": "Вера Михайловна Орлова"}, "Орлова Вера Михайловна"),
        ({"last_name": "Smith", "first_name": "John"}, "John Smith"),
    ):
        other = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
        try:
            r = await other.submit(url, form)
            assert r.status_code == 303, form
        finally:
            await other.aclose()
        async with server.runtime.db.read() as s:
            last = await s.scalar(select(MeetingGuest).order_by(MeetingGuest.id.desc()).limit(1))
        assert last is not None and last.name == stored, form

    r = await client.get("/g/" + "x" * 32, headers=JSON)
    assert r.status_code == 404 and r.json()["error"]["code"] == "guest_link_invalid"
    r = await client.get("/g/short")
    assert r.status_code == 404


@pytest.mark.parametrize("status", [MeetingStatus.cancelled, MeetingStatus.ended])
async def test_guest_entry_to_a_closed_meeting(
    server: LiveServer, client: WebClient, world: World, status: MeetingStatus
) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, status=status)
    url = f"/g/{meeting.guest_token}"
    r = await client.get(url)
    assert r.status_code == 410
    expected = "Заседание отменено." if status == MeetingStatus.cancelled else "Заседание уже завершено."
    assert expected in r.text and 'name="last_name"' not in r.text
    r = await client.submit(url, {"name": "Опоздавший Гость"})
    assert r.status_code == 410
    assert await count(server, MeetingGuest) == 0
    assert "guest" not in session_of(server, client)


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_agenda_rows_in_the_browser(server: LiveServer, world: World) -> None:
    """agenda-form.js: add and remove rows, then the form round-trips through the server."""
    from tests.support.browser import chromium, login, open_tab

    async with chromium() as browser:
        tab = await open_tab(browser)
        page = tab.page
        await login(page, server.url, "methodist@example.org", DEFAULT_PASSWORD)
        await page.goto(f"{server.url}/associations/{world.association_id}/meetings/new")
        rows = page.locator("[data-agenda] tbody tr")
        assert await rows.count() == 3
        await page.click("[data-agenda-add]")
        await page.click("[data-agenda-add]")
        assert await rows.count() == 5
        await page.fill("#f-title", "Семинар <b>без</b> разметки")
        await page.fill("#f-date", "2030-12-01")
        await page.fill("#f-start_time", "15:00")
        await page.fill("#f-end_time", "16:00")
        for n, title in enumerate(["Первый", "Лишний", "Второй", "", "Третий"]):
            await rows.nth(n).locator("input[name='agenda_title[]']").fill(title)
        await rows.nth(1).locator("[data-agenda-remove]").click()
        assert await rows.count() == 4
        assert await rows.nth(1).locator("[data-n]").text_content() == "2"
        async with page.expect_navigation():
            await page.click("form button[type=submit].big")
        assert re.search(r"/meetings/\d+$", page.url), page.url
        tab.assert_clean()
        await tab.close()
    async with server.runtime.db.read() as s:
        meeting = (await s.scalars(select(Meeting).options(selectinload(Meeting.agenda)))).one()
    assert meeting.title == "Семинар <b>без</b> разметки"
    assert [i.title for i in meeting.agenda] == ["Первый", "Второй", "Третий"]
