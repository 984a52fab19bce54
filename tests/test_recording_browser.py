"""The recording page in Chromium: the track plays in the <video> element in step with the
mixed audio, and a click on a transcript line seeks both there."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from server.db.models import User
from tests.support.browser import chromium, login, open_tab, screenshot
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.test_recording_pages import recorded_meeting

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)

STATE = """() => {
  const v = document.getElementById('recording-video'), a = document.getElementById('recording-audio');
  return {video: [v.readyState, v.currentTime, v.duration, v.paused, v.videoWidth, v.style.visibility],
          audio: [a.readyState, a.currentTime, a.duration, a.paused]};
}"""


async def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(STATE)
    return result


@browser_test
async def test_the_page_plays_the_recording_and_seeks_from_the_transcript(server: LiveServer) -> None:
    cast, _ = await recorded_meeting(server)
    async with server.runtime.db.read() as s:
        user = await s.get(User, cast.ids["member"])
        assert user is not None
    url = f"/meetings/{cast.meeting.id}/recording"
    async with chromium() as browser:
        tab = await open_tab(browser)
        try:
            await login(tab.page, server.url, user.email, DEFAULT_PASSWORD, next_url=url)
            page = tab.page
            loaded = await wait_for(
                lambda: _when(page, lambda s: s["video"][0] >= 2 and s["audio"][0] >= 2),
                20,
                what="media loaded",
            )
            assert loaded["video"][4] == 320 and abs(loaded["video"][2] - 3.5) < 0.3
            assert abs(loaded["audio"][2] - 4.0) < 0.3
            await page.evaluate("() => document.getElementById('recording-audio').play()")
            # The video starts 0.5 s into the audio and then advances with it.
            playing = await wait_for(
                lambda: _when(page, lambda s: s["audio"][1] > 1.5 and s["video"][1] > 0.8),
                20,
                what="playback",
            )
            print("playing:", playing)
            assert not playing["video"][3] and abs(playing["audio"][1] - 0.5 - playing["video"][1]) < 0.5
            await page.evaluate("() => document.getElementById('recording-audio').pause()")
            await page.locator("[data-seek]").first.click()  # «М.П. Иванова: …» at 0:00:02
            sought = await wait_for(
                lambda: _when(
                    page,
                    lambda s: 1.9 <= s["audio"][1] < 3.0 and abs(s["video"][1] - (s["audio"][1] - 0.5)) < 0.5,
                ),
                20,
                what="seek from the transcript",
            )
            print("after the click:", sought)
            await screenshot(page, "recording-page")
            tab.assert_clean()
        finally:
            await tab.close()


async def _when(page: Page, test: Any) -> dict[str, Any] | None:
    current = await state(page)
    return current if test(current) else None
