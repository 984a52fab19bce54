"""The yearly work plan over HTTP on both databases: the head and rows (add, edit, move,
delete), validation errors in Russian (422, nothing changed) and the role matrix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from server.db.models import PlanRow, PlanRowSource, Role, WorkPlan
from server.domain.year.plans import add_plan_row, current_school_year
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer


@dataclass
class World:
    aid: int
    other_aid: int
    year: int
    emails: dict[str, str]  # role -> e-mail


async def seed(server: LiveServer) -> World:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей математики")
    b = await make_association(db, name="СМО учителей истории")
    emails: dict[str, str] = {}
    for role, last in (
        ("methodist", "Смирнова"),
        ("member", "Петрова"),
        ("mo_head", "Сидоров"),
        ("admin", "Админов"),
        ("outsider", "Чужой"),
    ):
        email = f"{role}@example.org"
        user = await make_user(db, email, is_admin=role == "admin", last_name=last)
        emails[role] = email
        if role in ("methodist", "member", "mo_head"):
            await add_member(db, a.id, user.id, Role(role))
        elif role == "outsider":
            await add_member(db, b.id, user.id, Role.methodist)
    return World(a.id, b.id, current_school_year(), emails)


async def rows_of(server: LiveServer, aid: int, year: int) -> list[PlanRow]:
    async with server.runtime.db.read() as s:
        return list(
            await s.scalars(
                select(PlanRow)
                .join(WorkPlan, WorkPlan.id == PlanRow.plan_id)
                .where(WorkPlan.association_id == aid, WorkPlan.school_year == year)
                .order_by(PlanRow.position)
            )
        )


def in_year(year: int, days: int = 20) -> date:
    """A date inside the school year (a few weeks after its start)."""
    return date(year, 9, 1) + timedelta(days=days)


async def add_row(c: WebClient, w: World, topic: str, **fields: str) -> None:
    data = {"year": str(w.year), "topic": topic, **fields}
    r = await c.submit(f"/associations/{w.aid}/plan/rows", data)
    assert r.status_code == 303, r.text[:800]


async def test_methodist_builds_the_plan(server: LiveServer) -> None:
    w = await seed(server)
    c = await logged_in_client(server, w.emails["methodist"])
    try:
        page = await c.get(f"/associations/{w.aid}/plan")
        assert page.status_code == 200
        assert f"План работы на {w.year}/{w.year + 1} учебный год" in page.text
        assert f'action="/associations/{w.aid}/plan/rows"' in page.text

        r = await c.submit(
            f"/associations/{w.aid}/plan/header",
            {
                "year": str(w.year),
                "theme": "Формирование функциональной грамотности",
                "goal": "Повышение профессиональной компетентности",
                "tasks": "Изучить опыт коллег\n\n  Провести серию семинаров  \n",
            },
        )
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            plan = await s.scalar(select(WorkPlan).where(WorkPlan.association_id == w.aid))
            assert plan is not None
            assert plan.tasks == "Изучить опыт коллег\nПровести серию семинаров"

        day = in_year(w.year, 40)
        await add_row(
            c,
            w,
            "Организационное заседание",
            form="Организационное заседание",
            planned_date=day.isoformat(),
            responsible="Е.В. Смирнова",
            questions="Утверждение плана\nВыборы секретаря",
        )
        await add_row(c, w, "Круглый стол по оцениванию", form="Круглый стол", dates_text="ноябрь")
        await add_row(c, w, "Мастер-класс", planned_date=day.strftime("%d.%m.%Y"))
        rows = await rows_of(server, w.aid, w.year)
        assert [(r.position, r.topic) for r in rows] == [
            (1, "Организационное заседание"),
            (2, "Круглый стол по оцениванию"),
            (3, "Мастер-класс"),
        ]
        assert rows[2].planned_date == day  # «ДД.ММ.ГГГГ» is accepted too
        page = await c.get(f"/associations/{w.aid}/plan?year={w.year}")
        assert "Формирование функциональной грамотности" in page.text
        assert "Выборы секретаря" in page.text and "запланировано" in page.text
        assert f'href="/associations/{w.aid}/plan?year={w.year + 1}"' in page.text  # the year switcher

        # Move the third row to the top: numbers stay dense.
        r = await c.submit(f"/associations/{w.aid}/plan/rows/{rows[2].id}/move", {"position": "1"})
        assert r.status_code == 303 and r.headers["location"].endswith(f"year={w.year}")
        assert [(r.position, r.topic) for r in await rows_of(server, w.aid, w.year)] == [
            (1, "Мастер-класс"),
            (2, "Организационное заседание"),
            (3, "Круглый стол по оцениванию"),
        ]
        r = await c.submit(f"/associations/{w.aid}/plan/rows/{rows[2].id}/move", {"position": "99"})
        assert [r.topic for r in await rows_of(server, w.aid, w.year)][-1] == "Мастер-класс"

        # Edit a row on its own page.
        form = await c.get(f"/associations/{w.aid}/plan/rows/{rows[1].id}")
        assert form.status_code == 200 and "Круглый стол по оцениванию" in form.text
        r = await c.submit(
            f"/associations/{w.aid}/plan/rows/{rows[1].id}",
            {"topic": "Круглый стол «Оценивание»", "form": "Круглый стол", "dates_text": "декабрь"},
        )
        assert r.status_code == 303
        edited = next(r for r in await rows_of(server, w.aid, w.year) if r.id == rows[1].id)
        assert (edited.topic, edited.dates_text) == ("Круглый стол «Оценивание»", "декабрь")

        # Delete the first row: the rest move up.
        first = (await rows_of(server, w.aid, w.year))[0]
        r = await c.submit(f"/associations/{w.aid}/plan/rows/{first.id}/delete")
        assert r.status_code == 303
        assert [(r.position, r.topic) for r in await rows_of(server, w.aid, w.year)] == [
            (1, "Круглый стол «Оценивание»"),
            (2, "Мастер-класс"),
        ]
        # Rows added by other features show where they came from.
        async with server.runtime.db.transaction() as s:
            await add_plan_row(s, w.aid, w.year, topic="Цифровые ресурсы", source=PlanRowSource.needs)
            await add_plan_row(s, w.aid, w.year, topic="Проектная работа", source=PlanRowSource.topic)
            await add_plan_row(s, w.aid, w.year, topic="Наставничество", source=PlanRowSource.analysis)
        page = await c.get(f"/associations/{w.aid}/plan?year={w.year}")
        for badge in ("из анкетирования", "предложение участника", "из анализа года"):
            assert badge in page.text
        # Another year is its own plan.
        page = await c.get(f"/associations/{w.aid}/plan?year={w.year - 1}")
        assert page.status_code == 200 and 'id="row-' not in page.text
        assert (await c.get(f"/associations/{w.aid}/plan?year=abc")).status_code == 400
        assert (await c.get(f"/associations/{w.aid}/plan?year=1900")).status_code == 404
    finally:
        await c.aclose()


async def test_validation_errors_change_nothing(server: LiveServer) -> None:
    w = await seed(server)
    c = await logged_in_client(server, w.emails["methodist"])
    try:
        await add_row(c, w, "Семинар", planned_date=in_year(w.year).isoformat())
        before = [(r.id, r.topic, r.planned_date) for r in await rows_of(server, w.aid, w.year)]
        bad_rows = [
            ({"topic": "   "}, "Заполните это поле."),
            ({"topic": "Т" * 501}, "Слишком длинный текст."),
            ({"topic": "Тема", "planned_date": "32.13.2026"}, "Укажите дату в виде ДД.ММ.ГГГГ."),
            ({"topic": "Тема", "planned_date": f"{w.year + 1}-09-05"}, "внутри учебного года"),
            ({"topic": "Тема", "responsible": "Я" * 301}, "Слишком длинный текст."),
        ]
        for data, message in bad_rows:
            r = await c.submit(f"/associations/{w.aid}/plan/rows", {"year": str(w.year), **data})
            assert r.status_code == 422, data
            assert message in r.text and "Проверьте правильность заполнения полей." in r.text
            assert 'class="field-error"' in r.text
        # The rejected input is shown again for correction.
        r = await c.submit(
            f"/associations/{w.aid}/plan/rows",
            {"year": str(w.year), "topic": "", "questions": "Мой вопрос <b>жирный</b>"},
        )
        assert "Мой вопрос &lt;b&gt;жирный&lt;/b&gt;" in r.text
        row_id = before[0][0]
        r = await c.submit(f"/associations/{w.aid}/plan/rows/{row_id}", {"topic": ""})
        assert r.status_code == 422 and "Заполните это поле." in r.text
        r = await c.submit(
            f"/associations/{w.aid}/plan/header", {"year": str(w.year), "theme": "x" * 1001, "goal": "Цель"}
        )
        assert r.status_code == 422 and "Слишком длинный текст." in r.text
        assert [(r.id, r.topic, r.planned_date) for r in await rows_of(server, w.aid, w.year)] == before
        async with server.runtime.db.read() as s:
            plan = await s.scalar(select(WorkPlan).where(WorkPlan.association_id == w.aid))
            assert plan is not None and plan.theme == "" and plan.goal == ""
        # Bad ids and years.
        assert (await c.submit(f"/associations/{w.aid}/plan/rows/999999/delete")).status_code == 404
        assert (await c.get(f"/associations/{w.aid}/plan/rows/0")).status_code == 404
        r = await c.submit(f"/associations/{w.aid}/plan/rows", {"year": "x", "topic": "Т"})
        assert r.status_code == 400
        assert (await c.get("/associations/999999/plan")).status_code == 404
        # Without a CSRF token nothing happens.
        r = await c.post(f"/associations/{w.aid}/plan/rows", data={"year": str(w.year), "topic": "Т"})
        assert r.status_code == 403
        assert len(await rows_of(server, w.aid, w.year)) == 1
    finally:
        await c.aclose()


async def test_role_matrix(server: LiveServer) -> None:
    w = await seed(server)
    meth = await logged_in_client(server, w.emails["methodist"])
    try:
        await add_row(meth, w, "Семинар по ФГОС", planned_date=in_year(w.year).isoformat())
        r = await meth.submit(
            f"/associations/{w.aid}/plan/header", {"year": str(w.year), "theme": "Тема года"}
        )
        assert r.status_code == 303
    finally:
        await meth.aclose()
    row = (await rows_of(server, w.aid, w.year))[0]
    base = f"/associations/{w.aid}/plan"
    writes = [
        (f"{base}/header", {"year": str(w.year), "theme": "Чужая тема"}),
        (f"{base}/rows", {"year": str(w.year), "topic": "Чужая строка"}),
        (f"{base}/rows/{row.id}", {"topic": "Переименовано"}),
        (f"{base}/rows/{row.id}/move", {"position": "1"}),
        (f"{base}/rows/{row.id}/meeting", {}),
        (f"{base}/rows/{row.id}/delete", {}),
        (f"{base}/publish", {"year": str(w.year)}),
    ]

    # Guests are sent to the login page (401 for JSON clients).
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as guest:
        r = await guest.get(base)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (await guest.get(f"{base}/{w.year}.docx")).status_code == 303
        for url, data in writes:
            r = await guest.submit(url, data)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
        r = await guest.get(base, headers={"Accept": "application/json"})
        assert r.status_code == 401

    # Members and school-MO heads read (and download), never write.
    for role in ("member", "mo_head"):
        c = await logged_in_client(server, w.emails[role])
        try:
            page = await c.get(base)
            assert page.status_code == 200
            assert "Семинар по ФГОС" in page.text and "Тема года" in page.text
            assert "Добавить строку" not in page.text and "Создать заседание" not in page.text
            assert "Утвердить и опубликовать" not in page.text
            assert (await c.get(f"{base}/{w.year}.docx")).status_code == 200
            assert (await c.get(f"{base}/rows/{row.id}")).status_code == 403
            for url, data in writes:
                assert (await c.submit(url, data)).status_code == 403, (role, url)
        finally:
            await c.aclose()

    # A member of another association sees nothing; its plan paths do not reach our rows.
    c = await logged_in_client(server, w.emails["outsider"])
    try:
        assert (await c.get(base)).status_code == 403
        assert (await c.get(f"{base}/{w.year}.pdf")).status_code == 403
        for url, data in writes:
            assert (await c.submit(url, data)).status_code == 403, url
        other = f"/associations/{w.other_aid}/plan/rows/{row.id}"
        assert (await c.submit(other, {"topic": "Чужое"})).status_code == 404
        assert (await c.submit(f"{other}/delete")).status_code == 404
    finally:
        await c.aclose()

    # An administrator edits any association's plan.
    c = await logged_in_client(server, w.emails["admin"])
    try:
        page = await c.get(base)
        assert page.status_code == 200 and "Добавить строку" in page.text
        r = await c.submit(f"{base}/rows/{row.id}", {"topic": "Семинар (исправлено администратором)"})
        assert r.status_code == 303
    finally:
        await c.aclose()
    rows = await rows_of(server, w.aid, w.year)
    assert [r.topic for r in rows] == ["Семинар (исправлено администратором)"]
    async with server.runtime.db.read() as s:
        plan = await s.scalar(select(WorkPlan).where(WorkPlan.association_id == w.aid))
        assert plan is not None and plan.theme == "Тема года"
