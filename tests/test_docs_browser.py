"""Two headless Chromium pages type into the same shared document and see each other's text
(the real editor bundle: ProseMirror + y-prosemirror + Yjs, over the room's Socket.IO)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import chromium, login, open_tab, screenshot
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.live import LiveServer
from tests.support.room_seed import seed_cast

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


async def open_documents(page: Page, url: str, email: str, meeting_id: int) -> None:
    await login(page, url, email, DEFAULT_PASSWORD, next_url=f"/meetings/{meeting_id}/room")
    # The device check before entering: no camera or microphone needed here.
    await page.get_by_role("button", name="Войти без камеры и микрофона").click()
    await expect(page.locator("#room")).to_have_attribute("data-connection", "online", timeout=20_000)
    await page.click('[data-panel-button="documents"]')  # the documents side panel
    await expect(page.locator("#room")).to_have_attribute("data-documents", "mounted")
    await expect(page.locator(".doc-editor")).to_have_attribute("contenteditable", "true")


@browser_test
async def test_two_pages_type_into_one_document(server: LiveServer) -> None:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="br")
    mid = cast.meeting.id
    async with chromium() as browser:
        a, b = await open_tab(browser), await open_tab(browser)
        try:
            await open_documents(a.page, server.url, "methodist-br@example.org", mid)
            await open_documents(b.page, server.url, "member-br@example.org", mid)
            await a.page.click(".doc-editor")
            await a.page.keyboard.type("Предложение методиста. ")
            await expect(b.page.locator(".doc-editor")).to_contain_text("Предложение методиста.")
            await b.page.click(".doc-editor")
            await b.page.keyboard.press("End")
            await b.page.keyboard.press("Enter")
            await b.page.keyboard.type("Дополнение учителя")
            await expect(a.page.locator(".doc-editor")).to_contain_text("Дополнение учителя")
            # the other's cursor is shown with their name
            await expect(a.page.locator(".ProseMirror-yjs-cursor")).to_contain_text("Петрова")
            await screenshot(a.page, "documents-methodist")
            async with server.runtime.db.read() as s:
                from server.domain.meeting.documents import document_text, list_documents

                notes = (await list_documents(s, mid))[0]
                text = await document_text(s, notes.id)
            assert "Предложение методиста." in text and "Дополнение учителя" in text
            a.assert_clean()
            b.assert_clean()
        finally:
            await a.close()
            await b.close()


@browser_test
async def test_edits_made_offline_arrive_after_the_reconnect(server: LiveServer) -> None:
    from realtime.meeting.broadcast import participant_room

    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="off")
    mid = cast.meeting.id
    async with chromium() as browser:
        a, b = await open_tab(browser), await open_tab(browser)
        try:
            await open_documents(a.page, server.url, "methodist-off@example.org", mid)
            await open_documents(b.page, server.url, "member-off@example.org", mid)
            await a.page.click(".doc-editor")
            await a.page.keyboard.type("Общий текст.")
            await expect(b.page.locator(".doc-editor")).to_contain_text("Общий текст.")
            # The teacher's network drops; the server sees the connection go.
            await b.context.set_offline(True)
            sio = server.runtime.sio
            assert sio is not None
            for sid, _ in list(sio.manager.get_participants("/", participant_room(mid, cast.key("member")))):
                await sio.disconnect(sid)
            await expect(b.page.locator(".doc-status")).not_to_be_empty()
            await b.page.click(".doc-editor")
            await b.page.keyboard.press("End")
            await b.page.keyboard.press("Enter")
            await b.page.keyboard.type("Написано без связи")
            await a.page.keyboard.press("Enter")
            await a.page.keyboard.type("Пока коллеги нет")
            await b.context.set_offline(False)
            for tab in (a, b):
                await expect(tab.page.locator(".doc-editor")).to_contain_text(
                    "Написано без связи", timeout=20_000
                )
                await expect(tab.page.locator(".doc-editor")).to_contain_text(
                    "Пока коллеги нет", timeout=20_000
                )
            async with server.runtime.db.read() as s:
                from server.domain.meeting.documents import document_text, list_documents

                text = await document_text(s, (await list_documents(s, mid))[0].id)
            assert "Написано без связи" in text and "Пока коллеги нет" in text
            await screenshot(b.page, "documents-after-reconnect")
            a.assert_clean()
            b.assert_clean()
        finally:
            await a.close()
            await b.close()
