"""What the room page offers depends on the participant's role, and leaving the page is clean
(headless Chromium against the real server, SQLite only: the UI does not depend on the database).

- The media moderator controls («Выключить микрофоны всем», «Заблокировать микрофоны», the
  per-tile mute / stop screen share) are on a methodist's page only; a teacher gets them once
  promoted to moderator.
- A page with a shared document open leaves (its own teardown, «Покинуть заседание») while a
  colleague keeps typing: no uncaught error in the page.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import chromium, open_tab, people
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast
from tests.test_docs_browser import open_documents
from tests.test_media_browser import enter_room
from tests.test_media_browser import seed as seed_media

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)

MOD_BUTTONS = ".media-mute-all, .media-lock, .media-tile-action"


async def visible_tiles(page: Page) -> int:
    return await page.locator(".media-tile:not([hidden])").count()


@browser_test
async def test_media_moderator_controls_only_for_moderators(server: LiveServer) -> None:
    meeting_id, teacher_id = await seed_media(server)
    async with people(2) as tabs:  # each with a camera of their own
        methodist, teacher = tabs[0].page, tabs[1].page
        await enter_room(methodist, server, "media-metodist@example.org", meeting_id)
        await enter_room(teacher, server, "media-teacher@example.org", meeting_id)
        for page in (methodist, teacher):
            await expect(page.locator("#room")).to_have_attribute("data-media", "mounted")
            await wait_for(lambda p=page: visible_tiles(p), 30, what="the other's video tile")
        # The methodist moderates: the moderator's menu and a tile action are there.
        await methodist.locator("#mod-menu-button").click()
        await expect(methodist.locator(".media-mute-all")).to_be_visible()
        await expect(methodist.locator(".media-mute-all")).to_have_text("Выключить микрофоны всем")
        await expect(methodist.locator(".media-lock")).to_be_visible()
        await expect(methodist.locator(".media-tile:not([hidden]) .media-tile-action").first).to_be_visible()
        # The teacher sees none of them (not in the page at all).
        await expect(teacher.locator(MOD_BUTTONS)).to_have_count(0)
        await expect(teacher.locator("#media-slot")).to_have_attribute("data-moderator", "false")
        await expect(teacher.get_by_text("Выключить микрофоны всем")).to_have_count(0)
        await expect(teacher.get_by_text("Заблокировать микрофоны")).to_have_count(0)
        # Promoted to moderator: the teacher's page shows the controls without a reload.
        ack = await methodist.evaluate(
            "(who) => window.smoRoom.request('participant.promote', {participant: who})",
            f"u:{teacher_id}",
        )
        assert ack["ok"] is True, ack
        await teacher.locator("#mod-menu-button").click()
        await expect(teacher.locator(".media-mute-all")).to_be_visible()
        await expect(teacher.locator(".media-lock")).to_be_visible()
        await expect(teacher.locator(".media-tile:not([hidden]) .media-tile-action").first).to_be_visible()
        for tab in tabs:
            tab.assert_clean()
        for page in (methodist, teacher):
            await page.goto("about:blank")


async def next_tick(page: Page) -> None:
    """Let the page's pending timers (y-prosemirror's deferred dispatches) run."""
    await page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")


@browser_test
async def test_leaving_with_a_document_open_raises_no_page_error(server: LiveServer) -> None:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="lv")
    mid = cast.meeting.id
    async with chromium() as browser:
        writer, leaver, other = await open_tab(browser), await open_tab(browser), await open_tab(browser)
        try:
            await open_documents(writer.page, server.url, "methodist-lv@example.org", mid)
            await open_documents(leaver.page, server.url, "teacher2-lv@example.org", mid)
            await open_documents(other.page, server.url, "member-lv@example.org", mid)
            await writer.page.click(".doc-editor")
            await writer.page.keyboard.type("Текст методиста. ")
            for tab in (leaver, other):
                await expect(tab.page.locator(".doc-editor")).to_contain_text("Текст методиста.")

            # 1. The teardown right after the page's own cursor changed (the cursor plugin has
            #    a refresh of the view pending), while the colleague keeps typing.
            await leaver.page.click(".doc-title")  # the editor loses the focus
            await leaver.page.evaluate(
                """() => {
                  document.querySelector('.doc-editor').focus();
                  window.dispatchEvent(new Event('beforeunload'));
                }"""
            )
            await writer.page.keyboard.type("Ещё текст, курсор движется. ")
            await expect(other.page.locator(".doc-editor")).to_contain_text("курсор движется")
            await next_tick(leaver.page)
            leaver.assert_clean()

            # 2. «Покинуть заседание» while the colleague types: the page goes, quietly.
            await other.page.click(".doc-editor")
            await other.page.keyboard.press("End")
            typing = writer.page.keyboard.type("Печатаю, пока коллега уходит. ", delay=20)
            await other.page.click(".room-leave")
            await other.page.wait_for_url(lambda url: "/room" not in url)
            await typing
            other.assert_clean()
            writer.assert_clean()
            await expect(writer.page.locator(".doc-editor")).to_contain_text("Печатаю, пока коллега уходит.")
        finally:
            for tab in (writer, leaver, other):
                await tab.close()
