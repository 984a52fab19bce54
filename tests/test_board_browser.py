"""The whiteboard in headless Chromium (the real bundle: Excalidraw + Yjs over the room's
Socket.IO): two pages draw and see each other's strokes, a reloaded page sees the board as it
was, a formula (MathJax -> PNG picture) lands on the board for both, a second page."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from server.domain.meeting import board, documents
from tests.support.browser import chromium, login, open_tab, screenshot
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.live import LiveServer
from tests.support.room_seed import seed_cast

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


async def open_board(page: Page, url: str, email: str, meeting_id: int, *, log_in: bool = True) -> None:
    if log_in:
        await login(page, url, email, DEFAULT_PASSWORD, next_url=f"/meetings/{meeting_id}/room")
    await page.get_by_role("button", name="Войти без камеры и микрофона").click()
    await expect(page.locator("#room")).to_have_attribute("data-connection", "online", timeout=20_000)
    await expect(page.locator("#room")).to_have_attribute("data-board", "mounted")
    await page.click("[data-board-button]")
    await expect(page.locator(".board-overlay")).to_have_attribute("data-can-edit", "true", timeout=20_000)
    await expect(page.locator(".board-excalidraw canvas.interactive")).to_be_visible(timeout=20_000)


async def scene(page: Page) -> list[dict[str, Any]]:
    result = await page.evaluate("window.smoBoard ? window.smoBoard.visibleElements() : []")
    assert isinstance(result, list)
    return result


async def until(page: Page, predicate: Any, what: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Poll the page's scene until ``predicate(elements)`` holds (no timing asserted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        elements = await scene(page)
        if predicate(elements):
            return elements
        if loop.time() > deadline:
            raise AssertionError(f"{what}: scene is {elements}")
        await asyncio.sleep(0.2)


async def drag(page: Page, tool: str, start: tuple[int, int], points: list[tuple[int, int]]) -> None:
    await page.click(f'[data-testid="toolbar-{tool}"]', force=True)  # its icon covers the radio
    box = await page.locator(".board-excalidraw canvas.interactive").bounding_box()
    assert box is not None
    x0, y0 = box["x"], box["y"]
    await page.mouse.move(x0 + start[0], y0 + start[1])
    await page.mouse.down()
    for x, y in points:
        await page.mouse.move(x0 + x, y0 + y, steps=4)
    await page.mouse.up()


# A 64 x 48 PNG drawn on a canvas, dropped onto Excalidraw like a file from the file manager.
DROP_PICTURE = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const g = canvas.getContext("2d");
  g.fillStyle = "#2f9e44"; g.fillRect(0, 0, 64, 48);
  const blob = await new Promise((r) => canvas.toBlob(r, "image/png"));
  const file = new File([blob], "picture.png", { type: "image/png" });
  const data = new DataTransfer();
  data.items.add(file);
  const target = document.querySelector(".board-excalidraw canvas.interactive");
  const box = target.getBoundingClientRect();
  const at = { clientX: box.left + 500, clientY: box.top + 300, bubbles: true, cancelable: true, dataTransfer: data };
  target.dispatchEvent(new DragEvent("dragover", at));
  target.dispatchEvent(new DragEvent("drop", at));
}"""


def types(elements: list[dict[str, Any]]) -> list[str]:
    return sorted(e["type"] for e in elements)


@browser_test
async def test_two_pages_draw_reload_and_a_formula(server: LiveServer) -> None:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="bb")
    mid = cast.meeting.id
    async with chromium() as browser:
        a, b = await open_tab(browser), await open_tab(browser)
        try:
            await open_board(a.page, server.url, "methodist-bb@example.org", mid)
            await open_board(b.page, server.url, "member-bb@example.org", mid)
            # The methodist draws a rectangle; the teacher sees it, and draws with the pen.
            await drag(a.page, "rectangle", (300, 200), [(500, 330)])
            await until(b.page, lambda els: types(els) == ["rectangle"], "the rectangle reaches the teacher")
            # Letters typed on the board are the board's: "d" is the diamond, and "g" (the room's
            # polls panel) does nothing behind the board.
            await a.page.keyboard.press("d")
            await expect(a.page.locator('[data-testid="toolbar-diamond"]')).to_be_checked()
            await a.page.keyboard.press("g")
            await expect(a.page.locator("#room")).not_to_have_attribute("data-panel", "documents")
            assert await a.page.locator("#room").get_attribute("data-panel") in (None, "")
            await drag(b.page, "freedraw", (320, 400), [(360, 430), (420, 410), (480, 460)])
            await until(
                a.page,
                lambda els: types(els) == ["freedraw", "rectangle"],
                "the stroke reaches the methodist",
            )

            # The teacher reloads: the board is as it was.
            await b.page.reload()
            await open_board(b.page, server.url, "", mid, log_in=False)
            await until(
                b.page, lambda els: types(els) == ["freedraw", "rectangle"], "the board after a reload"
            )

            # A formula: TeX -> a picture on the board, for both.
            await a.page.click(".board-formula-toggle")
            await a.page.fill(".board-formula-input", r"\frac{a+b}{2} \ge \sqrt{ab}")
            await a.page.click(".board-formula button[type=submit]")
            both = await until(
                b.page,
                lambda els: any(e["type"] == "image" and e["tex"] for e in els),
                "the formula reaches the teacher",
            )
            formula = next(e for e in both if e["type"] == "image")
            assert formula["tex"] == r"\frac{a+b}{2} \ge \sqrt{ab}"
            # The teacher's Excalidraw has the picture itself (it draws it), a real PNG.
            loaded = await b.page.evaluate(
                "(id) => { const f = window.smoBoard.api.getFiles()[id]; return f ? f.dataURL : null; }",
                formula["fileId"],
            )
            assert isinstance(loaded, str) and loaded.startswith("data:image/png;base64,")
            await screenshot(a.page, "board-methodist")
            await screenshot(b.page, "board-teacher")

            # A second page: drawn on by the methodist, the teacher's first page untouched.
            await a.page.click(".board-page-add")
            await until(a.page, lambda els: els == [], "the new page is empty")
            await drag(a.page, "ellipse", (300, 250), [(450, 350)])
            await expect(b.page.locator(".board-page")).to_have_count(2)
            await until(b.page, lambda els: len(els) == 3, "the teacher stays on page 1")
            await b.page.locator(".board-page").nth(1).click()
            await until(b.page, lambda els: types(els) == ["ellipse"], "page 2 for the teacher")
            # A picture dropped onto the board (as from the file manager) reaches the teacher.
            await a.page.evaluate(DROP_PICTURE)
            pics = await until(
                b.page,
                lambda els: (
                    types(els) == ["ellipse", "image"]
                    and all(e["fileId"] for e in els if e["type"] == "image")
                ),
                "the dropped picture reaches the teacher",
            )
            dropped = next(e for e in pics if e["type"] == "image")
            await b.page.wait_for_function(
                "(id) => Boolean(window.smoBoard.api.getFiles()[id])", arg=dropped["fileId"]
            )

            # Stored by the server: the three elements and the formula's picture, with ink on it.
            async with server.runtime.db.read() as s:
                rows = await documents.list_documents(s, mid)
                board_row = next(d for d in rows if d.kind == "board")
                ydoc, _ = await documents.load_doc(s, board_row.id)
            first, second = board.read_pages(ydoc)
            assert sorted(e["type"] for e in first.elements) == ["freedraw", "image", "rectangle"]
            assert sorted(e["type"] for e in second.elements) == ["ellipse", "image"]
            assert second.title == "Страница 2"
            assert dropped["fileId"] in board.read_files(ydoc)
            png = base64.b64decode(board.read_files(ydoc)[formula["fileId"]].split(",", 1)[1])
            picture = Image.open(io.BytesIO(png)).convert("RGBA")
            assert picture.width > 40 and picture.height > 20
            raw = picture.tobytes()
            pixels = zip(raw[0::4], raw[1::4], raw[2::4], raw[3::4], strict=True)
            dark = sum(1 for r, g, bl, al in pixels if al > 128 and r + g + bl < 200)
            assert dark > 50, "the formula's picture has ink"
            # Nothing fetched from elsewhere (fonts included): the page's CSP would report it.
            assert not [e for e in a.console_errors + b.console_errors if "Content Security Policy" in e]
            a.assert_clean()
            b.assert_clean()
        finally:
            await a.close()
            await b.close()
