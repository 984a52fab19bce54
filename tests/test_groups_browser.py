"""The «Работа в группах» panel in headless Chromium against the real server: the methodist
sets up one group by hand and starts it; the teacher's page shows the group, its task and the
time left, calls the moderator, raises a hand in the group's own queue (not the main room's);
the methodist sees the call, broadcasts, ends the groups (the hand goes down); the groups'
documents are listed afterwards. SQLite only (the page does not depend on the database)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.support.browser import chromium, open_tab, screenshot
from tests.support.live import LiveServer
from tests.test_room_browser import enter_room, open_panel, seed

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


@browser_test
async def test_the_moderator_runs_groups_from_the_panel(server: LiveServer) -> None:
    meeting_id, (_methodist_id, teacher_id) = await seed(server)
    teacher_key = f"u:{teacher_id}"
    async with chromium() as browser:
        mt, tt = await open_tab(browser), await open_tab(browser)
        try:
            m = await enter_room(mt, server, "metodist@example.org", meeting_id)
            t = await enter_room(tt, server, "teacher@example.org", meeting_id)
            await expect(m.locator("#room")).to_have_attribute("data-groups", "mounted")
            await m.get_by_role("button", name="Начать заседание").click()
            await expect(t.locator("#room-status")).to_have_text("Идёт")

            # The teacher has no setup form; the methodist has.
            await open_panel(t, "groups")
            await expect(t.locator("#groups-start")).to_have_count(0)
            await open_panel(m, "groups")
            await m.locator("#groups-count").fill("1")
            await m.locator("#groups-count").dispatch_event("change")
            await m.locator("#groups-manual").check()
            await m.locator("#groups-name-0").fill("Практики")
            await m.locator("#groups-task-0").fill("Разобрать задание 21")
            await m.locator(f'.groups-pick[data-participant="{teacher_key}"]').select_option("0")
            await m.locator("#groups-minutes").fill("10")
            await m.locator("#groups-minutes").dispatch_event("change")
            # The teacher has the board open when the groups start: it gives way to the group.
            await expect(t.locator("#room")).to_have_attribute("data-board", "mounted")
            await t.locator("[data-board-button]").click()
            await expect(t.locator("#board")).to_be_visible()
            await m.locator("#groups-start").click()

            # The teacher is in the group: its banner, task and countdown over the stage.
            await expect(t.locator("#board")).to_be_hidden()
            banner = t.locator("#groups-banner")
            await expect(banner).to_contain_text("Вы в группе «Практики»")
            await expect(banner).to_contain_text("Разобрать задание 21")
            await expect(banner.locator(".groups-countdown")).to_contain_text("Осталось")
            await t.get_by_role("button", name="Позвать ведущего").click()
            await expect(m.locator('.groups-card.called[data-group="1"]')).to_contain_text("зовёт ведущего")
            await screenshot(m, "groups-moderator")

            # The group has its own queue of raised hands: the teacher is first there, and the
            # methodist in the main room does not see the hand in the main room's queue.
            await t.locator("#hand-button").click()
            await expect(t.locator("#hand-button")).to_have_class(re.compile("raised"))
            await open_panel(t, "participants")
            await expect(t.locator(f'#hand-queue li[data-participant="{teacher_key}"]')).to_contain_text("1.")
            await open_panel(m, "participants")
            await expect(m.locator("#speakers-body .queue-empty")).to_be_visible()
            await expect(m.locator("#hand-queue")).to_have_count(0)
            # The group's chat is the group's: the methodist in the main room gets no unread mark
            # for it (the moderator receives it, to read when visiting).
            await open_panel(m, "groups")
            await open_panel(t, "chat")
            await t.locator("#chat-input").fill("Начнём с условия задачи")
            await t.locator("#chat-send").click()
            await expect(t.locator("#chat-panel")).to_contain_text("Начнём с условия задачи")
            chat_badge = m.locator('[data-panel-button="chat"] .cb-badge')
            await m.wait_for_function(  # the message has reached the methodist's page
                "() => window.smoRoom.store.state.chat.some((c) => c.text === 'Начнём с условия задачи')"
            )
            await expect(chat_badge).to_be_hidden()

            await m.locator("#groups-broadcast-text").fill("Осталось пять минут")
            await m.locator("#groups-broadcast-send").click()
            await expect(t.locator("#toasts")).to_contain_text("Сообщение ведущего: Осталось пять минут")
            await screenshot(t, "groups-participant")

            await m.locator("#groups-end").click()
            await m.locator("#groups-end-confirm").click()
            await expect(banner).to_be_hidden()
            # Back in the main room, the hand raised in the group is down.
            await expect(t.locator("#hand-button")).not_to_have_class(re.compile("raised"))
            await expect(m.locator(".groups-results")).to_contain_text("Практики")
            await expect(t.locator(".groups-results")).to_contain_text("Практики")
            mt.assert_clean()
            tt.assert_clean()
        finally:
            await mt.close()
            await tt.close()
