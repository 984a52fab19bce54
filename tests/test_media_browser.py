"""Two headless Chromium pages with fake camera and microphone join the room and receive each
other's video and audio through the SFU (proof from each page's getStats())."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from realtime.media.service import media_service
from server.db.models import Role
from tests.support.browser import chromium, login, open_tab, people, screenshot
from tests.support.factories import DEFAULT_PASSWORD, add_member, make_association, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


async def seed(server: LiveServer) -> tuple[int, int]:
    db = server.runtime.db
    association = await make_association(db)
    methodist = await make_user(db, "media-metodist@example.org", last_name="Смирнова", first_name="Елена")
    teacher = await make_user(db, "media-teacher@example.org", last_name="Петрова", first_name="Анна")
    await add_member(db, association.id, methodist.id, Role.methodist)
    await add_member(db, association.id, teacher.id, Role.member)
    meeting = await make_meeting(db, association.id, "Заседание СМО: видеосвязь", admission="open")
    return meeting.id, teacher.id


async def enter_room(page: Page, server: LiveServer, email: str, meeting_id: int) -> None:
    room = f"/meetings/{meeting_id}/room"
    await login(page, server.url, email, DEFAULT_PASSWORD, next_url=room)
    await expect(page.locator("#prejoin")).to_be_visible()
    # The device check before entering: both devices on (the fake camera and microphone).
    await page.get_by_role("button", name="Войти в заседание").click()
    await expect(page.locator("#room")).to_have_attribute("data-connection", "online")


STATS = """async () => {
  const m = window.smoMedia;
  if (!m || !m.pc) return null;
  const out = {frames: 0, energy: 0, state: m.pc.connectionState};
  (await m.pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") out.frames += s.framesDecoded || 0;
    if (s.kind === "audio") out.energy += s.totalAudioEnergy || 0;
  });
  return out;
}"""


# Chrome's view of the SFU's sender reports: for each stream it receives, a remote-outbound-rtp
# entry once an SR for that SSRC arrived (the SFU sends a connection's SRs in one compound).
REPORTS = """async () => {
  const m = window.smoMedia;
  if (!m || !m.pc) return null;
  const inbound = new Set(), reported = new Set();
  (await m.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.packetsReceived > 0) inbound.add(s.ssrc);
    if (s.type === "remote-outbound-rtp" && s.reportsSent > 0) reported.add(s.ssrc);
  });
  return {inbound: [...inbound], unreported: [...inbound].filter((x) => !reported.has(x))};
}"""


async def reported(page: Page) -> bool:
    seen = await page.evaluate(REPORTS)
    return bool(seen and seen["inbound"] and not seen["unreported"])


async def received(page: Page, seen: dict[str, object] | None = None) -> dict[str, float] | None:
    stats = await page.evaluate(STATS)
    if seen is not None:
        seen["stats"] = stats  # the last look, for a failure's message
    return stats if stats and stats["frames"] >= 10 and stats["energy"] > 1e-4 else None


async def decoded(page: Page, what: str) -> dict[str, float]:
    """Wait up to 60 s for the page to decode video frames and audio; a failure says which."""
    seen: dict[str, object] = {}
    try:
        return await wait_for(lambda: received(page, seen), 60, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the last look: {seen.get('stats')}") from None


@browser_test
async def test_two_pages_see_and_hear_each_other(server: LiveServer) -> None:
    meeting_id, teacher_id = await seed(server)
    teacher = f"u:{teacher_id}"
    async with people(2) as tabs:
        pages = []
        for tab, email in zip(tabs, ("media-metodist@example.org", "media-teacher@example.org"), strict=True):
            await enter_room(tab.page, server, email, meeting_id)
            pages.append(tab.page)
        for page in pages:
            stats = await decoded(page, "media decoded in the page")
            print("page stats:", stats)
        for page in pages:  # the SFU's sender reports reach Chrome for every stream it receives
            await wait_for(lambda page=page: reported(page), 20, what="sender reports in Chrome")
        await screenshot(pages[0], "media-room")
        # The methodist mutes the teacher from the teacher's tile; the teacher's page knows.
        await pages[0].locator(".media-tile:not([hidden]) .media-tile-action").first.click()
        await expect(pages[1].locator("#media-slot")).to_have_attribute("data-mic", "muted")
        room = media_service(server.runtime).room(meeting_id)
        assert all(p.muted for p in room.publications if p.participant == teacher and p.kind == "audio")
        for tab in tabs:
            tab.assert_clean()
        for page in pages:  # leaving the page closes its connection (pagehide)
            await page.goto("about:blank")
        await wait_for(lambda: media_service(server.runtime).sfu.peer_count() == 0, 20, what="peers released")


SLOW_DEVICE_LIST = """() => {
  const md = navigator.mediaDevices;
  const list = md.enumerateDevices.bind(md);
  md.enumerateDevices = () => new Promise((done) => setTimeout(() => done(list()), 3000));
}"""


@browser_test
async def test_a_quick_click_enters_with_the_devices_ticked(server: LiveServer) -> None:
    """On a slow school computer the device list takes seconds; «Войти» clicked before it came
    still enters with the camera and microphone that the check shows ticked."""
    meeting_id, teacher_id = await seed(server)
    async with chromium() as browser:
        tab = await open_tab(browser)
        try:
            await tab.context.add_init_script(script=f"({SLOW_DEVICE_LIST})()")
            await enter_room(tab.page, server, "media-teacher@example.org", meeting_id)
            room = media_service(server.runtime).room(meeting_id)

            def published() -> set[str]:
                return {p.kind for p in room.publications if p.participant == f"u:{teacher_id}"}

            await wait_for(
                lambda: published() == {"audio", "video"}, 30, what="microphone and camera published"
            )
            await expect(tab.page.locator("#media-slot")).to_have_attribute("data-mic", "on")
            tab.assert_clean()
        finally:
            await tab.close()


@browser_test
async def test_a_connection_the_server_drops_is_made_again(server: LiveServer) -> None:
    """The server drops a page's media connection for a reason the page can recover from (ICE
    never connected in time, DTLS failed, the meeting's media moved to another node): the page
    makes a new connection at once, with the same devices, and media flows again; a drop that
    is final (another tab of the same person took over) is left alone."""
    meeting_id, teacher_id = await seed(server)
    teacher = f"u:{teacher_id}"
    service = media_service(server.runtime)
    async with people(2) as tabs:
        for tab, email in zip(tabs, ("media-metodist@example.org", "media-teacher@example.org"), strict=True):
            await enter_room(tab.page, server, email, meeting_id)
        page = tabs[1].page
        await decoded(page, "media decoded in the teacher's page")
        first = service.room(meeting_id).peers[teacher].remote_ufrag

        await service.room(meeting_id).remove_peer(teacher, reason="ice_timeout")
        await wait_for(
            lambda: (
                teacher in service.room(meeting_id).peers
                and service.room(meeting_id).peers[teacher].remote_ufrag != first
            ),
            # told by the server, not waiting until Chrome's own consent checks fail (about
            # 20 s here: with the page ignoring media.closed this wait fails)
            10,
            what="the page's new connection",
        )
        second = service.room(meeting_id).peers[teacher].remote_ufrag
        # A new connection decodes the other's media again, and publishes the teacher's.
        await decoded(page, "media decoded on the new connection")
        await wait_for(
            lambda: any(
                p.participant == teacher and p.kind == "video" and p.packets > 0
                for p in service.room(meeting_id).publications
            ),
            20,
            what="the teacher's camera published again",
        )

        # A final reason: the page stays as it is (no new connection of its own).
        await service.room(meeting_id).remove_peer(teacher, reason="replaced")
        await page.wait_for_timeout(2500)  # longer than the page's 1 s before a rebuild
        assert teacher not in service.room(meeting_id).peers, second
        for tab in tabs:
            tab.assert_clean()
