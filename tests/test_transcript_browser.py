"""Captions in Chromium: a teacher's page speaks Russian through its fake microphone (a
festival WAV, ``--use-file-for-fake-audio-capture``); the methodist switches transcription on
and sees the caption «И.О. Фамилия: …» and the transcript panel fill; both see the banner."""

from __future__ import annotations

import wave
from collections import Counter
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from realtime.media.service import media_service
from realtime.media.transcriber import transcriber
from server.db.models import MeetingEvent, Role
from server.db.models.transcripts import TranscriptJob
from tests.support.browser import login, people, screenshot
from tests.support.factories import DEFAULT_PASSWORD, add_member, make_association, make_meeting, make_user
from tests.support.live import LiveServer

SPEECH = Path(__file__).parent / "speech"
browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


def with_silence(source: Path, target: Path, seconds: float = 2.5) -> Path:
    """The phrase followed by silence (Chromium loops the file: the pause ends each speech)."""
    with wave.open(str(source)) as src:
        params = src.getparams()
        frames = src.readframes(src.getnframes())
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        out.writeframes(frames + bytes(int(params.framerate * seconds) * params.sampwidth * params.nchannels))
    return target


SENT_AUDIO = """async () => {
  const m = window.smoMedia;
  if (!m || !m.pc) return null;
  const out = {state: m.pc.connectionState, packets: 0, level: null};
  (await m.pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "audio") out.packets += s.packetsSent || 0;
    if (s.type === "media-source" && s.kind === "audio") out.level = s.audioLevel;
  });
  return out;
}"""


async def what_was_heard(server: LiveServer, meeting_id: int, speaker: Page) -> str:
    """For a failure's message: what the server logged and queued, and what the speaker sent."""
    async with server.runtime.db.read() as s:
        kinds = Counter(
            await s.scalars(select(MeetingEvent.type).where(MeetingEvent.meeting_id == meeting_id))
        )
        jobs = [
            (job.status, job.attempts, job.error[:200])
            for job in await s.scalars(select(TranscriptJob).where(TranscriptJob.meeting_id == meeting_id))
        ]
    heard = {k: v for k, v in kinds.items() if k.startswith(("speech.", "transcript", "media."))}
    rooms = [(key, room.transcribing) for key, room in media_service(server.runtime).sfu.rooms_of(meeting_id)]
    return (
        f"the log: {heard}; the queue: {jobs}; the media rooms (key, transcribing): {rooms};"
        f" the engine: {transcriber(server.runtime).status()};"
        f" the speaker's page sent: {await speaker.evaluate(SENT_AUDIO)}"
    )


@browser_test
async def test_captions_and_the_transcript_panel(server: LiveServer, tmp_path: Path) -> None:
    db = server.runtime.db
    association = await make_association(db)
    methodist = await make_user(db, "captions-metodist@example.org", last_name="Смирнова", first_name="Елена")
    teacher = await make_user(db, "captions-teacher@example.org", last_name="Петрова", first_name="Анна")
    await add_member(db, association.id, methodist.id, Role.methodist)
    await add_member(db, association.id, teacher.id, Role.member)
    meeting = await make_meeting(db, association.id, "Заседание СМО: субтитры", admission="open")
    room = f"/meetings/{meeting.id}/room"
    phrase = with_silence(SPEECH / "plan.wav", tmp_path / "plan-pause.wav")

    # Each person in a browser of their own (tests/support/browser.py people()), as for pictures.
    async with people(2, (f"--use-file-for-fake-audio-capture={phrase}",)) as (host_tab, teacher_tab):
        host = host_tab.page
        await login(host, server.url, "captions-metodist@example.org", DEFAULT_PASSWORD, next_url=room)
        await host.goto(f"{server.url}{room}")
        await host.get_by_role("button", name="Войти без камеры и микрофона").click()
        await expect(host.locator("#room")).to_have_attribute("data-connection", "online")
        await expect(host.locator("#transcript-slot")).to_have_attribute("data-ready", "true")
        await host.locator('[data-panel-button="captions"]').click()  # «Субтитры» in the bar
        await expect(host.locator('#side [data-panel="captions"]')).to_be_visible()
        await host.evaluate("() => window.smoRoom.request('meeting.start')")
        await host.locator("#transcription-switch").click()
        await expect(host.locator("#transcription-badge")).to_have_text("Ведётся расшифровка")
        await host.locator("#captions-toggle").click()
        await expect(host.locator("#captions-toggle")).to_have_attribute("aria-pressed", "true")
        assert await host.locator("#captions").evaluate("(el) => !el.hidden")

        page = teacher_tab.page
        await login(page, server.url, "captions-teacher@example.org", DEFAULT_PASSWORD, next_url=room)
        await page.goto(f"{server.url}{room}")
        await page.locator("#prejoin-join").click()  # with the fake microphone: the phrase
        await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
        await expect(page.locator("#transcription-badge")).to_be_visible()  # told on joining
        await expect(page.locator("#transcription-switch")).to_have_count(0)  # not a moderator

        caption = host.locator("#captions .caption").first
        try:
            await expect(caption).to_contain_text("А.", timeout=120_000)
        except AssertionError as exc:
            raise AssertionError(f"no caption: {await what_was_heard(server, meeting.id, page)}") from exc
        await expect(caption).to_contain_text("Петрова")
        line = host.locator("#transcript-list .transcript-line").first
        await expect(line).to_contain_text("план", timeout=30_000)
        await screenshot(host, "transcript-captions")
        # Searching the panel filters its lines.
        await host.locator("#transcript-search").fill("несуществующее слово")
        await expect(host.locator("#transcript-list .transcript-line")).to_have_count(0)
        await host.locator("#transcript-search").fill("план")
        await expect(host.locator("#transcript-list .transcript-line").first).to_be_visible()
        for tab in (host_tab, teacher_tab):
            tab.assert_clean()
