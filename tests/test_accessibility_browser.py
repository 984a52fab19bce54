"""Accessibility pass with axe-core (static/vendor/axe, vendored from the pinned npm package,
injected by the test only; the app's pages never load it): the room and the main pages have no
critical violations, and every button has a Russian accessible name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import chromium, login, open_tab, screenshot
from tests.test_room_layout_browser import seed

AXE = Path(__file__).resolve().parents[1] / "static" / "vendor" / "axe" / "axe.min.js"  # served by the app

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)

BUTTON_NAMES = """() => [...document.querySelectorAll('button, [role=button], summary')]
  .filter((b) => b.getClientRects().length > 0 || b.closest('#side, #mod-menu'))
  .map((b) => ({name: (b.getAttribute('aria-label') || b.textContent || b.title || '').trim(), id: b.id}))
  .filter((b) => !/[А-Яа-яЁё]/.test(b.name))"""


SHOWN_NAMES = """() => [...document.querySelectorAll('button, summary')]
  .filter((b) => b.getClientRects().length > 0)
  .map((b) => (b.getAttribute('aria-label') || b.textContent || '').trim())"""


async def critical(page: Page) -> list[str]:
    await page.add_script_tag(url="/static/vendor/axe/axe.min.js")  # same origin: the CSP allows it
    result = await page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result if v["impact"] == "critical"]


@browser_test
async def test_room_and_main_pages_pass_axe(server, backend) -> None:  # type: ignore[no-untyped-def]
    assert AXE.exists(), "static/vendor/axe: cd frontend/axe && npm install && npm run build"
    meeting_id, _, _ = await seed(server)
    async with chromium() as browser:
        tab = await open_tab(browser)
        try:
            page = tab.page
            room = f"/meetings/{meeting_id}/room"
            await login(page, server.url, "layout-metodist@example.org", "secret123", next_url=room)
            await expect(page.locator("#prejoin")).to_be_visible()
            assert await critical(page) == [], "pre-join"
            await page.get_by_role("button", name="Войти без камеры и микрофона").click()
            await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
            await page.get_by_role("button", name="Начать заседание").click()
            await expect(page.locator("#room-status")).to_have_text("Идёт")
            assert await critical(page) == [], "room"
            assert await page.evaluate(BUTTON_NAMES) == []
            for panel in ("participants", "chat", "agenda", "polls", "documents"):
                await page.locator(f'[data-panel-button="{panel}"]').click()
                assert await page.evaluate(BUTTON_NAMES) == [], panel
                # No two buttons on screen with the same name.
                names = await page.evaluate(SHOWN_NAMES)
                assert len(names) == len(set(names)), (panel, sorted(n for n in names if names.count(n) > 1))
            await page.goto(f"{server.url}/meetings/{meeting_id}")
            association = await page.locator("nav.crumbs a").first.get_attribute("href")
            for path in (
                "/",
                f"/meetings/{meeting_id}",
                "/search?q=план",
                association,
                f"{association}/stats",
            ):
                await page.goto(f"{server.url}{path}")
                assert await critical(page) == [], path
                assert await page.evaluate(BUTTON_NAMES) == [], path
                # Nothing wider than the window (tables scroll inside their cards).
                assert await page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), path
                await screenshot(page, "a11y-" + (re.sub(r"\W+", "-", path).strip("-") or "home"))
            tab.assert_clean()
        finally:
            await tab.close()
