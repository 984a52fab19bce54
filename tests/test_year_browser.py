"""A methodist's year in real headless Chromium: the yearly plan (head and two rows), a
meeting created from a row, its preparation (information letter, a material), a resource
published in the resource base, and the plan approved into the documents section.

Screenshots go to test-artifacts/year-*.png. The pages do not depend on the database, so
this runs on SQLite only (the server side is covered on both by tests/test_plan_*.py).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from server.db.models import Meeting, PlanRow, PlanRowStatus, Role
from server.db.types import utcnow
from server.domain.protocol.russian import moscow
from server.domain.protocol.workflow import school_year_of
from tests.support.browser import chromium, login, open_tab, screenshot
from tests.support.factories import add_member, make_association, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


@browser_test
async def test_methodist_plans_prepares_and_publishes(server: LiveServer, inbox: Inbox) -> None:
    db = server.runtime.db
    association = await make_association(db, name="СМО учителей математики")
    methodist = await make_user(
        db, "metodist@example.org", last_name="Смирнова", first_name="Елена", middle_name="Викторовна"
    )
    teacher = await make_user(db, "ivanova@example.org", last_name="Иванова", first_name="Ольга")
    await add_member(db, association.id, methodist.id, Role.methodist)
    await add_member(db, association.id, teacher.id, Role.member)
    aid = association.id
    day: date = moscow(utcnow()).date() + timedelta(days=21)
    year = school_year_of(day)
    base = server.url

    async with chromium() as browser:
        tab = await open_tab(browser)
        page = tab.page
        await login(
            page, base, "metodist@example.org", "secret123", next_url=f"/associations/{aid}/plan?year={year}"
        )
        await expect(page.locator("h1")).to_have_text(f"План работы на {year}/{year + 1} учебный год")
        await screenshot(page, "year-plan-empty")

        # The plan's head.
        head = page.locator("#header-form")
        await head.locator('textarea[name="theme"]').fill(
            "Формирование функциональной грамотности обучающихся"
        )
        await head.locator('textarea[name="goal"]').fill(
            "Повышение профессиональной компетентности педагогов"
        )
        await head.locator('textarea[name="tasks"]').fill(
            "Изучить опыт коллег по формированию грамотности\nПровести серию практических семинаров"
        )
        async with page.expect_navigation():
            await head.locator('button[type="submit"]').click()
        await expect(page.locator(".flash-ok")).to_contain_text("Тема, цель и задачи сохранены")

        # Two rows: one with an exact date, one by month.
        add = page.locator("#add-row")
        await add.locator('input[name="topic"]').fill("Функциональная грамотность на уроках математики")
        await add.locator('textarea[name="questions"]').fill(
            "Читательская грамотность\nЗадачи PISA в 7 классе"
        )
        await add.locator('input[name="form"]').fill("Семинар-практикум")
        await add.locator('input[name="planned_date"]').fill(day.isoformat())
        await add.locator('input[name="responsible"]').fill("Е.В. Смирнова")
        async with page.expect_navigation():
            await add.locator('button[type="submit"]').click()
        await expect(page.locator(".flash-ok")).to_contain_text("Строка добавлена")
        # A mistake first: no topic → the error is shown next to the field.
        await add.locator('input[name="dates_text"]').fill("март")
        async with page.expect_navigation():
            await add.locator('button[type="submit"]').click()
        await expect(add.locator(".field-error")).to_have_text("Заполните это поле.")
        await add.locator('input[name="topic"]').fill("Круглый стол «Оценивание без отметок»")
        await add.locator('input[name="form"]').fill("Круглый стол")
        async with page.expect_navigation():
            await add.locator('button[type="submit"]').click()
        rows = page.locator("table.plan-table tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(1)).to_contain_text("март")
        await expect(rows.nth(0)).to_contain_text("запланировано")
        await page.locator("table.plan-table").scroll_into_view_if_needed()
        await screenshot(page, "year-plan-rows")

        # A meeting from the first row: the meeting form opens prefilled.
        async with page.expect_navigation():
            await rows.nth(0).get_by_role("button", name="Создать заседание").click()
        assert re.search(r"/meetings/\d+/edit$", page.url)
        mid = int(page.url.split("/")[-2])
        await expect(page.locator('input[name="title"]')).to_have_value(
            "Функциональная грамотность на уроках математики"
        )
        await expect(page.locator('input[name="date"]')).to_have_value(day.isoformat())
        await screenshot(page, "year-meeting-from-row")
        await page.locator('input[name="start_time"]').fill("16:00")
        await page.locator('input[name="end_time"]').fill("17:30")
        async with page.expect_navigation():
            await page.locator("form button[type=submit]").last.click()
        assert page.url.endswith(f"/meetings/{mid}")
        await expect(page.locator("body")).to_contain_text("Задачи PISA в 7 классе")

        # Preparation: the information letter to the members, then a material.
        letter = page.locator(f'form[action="/meetings/{mid}/letter"] button')
        await expect(letter).to_be_visible()
        async with page.expect_navigation():
            await letter.first.click()
        await wait_for(lambda: bool(inbox.to("ivanova@example.org")), 20, what="information letter")
        await page.goto(f"{base}/meetings/{mid}/preparation")
        form = page.locator("form.prep-material-form")
        await form.locator('input[name="title"]').fill("Презентация к семинару")
        await form.locator('input[name="url"]').fill("https://example.org/seminar.pptx")
        async with page.expect_navigation():
            await form.locator('button[type="submit"]').click()
        await expect(page.locator("body")).to_contain_text("Презентация к семинару")
        await screenshot(page, "year-meeting-preparation")
        await page.goto(f"{base}/meetings/{mid}")
        await expect(page.locator("#materials")).to_contain_text("Презентация к семинару")
        await screenshot(page, "year-meeting-page")

        # A resource published in the association's resource base.
        await page.goto(f"{base}/associations/{aid}/resources/new")
        rform = page.locator("form.resource-form")
        await rform.locator('input[name="title"]').fill("Сборник задач PISA для 7 класса")
        await rform.locator('textarea[name="description"]').fill(
            "Задачи на функциональную грамотность с решениями"
        )
        await rform.locator('input[name="subject"]').fill("Математика")
        await rform.locator('input[name="link"]').fill("https://example.org/pisa-7.pdf")
        await rform.locator('input[name="publish"]').check()
        async with page.expect_navigation():
            await rform.locator('button[type="submit"]').click()
        await page.goto(f"{base}/associations/{aid}/resources")
        await expect(page.locator("body")).to_contain_text("Сборник задач PISA для 7 класса")
        await screenshot(page, "year-resources")

        # Back to the plan: the row links to its meeting; approve and publish.
        await page.goto(f"{base}/associations/{aid}/plan?year={year}")
        first = page.locator("table.plan-table tbody tr").nth(0)
        await expect(first.locator(f'a[href="/meetings/{mid}"]')).to_be_visible()
        async with page.expect_navigation():
            await page.get_by_role("button", name="Утвердить и опубликовать").click()
        await expect(page.locator(".flash-ok")).to_contain_text("версия 1")
        await screenshot(page, "year-plan-published")
        await first.scroll_into_view_if_needed()
        await screenshot(page, "year-plan-row-with-meeting")
        await page.get_by_role("link", name="Открыть в разделе «Документы»").click()
        await expect(page.locator("#plans")).to_contain_text(f"План работы на {year}/{year + 1} учебный год")
        await expect(page.locator("#plans")).to_contain_text("версия 1")
        await screenshot(page, "year-library")
        tab.assert_clean()
        await tab.close()

    async with db.read() as s:
        row = await s.scalar(select(PlanRow).where(PlanRow.meeting_id == mid))
        meeting = await s.get(Meeting, mid)
    assert row is not None and row.status == PlanRowStatus.planned
    assert meeting is not None and moscow(meeting.starts_at).hour == 16
