"""The room as teachers expect it, in real headless Chromium with fake camera and microphone,
at a school laptop's 1366x768 and a phone's 360x740 (and the phone turned, 740x360):

the check before entering shows the camera and a moving microphone level; two people join;
the stage is on screen without scrolling and plays the other's video; a shared screen takes
at least 60 % of the stage's width; every control of the bar and of every side panel is
reachable; a ballot appears over the stage; «Завершить заседание» with a vote still open asks
first; after the end every camera and microphone track is ended and the page says so, with
a link to the meeting's page. Screenshots of each state go to test-artifacts/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from realtime.media.service import media_service
from server.db.models import Role
from tests.support.browser import Tab, login, people, screenshot
from tests.support.factories import DEFAULT_PASSWORD, add_member, make_association, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 360, "height": 740}
PHONE_TURNED: ViewportSize = {"width": 740, "height": 360}
WIDE: ViewportSize = {"width": 1920, "height": 1080}
PANELS = ("participants", "chat", "agenda", "polls", "documents")


async def seed(server: LiveServer) -> tuple[int, int, int]:
    db = server.runtime.db
    association = await make_association(db)
    methodist = await make_user(
        db, "layout-metodist@example.org", last_name="Смирнова", first_name="Елена", middle_name="Викторовна"
    )
    teacher = await make_user(
        db, "layout-teacher@example.org", last_name="Петрова", first_name="Анна", middle_name="Сергеевна"
    )
    await add_member(db, association.id, methodist.id, Role.methodist)
    await add_member(db, association.id, teacher.id, Role.member)
    meeting = await make_meeting(
        db,
        association.id,
        "Заседание СМО учителей математики: формирующее оценивание на уроках",
        agenda=("О плане работы СМО на 2026/27 учебный год", "Обмен опытом: формирующее оценивание"),
        admission="open",
    )
    return meeting.id, methodist.id, teacher.id


async def open_prejoin(page: Page, server: LiveServer, email: str, meeting_id: int) -> None:
    room = f"/meetings/{meeting_id}/room"
    await login(page, server.url, email, DEFAULT_PASSWORD, next_url=room)
    await expect(page).to_have_url(re.compile(rf"{room}$"))
    await expect(page.locator("#prejoin")).to_be_visible()


PREVIEW_PROBE = """() => {
  const v = document.getElementById('prejoin-video');
  const m = document.getElementById('prejoin-level');
  window.__levels = window.__levels || [];
  if (m) window.__levels.push(m.value);
  const tracks = v && v.srcObject ? v.srcObject.getTracks() : [];
  return {w: v ? v.videoWidth : 0, t: v ? v.currentTime : 0, paused: v ? v.paused : null,
          ready: v ? v.readyState : null, tracks: tracks.map((x) => [x.kind, x.readyState, x.muted]),
          visibility: document.visibilityState, levels: window.__levels.slice(-40),
          problem: (document.getElementById('prejoin-problem') || {}).textContent || ''};
}"""


async def preview_and_level(page: Page, seen: dict[str, Any]) -> dict[str, Any] | None:
    """The preview plays and the level meter has moved (two different non-zero readings).
    ``seen`` keeps the last look, for a failure's message."""
    probe = await page.evaluate(PREVIEW_PROBE)
    seen.update(probe)
    levels = [x for x in probe["levels"] if x > 0]
    if probe["w"] > 0 and probe["t"] > 0 and len(set(levels)) >= 2:
        return probe
    return None


# Asked once when the preview does not play: does the camera's track itself give frames (read
# from a clone), how the video element is laid out, and what the page warned about.
PREVIEW_AUTOPSY = """async () => {
  const v = document.getElementById('prejoin-video');
  const out = {};
  if (v) {
    const r = v.getBoundingClientRect();
    const css = getComputedStyle(v);
    out.box = [r.width, r.height, css.display, css.visibility];
    out.quality = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : null;
    out.networkState = v.networkState;
    out.error = v.error ? v.error.message || v.error.code : null;
  }
  const track = v && v.srcObject ? v.srcObject.getVideoTracks()[0] : null;
  if (track) {
    out.settings = track.getSettings();
    const clone = track.clone();
    try {
      const reader = new MediaStreamTrackProcessor({track: clone}).readable.getReader();
      const frame = await Promise.race([
        reader.read().then((x) => x.value), new Promise((ok) => setTimeout(() => ok(null), 2000))]);
      out.trackGivesFrames = Boolean(frame);
      if (frame) { out.frameSize = [frame.displayWidth, frame.displayHeight]; frame.close(); }
    } catch (err) { out.trackGivesFrames = String(err); }
    clone.stop();
  }
  return out;
}"""


async def wait_for_preview(page: Page, what: str, tab: Tab | None = None) -> None:
    seen: dict[str, Any] = {}
    try:
        # 30 s: the check itself opens a camera without a picture again after 4 and 8 s.
        await wait_for(lambda: preview_and_level(page, seen), 30, what=what)
    except AssertionError as exc:
        autopsy = await page.evaluate(PREVIEW_AUTOPSY)
        warnings = tab.console_warnings if tab else None
        raise AssertionError(
            f"{exc}; the last look: {seen}; then: {autopsy}; the page's warnings: {warnings}"
        ) from None


async def video_playing(page: Page, selector: str) -> dict[str, float] | None:
    """A <video> under ``selector`` has a picture and its time advances between two looks."""
    look = """(sel) => {
      const v = document.querySelector(sel);
      return v ? {w: v.videoWidth, t: v.currentTime, paused: v.paused} : null;
    }"""
    first = await page.evaluate(look, selector)
    if not first or first["w"] <= 0 or first["paused"]:
        return None
    await page.wait_for_function(
        "([sel, t]) => { const v = document.querySelector(sel); return v && v.currentTime > t; }",
        arg=[selector, first["t"]],
        timeout=10_000,
    )
    return first


# What media.js holds (window.smoMedia), when a video does not play: the slot map, the
# connection, the video elements and the tiles on the stage.
MEDIA_REPORT = """() => {
  const m = window.smoMedia;
  if (!m) return null;
  const videos = {};
  for (const [mid, v] of Object.entries(m.videos)) videos[mid] = {w: v.videoWidth, t: v.currentTime, paused: v.paused};
  return {
    slots: m.slots, connection: m.pc && m.pc.connectionState, sending: Object.keys(m.tracks), videos,
    tiles: [...document.querySelectorAll("#media-slot .media-tile")].map((e) => e.dataset.participant),
  };
}"""

# What the other page sends: its camera's own picture and its outbound video statistics.
SENDING_REPORT = """async () => {
  const m = window.smoMedia;
  const cam = m && m.tracks.camera;
  const out = {camera: cam ? {state: cam.readyState, muted: cam.muted, enabled: cam.enabled} : null, outbound: []};
  if (m && m.pc) (await m.pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video")
      out.outbound.push({mid: s.mid, framesEncoded: s.framesEncoded, packetsSent: s.packetsSent, keyFramesEncoded: s.keyFramesEncoded, pli: s.pliCount});
  });
  return out;
}"""


def sfu_report(server: LiveServer, meeting_id: int) -> dict[str, Any]:
    """The SFU's view: each publication's packets and key frame requests, each slot's traffic."""
    room = media_service(server.runtime).sfu.rooms.get(meeting_id)
    if room is None:
        return {}
    return {
        "publications": [
            (p.participant, p.source, p.packets, p.frames, p.keyframe_requests, p.stopped)
            for p in room.publications
        ],
        "slots": {
            who: [
                (
                    mid,
                    getattr(s.source, "participant", None),
                    s.packets_sent,
                    s.packets_dropped,
                    s.waiting_keyframe,
                )
                for mid, s in peer.slots.items()
                if s.source is not None
            ]
            for who, peer in room.peers.items()
        },
    }


FULLSCREEN = """() => {
  const f = document.fullscreenElement;
  return f ? (f.id || f.dataset.tile || f.className) : null;
}"""


async def check_views(page: Page, other_id: int, my_id: int, size: str) -> None:
    slot = page.locator("#media-slot")
    other = page.locator(f'#media-slot .media-tile.tile-person[data-participant="u:{other_id}"]')
    mine = page.locator(f'#media-slot .media-tile.tile-person[data-participant="u:{my_id}"]')
    await expect(slot).to_have_attribute("data-layout", "grid")

    view = page.locator("#media-slot .stage-view")
    await expect(view).to_have_attribute("aria-label", "Крупно — выступающий")
    await view.click()  # the speaker view: the other person large, me in the strip
    await expect(slot).to_have_attribute("data-layout", "focus")
    await expect(other).to_have_class(re.compile(r"\bfocus\b"))
    await expect(mine).not_to_have_class(re.compile(r"\bfocus\b"))
    await screenshot(page, f"room-{size}-speaker-view")
    await expect(view).to_have_attribute("aria-label", "Показать всех плиткой")
    await view.click()
    await expect(slot).to_have_attribute("data-layout", "grid")

    await mine.hover()
    await mine.locator(".tile-pin").click()  # pinned: my own tile large, the view switch hidden
    await expect(mine).to_have_class(re.compile(r"\bfocus\b"))
    await expect(slot).to_have_attribute("data-layout", "focus")
    await expect(view).to_be_hidden()
    await expect(mine.locator(".tile-pin")).to_have_attribute("aria-label", re.compile("^Открепить"))
    await mine.hover()
    await mine.locator(".tile-pin").click()
    await expect(slot).to_have_attribute("data-layout", "grid")

    await other.hover()
    await other.locator(".tile-full").click()  # one tile full screen
    await wait_for(lambda: _is(page, f"person:u:{other_id}"), 10, what="the other's tile in full screen")
    await page.evaluate("() => document.exitFullscreen()")
    await wait_for(lambda: _is(page, None), 10, what="full screen left")
    await page.locator("#media-slot .stage-full").click()  # the whole stage full screen
    await wait_for(lambda: _is(page, "stage-area"), 10, what="the stage in full screen")
    await page.locator("#media-slot .stage-full").click()  # the same button leaves it
    await wait_for(lambda: _is(page, None), 10, what="full screen left")


async def _is(page: Page, expected: str | None) -> bool:
    return bool(await page.evaluate(FULLSCREEN) == expected)


NO_SCROLL = """() => {
  const s = document.getElementById('media-slot').getBoundingClientRect();
  return {
    pageScroll: document.scrollingElement.scrollHeight - window.innerHeight,
    pageScrollX: document.scrollingElement.scrollWidth - window.innerWidth,
    top: s.top, bottom: s.bottom, left: s.left, right: s.right, width: s.width, height: s.height,
    vw: window.innerWidth, vh: window.innerHeight,
  };
}"""

# Every visible button, link, select and text box of the bar and of the open side panel: not
# clipped sideways, and on screen or inside a box that scrolls to it.
UNREACHABLE = """(scope) => {
  const root = document.querySelector(scope);
  const out = [];
  if (!root) return ['missing ' + scope];
  const vw = window.innerWidth, vh = window.innerHeight;
  const scrollsTo = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const cs = getComputedStyle(p);
      if (/(auto|scroll)/.test(cs.overflowY) && p.scrollHeight > p.clientHeight) return true;
    }
    return false;
  };
  for (const el of root.querySelectorAll('button, a[href], select, textarea, input:not([type=hidden])')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not shown (inside a closed menu)
    const name = el.getAttribute('aria-label') || el.textContent.trim() || el.id;
    if (r.left < -1 || r.right > vw + 1) { out.push('sideways: ' + name); continue; }
    const inView = r.top >= -1 && r.bottom <= vh + 1;
    if (!inView && !scrollsTo(el)) out.push('off screen: ' + name);
    // Targets a finger can hit (links inside text are exempt, as in WCAG 2.5.8).
    if (el.tagName !== 'A' && (r.width < 20 || r.height < 20)) out.push('too small: ' + name + ' ' + r.width + 'x' + r.height);
  }
  return out;
}"""


# The control bar's rows (buttons whose tops differ by more than half a button), whether its
# labels show, and the buttons a screen reader or a tooltip could not name.
BAR_ROWS = """() => {
  const buttons = [...document.querySelectorAll('#control-bar .cb-button')].filter((b) => b.getBoundingClientRect().width > 0);
  const tops = [];
  for (const b of buttons) {
    const top = b.getBoundingClientRect().top;
    if (!tops.some((t) => Math.abs(t - top) < b.offsetHeight / 2)) tops.push(top);
  }
  const label = buttons.map((b) => b.querySelector('.cb-label')).find(Boolean);
  return {
    rows: tops.length,
    buttons: buttons.length,
    labels: !!label && label.getBoundingClientRect().width > 1,
    unnamed: buttons.filter((b) => !(b.getAttribute('aria-label') && b.title)).map((b) => b.outerHTML.slice(0, 80)),
  };
}"""


async def check_controls(page: Page, label: str) -> None:
    assert await page.evaluate(UNREACHABLE, "#control-bar") == [], label
    for panel in PANELS:
        button = page.locator(f'[data-panel-button="{panel}"]')
        await expect(button).to_be_visible()
        await button.click()
        section = page.locator(f'#side [data-panel="{panel}"]')
        await expect(section).to_be_visible()
        problems = await page.evaluate(UNREACHABLE, f'#side [data-panel="{panel}"]')
        assert problems == [], f"{label} {panel}: {problems}"
        box = await section.bounding_box()
        viewport = page.viewport_size
        assert box and viewport and box["x"] >= -1 and box["x"] + box["width"] <= viewport["width"] + 1
        await screenshot(page, f"{label}-panel-{panel}")
        await section.get_by_role("button", name=re.compile("Закрыть панель")).click()
        await expect(section).to_be_hidden()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@browser_test
async def test_two_people_meet_on_the_stage(server: LiveServer, viewport: ViewportSize) -> None:
    meeting_id, methodist_id, teacher_id = await seed(server)
    size = f"{viewport['width']}x{viewport['height']}"
    async with people(2) as tabs:
        mt, tt = tabs
        for tab in tabs:
            await tab.page.set_viewport_size(viewport)
        m, t = mt.page, tt.page

        # Before entering: the camera's picture and the microphone's level, devices by name.
        await open_prejoin(m, server, "layout-metodist@example.org", meeting_id)
        await wait_for_preview(m, "preview video and a moving level", mt)
        await expect(m.locator("#prejoin-camera option").first).not_to_have_text("")
        await expect(m.locator("#prejoin-problem")).to_be_hidden()
        await screenshot(m, f"room-{size}-prejoin")
        await m.get_by_role("button", name="Войти в заседание").click()
        await expect(m.locator("#room")).to_have_attribute("data-connection", "online")

        await open_prejoin(t, server, "layout-teacher@example.org", meeting_id)
        await wait_for_preview(t, "the teacher's preview and level", tt)
        await t.get_by_role("button", name="Войти в заседание").click()
        await expect(t.locator("#room")).to_have_attribute("data-connection", "online")
        # The choice is remembered for the next time.
        saved = await t.evaluate("JSON.parse(localStorage.getItem('smo.room.devices'))")
        assert saved["camera"] is True and saved["mic"] is True and saved["cameraId"]

        await m.get_by_role("button", name="Начать заседание").click()
        await expect(t.locator("#room-status")).to_have_text("Идёт")

        # Each sees the other's camera playing on the stage, which is on screen, unscrolled.
        for page, other, sender in ((m, teacher_id, t), (t, methodist_id, m)):
            tile = f'#media-slot .media-tile[data-participant="u:{other}"] video'
            try:
                await wait_for(lambda p=page, s=tile: video_playing(p, s), 40, what="the other's video")
            except AssertionError as exc:  # say what each side had, for the next engineer
                raise AssertionError(
                    f"{exc}; the page's media: {await page.evaluate(MEDIA_REPORT)};"
                    f" the other page sends: {await sender.evaluate(SENDING_REPORT)};"
                    f" the server: {sfu_report(server, meeting_id)}"
                ) from None
            geometry = await page.evaluate(NO_SCROLL)
            assert geometry["pageScroll"] <= 0 and geometry["pageScrollX"] <= 0, geometry
            assert geometry["top"] >= 0 and geometry["bottom"] <= geometry["vh"], geometry
            assert geometry["height"] >= 0.4 * geometry["vh"], geometry
        await expect(t.locator(f'.media-tile[data-participant="u:{teacher_id}"] .tile-name')).to_have_text(
            "А.С. Петрова (вы)"
        )
        await expect(t.locator(f'.media-tile[data-participant="u:{methodist_id}"] .tile-name')).to_have_text(
            "Е.В. Смирнова"
        )
        await screenshot(m, f"room-{size}-methodist")
        await screenshot(t, f"room-{size}-teacher")

        # Every control is reachable: the bar and each side panel.
        await check_controls(t, f"room-{size}-teacher")

        # The views: the speaker large (the other person), a pinned tile large, full screen
        # for one tile and for the whole stage; each undone by the same control.
        await check_views(m, teacher_id, methodist_id, size)

        # The teacher raises a hand: a hand on her tile on the methodist's stage.
        await t.locator("#hand-button").click()
        await expect(t.locator("#hand-button")).to_contain_text("Опустить руку")
        await expect(
            m.locator(f'.media-tile[data-participant="u:{teacher_id}"] .tile-flag.hand')
        ).to_be_visible()

        # A reaction from the menu in the bar: shown over her tile on the methodist's stage.
        await t.get_by_role("button", name="Реакции").click()
        assert await t.evaluate(UNREACHABLE, "#reactions-menu") == []
        await screenshot(t, f"room-{size}-teacher-reactions")
        await t.locator("#reactions-menu").get_by_role("button", name="Нравится").click()
        await expect(
            m.locator(f'.media-tile[data-participant="u:{teacher_id}"] .reaction-bubble')
        ).to_contain_text("Нравится")

        # The teacher turns her microphone off: both stages show it on her tile.
        await t.get_by_role("button", name="Выключить микрофон").click()
        for page in (m, t):
            await expect(
                page.locator(f'.media-tile[data-participant="u:{teacher_id}"] .tile-flag.mic-off')
            ).to_be_visible()
        await expect(
            m.locator(f'.media-tile[data-participant="u:{methodist_id}"] .tile-flag.mic-off')
        ).to_have_count(0)

        # The methodist shares the screen: large on the teacher's stage (>= 60 % of its width).
        await m.locator("#media-screen").click()
        screen_tile = t.locator(f'.media-tile.tile-screen[data-participant="u:{methodist_id}"]')
        await expect(screen_tile).to_have_class(re.compile(r"\bfocus\b"))
        await wait_for(
            lambda: video_playing(t, f'.media-tile.tile-screen[data-participant="u:{methodist_id}"] video'),
            40,
            what="the shared screen playing",
        )
        ratio = await t.evaluate(
            """(sel) => document.querySelector(sel).getBoundingClientRect().width
                      / document.getElementById('media-slot').getBoundingClientRect().width""",
            f'.media-tile.tile-screen[data-participant="u:{methodist_id}"]',
        )
        assert ratio >= 0.6, ratio
        await screenshot(t, f"room-{size}-teacher-screen")

        # A decision poll: a card over the stage, one click to the ballot.
        await m.locator('[data-panel-button="polls"]').click()
        await m.locator("#new-poll").click()
        await m.locator("#poll-question").fill("Утвердить план работы СМО на 2026/27 учебный год")
        await m.locator("#poll-decision").fill("Утвердить план работы СМО.")
        await m.locator("#poll-create-open").click()
        ballot = t.locator("#ballots .ballot")
        await expect(ballot).to_be_visible()
        await ballot.get_by_text("За", exact=True).click()
        await ballot.get_by_role("button", name="Проголосовать").click()
        await expect(ballot.locator(".voted")).to_contain_text("Ваш голос учтён")
        await screenshot(t, f"room-{size}-teacher-voted")

        if viewport is LAPTOP:
            # A large screen: the same room, larger; the shared screen still dominates.
            await t.set_viewport_size(WIDE)
            await wait_for(
                lambda: t.evaluate(
                    "document.getElementById('media-slot').getBoundingClientRect().width > 1500"
                ),
                10,
                what="the stage grown",
            )
            geometry = await t.evaluate(NO_SCROLL)
            assert geometry["pageScroll"] <= 0 and geometry["bottom"] <= geometry["vh"], geometry
            assert await t.evaluate(UNREACHABLE, "#control-bar") == []
            await screenshot(t, "room-1920x1080-teacher")
            # A school computer's screens: the bar stays one row (labels where they fit, else
            # icons), the moderator's fifteen buttons included; each keeps its name.
            for screen, labels in (
                ({"width": 1280, "height": 800}, True),
                ({"width": 1024, "height": 768}, False),
            ):
                for page in (m, t):
                    await page.set_viewport_size(screen)
                    await wait_for(
                        lambda page=page: page.evaluate(f"({BAR_ROWS})().rows === 1"), 10, what="one row"
                    )
                    bar = await page.evaluate(BAR_ROWS)
                    assert bar["unnamed"] == [] and bar["buttons"] >= 14, bar
                    if page is m:
                        assert bar["labels"] is labels, (screen, bar)
                    assert await page.evaluate(UNREACHABLE, "#control-bar") == []
                    await screenshot(
                        page, f"room-{screen['width']}-{'methodist' if page is m else 'teacher'}-bar"
                    )
            await m.set_viewport_size(viewport)
        if viewport is PHONE:
            # The phone turned: the stage and the controls still fit.
            await t.set_viewport_size(PHONE_TURNED)
            await wait_for(
                lambda: t.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight"),
                10,
                what="no page scroll in landscape",
            )
            assert await t.evaluate(UNREACHABLE, "#control-bar") == []
            await screenshot(t, "room-740x360-teacher")

        # «Завершить заседание» with a vote still open asks first, then ends.
        await m.locator('[data-panel-button="polls"]').click()  # close the panel
        await m.get_by_role("button", name="Управление заседанием").click()
        await m.get_by_role("button", name="Завершить заседание").click()
        dialog = m.locator("#end-dialog")
        await expect(dialog).to_contain_text("Голосование ещё идёт: завершить его и заседание?")
        await screenshot(m, f"room-{size}-end-confirm")
        await dialog.get_by_role("button", name="Да, завершить").click()
        for page in (m, t):
            await expect(page.locator("#room-status")).to_have_text("Завершено")
            card = page.locator(".ended-card")
            await expect(card).to_be_visible()
            await expect(card.get_by_role("link", name="Страница заседания")).to_have_attribute(
                "href", f"/meetings/{meeting_id}"
            )
            # Camera, microphone and screen: every track the page opened is ended.
            tracks = await page.evaluate("window.smoTracks.map((x) => [x.kind, x.readyState])")
            assert tracks and all(state == "ended" for _, state in tracks), tracks
            assert await page.evaluate("window.smoMedia.pc.connectionState") == "closed"
        await screenshot(m, f"room-{size}-ended")
        # Opened again after the end: no device check, the same ended card and its links.
        await t.goto(f"{server.url}/meetings/{meeting_id}/room")
        await expect(t.locator(".ended-card")).to_be_visible()
        await expect(t.locator(".ended-card").get_by_role("link", name="Документы заседания")).to_be_visible()
        await expect(t.locator("#prejoin")).to_be_hidden()
        assert await t.evaluate("window.smoTracks.length") == 0
        for tab in tabs:
            tab.assert_clean()


@browser_test
async def test_entering_without_devices_and_leaving_release_everything(server: LiveServer) -> None:
    meeting_id, _, _ = await seed(server)
    async with people(1) as [tab]:
        page = tab.page
        await open_prejoin(page, server, "layout-teacher@example.org", meeting_id)
        await wait_for_preview(page, "preview video and a moving level")
        await page.get_by_role("button", name="Войти без камеры и микрофона").click()
        await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
        # The check's tracks are released at once; nothing is sent.
        tracks = await page.evaluate("window.smoTracks.map((x) => x.readyState)")
        assert tracks and set(tracks) == {"ended"}, tracks
        await expect(page.locator("#media-slot")).to_have_attribute("data-mic", "off")
        saved = await page.evaluate("JSON.parse(localStorage.getItem('smo.room.devices'))")
        assert saved["camera"] is False and saved["mic"] is False
        # Turn the camera on in the room, then leave: the camera is released.
        await page.get_by_role("button", name="Включить камеру").click()
        await wait_for(
            lambda: page.evaluate(
                "window.smoTracks.some((x) => x.kind === 'video' && x.readyState === 'live')"
            ),
            15,
            what="the camera on",
        )
        # What the tracks were when the page went away (kept for the next page of the tab).
        await page.evaluate(
            """() => window.addEventListener('pagehide', () => sessionStorage.setItem('tracks-at-exit',
                 JSON.stringify(window.smoTracks.map((x) => x.readyState))))"""
        )
        await page.get_by_role("link", name="Покинуть заседание").click()
        await expect(page).to_have_url(re.compile(rf"/meetings/{meeting_id}$"))
        states = await page.evaluate("JSON.parse(sessionStorage.getItem('tracks-at-exit'))")
        assert states and set(states) == {"ended"}, states
        tab.assert_clean()


@browser_test
async def test_the_check_says_what_the_browser_refused_and_how_to_allow_it(server: LiveServer) -> None:
    meeting_id, _, _ = await seed(server)
    async with people(1) as [tab]:
        page = tab.page
        # The browser refuses both devices (as when the person clicked «Блокировать»).
        await page.add_init_script(
            """navigator.mediaDevices.getUserMedia = () =>
                 Promise.reject(new DOMException('denied', 'NotAllowedError'));"""
        )
        await open_prejoin(page, server, "layout-teacher@example.org", meeting_id)
        problem = page.locator("#prejoin-problem")
        await expect(problem).to_contain_text("Браузер запретил доступ: камера.")
        await expect(problem).to_contain_text("Браузер запретил доступ: микрофон.")
        await expect(problem).to_contain_text("Как разрешить: нажмите на значок камеры или замка")
        await expect(page.locator("#prejoin-camera-on")).not_to_be_checked()
        await screenshot(page, "room-prejoin-refused")
        await page.get_by_role("button", name="Войти в заседание").click()
        await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
        await expect(page.locator("#media-slot")).to_have_attribute("data-mic", "off")
        tab.assert_clean()


async def silent_camera(page: Page, openings: int) -> None:
    """The page's first ``openings`` camera openings give a live track that never sends a
    frame (a ``MediaStreamTrackGenerator`` nobody writes to), as a camera whose driver is still
    waking up; later openings are the real (fake) camera. ``window.__cameraOpenings`` counts."""
    await page.add_init_script(
        f"const silentOpenings = {int(openings)};"
        """(() => {
          const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
          window.__cameraOpenings = 0;
          navigator.mediaDevices.getUserMedia = async (c) => {
            if (!c || !c.video) return real(c);
            window.__cameraOpenings += 1;
            if (window.__cameraOpenings > silentOpenings) return real(c);
            return new MediaStream([new MediaStreamTrackGenerator({kind: 'video'})]);
          };
        })();"""
    )


@browser_test
async def test_a_camera_that_sends_no_picture_is_opened_again(server: LiveServer) -> None:
    """The first opening of the camera gives a live track that never sends a frame (as a camera
    whose driver is still waking up): the check opens it once more and the preview plays."""
    meeting_id, _, _ = await seed(server)
    async with people(1) as [tab]:
        page = tab.page
        await silent_camera(page, openings=1)
        await open_prejoin(page, server, "layout-teacher@example.org", meeting_id)
        await wait_for_preview(page, "the preview after the camera was opened again")
        assert await page.evaluate("window.__cameraOpenings") == 2
        await expect(page.locator("#prejoin-problem")).to_be_hidden()
        await page.get_by_role("button", name="Войти в заседание").click()
        await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
        # The silent track was stopped; the camera that enters is the one with a picture.
        states = await page.evaluate(
            "window.smoTracks.filter((x) => x.kind === 'video').map((x) => x.readyState)"
        )
        assert states == ["ended", "live"], states
        tab.assert_clean()


@browser_test
async def test_a_camera_that_never_sends_a_picture_is_named_and_entering_still_works(
    server: LiveServer,
) -> None:
    """Every opening of the camera gives a live track without frames: the check tries three
    times, each into a new picture element, then says so; entering works without the camera's
    picture being in doubt for the person."""
    meeting_id, _, _ = await seed(server)
    async with people(1) as [tab]:
        page = tab.page
        await page.set_viewport_size(PHONE)  # the message must not hide below the fold
        await silent_camera(page, openings=99)
        await open_prejoin(page, server, "layout-teacher@example.org", meeting_id)
        problem = page.locator("#prejoin-problem")
        await expect(problem).to_contain_text("не передаёт изображение", timeout=20_000)
        await expect(problem).not_to_contain_text("Как разрешить")  # nothing was refused
        await expect(problem).to_be_in_viewport(ratio=0.9)
        assert await page.evaluate("window.__cameraOpenings") == 3
        # Only the last opening is still on; the earlier ones were stopped.
        states = await page.evaluate(
            "window.smoTracks.filter((x) => x.kind === 'video').map((x) => x.readyState)"
        )
        assert states == ["ended", "ended", "live"], states
        # Unticking the camera settles it: the message goes; ticking it again tries anew.
        await page.locator("#prejoin-camera-on").uncheck()
        await expect(problem).to_be_hidden()
        await page.locator("#prejoin-camera-on").check()
        await expect(problem).to_contain_text("не передаёт изображение", timeout=20_000)
        await page.get_by_role("button", name="Войти в заседание").click()
        await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
        tab.assert_clean()
