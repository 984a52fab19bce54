"""Headless Chromium (Debian's package) driven by Playwright, with the flags that work on
these machines (shared/design/WEBRTC_TESTING.md). Never ``playwright install``: the system
binary is launched directly.

    async with chromium() as browser:
        tab = await open_tab(browser)
        await login(tab.page, server.url, "alice@example.org", "secret123", next_url="/")
        ...
        await screenshot(tab.page, "room-methodist")   # test-artifacts/room-methodist.png
        tab.assert_clean()                             # no dialog, no uncaught page error
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
    expect,
)

# A loaded 2-core CI machine runs the server, its media and two browsers at once.
expect.set_options(timeout=10_000)

CHROMIUM = Path("/usr/lib/chromium/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCHOOL_SCREEN: ViewportSize = {"width": 1366, "height": 768}


def chromium_path() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


async def _launch(pw: Playwright, extra_args: tuple[str, ...]) -> Browser:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (scripts/system-deps.sh)")
    return await pw.chromium.launch(executable_path=str(path), headless=True, args=[*FLAGS, *extra_args])


@asynccontextmanager
async def chromium(extra_args: tuple[str, ...] = ()) -> AsyncIterator[Browser]:
    """``extra_args``: e.g. ``--use-file-for-fake-audio-capture=speech.wav`` (the fake mic)."""
    async with async_playwright() as pw:
        browser = await _launch(pw, extra_args)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def people(count: int, extra_args: tuple[str, ...] = ()) -> AsyncIterator[list[Tab]]:
    """``count`` people, each with a tab in a browser of their own, as on their own computers.

    Tabs of one browser share its one fake camera. A second page that opened it while the first
    was sending sometimes got a live track whose frames never reached its ``<video>``, in about
    one full run in three, never alone. Tests that look at people's pictures give each person a
    browser of their own."""
    async with async_playwright() as pw, AsyncExitStack() as stack:
        tabs: list[Tab] = []
        for _ in range(count):
            browser = await _launch(pw, extra_args)
            stack.push_async_callback(browser.close)
            tab = await open_tab(browser)
            stack.push_async_callback(tab.close)
            tabs.append(tab)
        yield tabs


@dataclass
class Tab:
    """One page in its own browser context (its own cookies), with what it reported."""

    context: BrowserContext
    page: Page
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    accept_dialogs: int = 0  # the next N dialogs are accepted (still recorded); others dismissed

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"unexpected dialogs: {self.dialogs}"
        assert self.page_errors == [], f"uncaught errors in the page: {self.page_errors}"

    async def close(self) -> None:
        await self.context.close()


async def open_tab(browser: Browser, locale: str = "ru-RU") -> Tab:
    context = await browser.new_context(viewport=SCHOOL_SCREEN, locale=locale, timezone_id="Europe/Moscow")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    tab = Tab(context, page)

    async def on_dialog(dialog: Dialog) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        if tab.accept_dialogs > 0:
            tab.accept_dialogs -= 1
            await dialog.accept()
        else:
            await dialog.dismiss()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            tab.console_errors.append(msg.text)
        elif msg.type == "warning":
            tab.console_warnings.append(msg.text)

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
    page.on("console", on_console)
    return tab


async def login(page: Page, base_url: str, email: str, password: str, next_url: str = "/") -> None:
    """Log in through the real /login form; lands on ``next_url``."""
    await page.goto(f"{base_url}/login?next={next_url}")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', password)
    async with page.expect_navigation():
        await page.click('form[action="/login"] button[type="submit"]')


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
