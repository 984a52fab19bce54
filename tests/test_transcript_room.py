"""Transcription in a live meeting: the switches, an aiortc peer speaking Russian through the
real server's SFU, the transcript.segment in the log; an unavailable model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from realtime.media.service import media_service
from server.db.models import Association, Meeting, MeetingEvent, MeetingProtocol
from server.db.models.transcripts import TranscriptJob
from server.domain.meeting.transcript import enqueue_speech, pending_count, wait_for_transcript
from server.domain.protocol.workflow import assemble_draft
from server.search import search
from server.workers import Deferred
from tests.conftest import make_settings
from tests.support.live import LiveServer, start_live_server
from tests.support.media_peers import ClientPeer, WavTrack
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

SPEECH = Path(__file__).parent / "speech"


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


def offerer(client: RoomClient) -> Any:
    async def send(sdp: str, sources: dict[str, str]) -> str:
        ack = await client.ok("media.offer", {"sdp": sdp, "type": "offer", "sources": sources})
        return str(ack["sdp"])

    return send


def words(text: str) -> str:
    return text.lower().replace("ё", "е")


async def test_switches_are_moderated_events_in_the_log(server: LiveServer, cast: Cast) -> None:
    host, state = await cast.joined("methodist")
    assert (
        state["state"]["meeting"]["transcription"] is False
        and state["state"]["meeting"]["recording"] is False
    )
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    assert await member.error("transcription.switch", {"on": True}) == "forbidden"
    assert await member.error("recording.switch", {"on": True}) == "forbidden"
    assert await host.error("transcription.switch", {"on": "yes please"}) == "validation_failed"
    assert await host.error("transcription.switch", {}) == "validation_failed"

    ack = await host.ok("transcription.switch", {"on": True})
    assert ack["seq"] is not None
    event = await member.wait_event(lambda e: e["type"] == "transcription.switched")
    assert event["payload"] == {"on": True} and event["actor"] == cast.key("methodist")
    assert (await host.ok("transcription.switch", {"on": True}))["seq"] is None  # no change, no event
    await host.ok("recording.switch", {"on": True})
    await member.wait_event(lambda e: e["type"] == "recording.switched" and e["payload"]["on"])

    # A late joiner's snapshot carries both switches (the room shows the banners).
    late, snapshot = await cast.joined("mo_head")
    meeting = snapshot["state"]["meeting"]
    assert meeting["transcription"] is True and meeting["recording"] is True
    listed = await late.ok("transcript.list")
    assert listed["available"] is True and listed["segments"] == []
    config = await late.ok("media.config")
    assert config["transcription_available"] is True

    await host.ok("transcription.switch", {"on": False})
    await member.wait_event(lambda e: e["type"] == "transcription.switched" and not e["payload"]["on"])


async def test_a_speaker_is_transcribed_into_the_log(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    await host.ok("transcription.switch", {"on": True})
    member, _ = await cast.joined("member")
    member_key = cast.key("member")
    speaker = ClientPeer(audio_slots=0, video_slots=0)
    voice = WavTrack(str(SPEECH / "plan.wav"))
    speaker.publish(voice, "mic")
    listener = ClientPeer(audio_slots=1, video_slots=0)
    try:
        await speaker.offer(offerer(member))
        await listener.offer(offerer(host))
        await host.wait_event(
            lambda e: e["type"] == "speech.started" and e["payload"]["participant"] == member_key, 20
        )

        def heard() -> str:
            return words(
                " ".join(
                    e["payload"]["text"]
                    for e in host.events
                    if e["type"] == "transcript.segment" and e["payload"]["participant"] == member_key
                )
            )

        await wait_for(lambda: "год" in heard() or "объединени" in heard(), 120, what="the whole phrase")
        text = heard()
        # Key words (Whisper base on synthetic speech through Opus: a word may come out bent).
        for word in ("коллег", "обсужда", "план"):
            assert word in text, text
        segment = next(e for e in host.events if e["type"] == "transcript.segment")
        payload = segment["payload"]
        assert segment["actor"] == "system"
        assert payload["language"] == "ru" and payload["model"] == "whisper-base"
        assert payload["started_at"] < payload["ended_at"]
        # Every participant got it as an event; the queue row is done and its audio gone.
        await member.wait_event(lambda e: e["type"] == "transcript.segment")
        async with server.runtime.db.read() as session:
            rows = (await session.scalars(select(TranscriptJob))).all()
        assert rows and all(r.status == "done" and r.audio == b"" for r in rows)
        listed = await member.ok("transcript.list")
        assert [s["seq"] for s in listed["segments"]] == [
            e["seq"] for e in host.events if e["type"] == "transcript.segment"
        ]
    finally:
        await speaker.close()
        await listener.close()

    # The draft protocol: the speaker's words in ВЫСТУПИЛИ, the стенограмма attached, the
    # statement that the meeting was transcribed.
    await host.ok("meeting.end")

    async def draft() -> str | None:
        async with server.runtime.db.read() as session:
            row = await session.scalar(
                select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id)
            )
        return row.text if row is not None and row.text else None

    text = await wait_for(draft, 60, what="the draft protocol")
    said = text.split("ВЫСТУПИЛИ:", 1)[1].split("ПРИМЕЧАНИЯ:")[0].split("Приложения:")[0]
    assert "Петрова" in said.split("—")[0] or "А." in said, said
    for word in ("обсужда", "план"):
        assert word in words(said), said
    assert "Велась аудиозапись и автоматическая расшифровка выступлений." in text
    assert "СТЕНОГРАММА ВЫСТУПЛЕНИЙ" in text

    # Search: members of the association find the words (Russian stemming), others do not.
    async def found(associations: set[int]) -> list[Any]:
        async with server.runtime.db.read() as session:
            return await search(session, "обсуждали план", association_ids=associations)

    hits = await wait_for(lambda: found({cast.meeting.association_id}), 30, what="transcript indexed")
    assert any(h.kind == "transcript" for h in hits)
    assert await found({cast.meeting.association_id + 1000}) == []


async def test_the_protocol_waits_for_queued_speech_then_names_what_was_not_transcribed(
    server: LiveServer, cast: Cast
) -> None:
    """Speech still queued when the meeting ends: the protocol job waits (Deferred) up to the
    bound, then fails the rest with ``transcript.failed`` and the draft's ПРИМЕЧАНИЯ name it."""
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    await cast.joined("member")
    await host.ok("meeting.end")
    async with server.runtime.db.transaction() as session:
        meeting = await session.get(Meeting, cast.meeting.id)
        assert meeting is not None and meeting.ended_at is not None
        start = meeting.ended_at - timedelta(seconds=30)
        # A segment the transcriber cannot take yet (leased by "another process").
        job_id = await enqueue_speech(session, meeting.id, cast.key("member"), start, start, b"SMOP1")
        job = await session.get(TranscriptJob, job_id)
        assert job is not None
        job.lease_until = meeting.ended_at + timedelta(hours=1)
    async with server.runtime.db.transaction() as session:
        with pytest.raises(Deferred):
            await wait_for_transcript(session, cast.meeting.id, 600)
    async with server.runtime.db.transaction() as session:
        await wait_for_transcript(session, cast.meeting.id, 0)
        assert await pending_count(session, cast.meeting.id) == 0
        await assemble_draft(session, cast.meeting.id)
    async with server.runtime.db.read() as session:
        job = await session.get(TranscriptJob, job_id)
        assert job is not None and job.status == "failed" and job.audio == b""
        row = await session.scalar(
            select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id)
        )
        failed = await session.scalar(
            select(func.count())
            .select_from(MeetingEvent)
            .where(MeetingEvent.meeting_id == cast.meeting.id, MeetingEvent.type == "transcript.failed")
        )
    assert failed == 1
    assert row is not None and "не расшифрован: не расшифрован к составлению протокола" in row.text


async def test_nothing_is_captured_while_transcription_is_off(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    speaker = ClientPeer(audio_slots=0, video_slots=0)
    speaker.publish(WavTrack(str(SPEECH / "lesson.wav")), "mic")
    try:
        await speaker.offer(offerer(member))
        await host.wait_event(lambda e: e["type"] == "speech.ended", 30)
    finally:
        await speaker.close()
    room = media_service(server.runtime).sfu.rooms.get(cast.meeting.id)
    assert room is None or not room.transcribing
    async with server.runtime.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(TranscriptJob)) == 0


async def test_a_model_with_a_wrong_checksum_leaves_the_room_running(
    database_url: str, tmp_path: Path, smtp: Any
) -> None:
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "config.json").write_text("{}")
    (fake / "model.bin").write_bytes(b"\0" * 1024)
    settings = make_settings(
        database_url,
        tmp_path / "var",
        smtp,
        transcription_model=str(fake),
        transcription_model_sha256="ab" * 32,
    )
    server = await start_live_server(settings)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:

            async def health() -> dict[str, Any] | None:
                body: dict[str, Any] = (await http.get("/healthz")).json()
                return body if body["transcription"]["status"] == "unavailable" else None

            body = await wait_for(health, 30, what="transcription reported unavailable")
        assert body["status"] == "ok"  # the server itself is healthy
        assert "checksum mismatch" in body["transcription"]["reason"]
        cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="badmodel")
        try:
            host, _ = await cast.joined("methodist")
            await host.ok("meeting.start")
            assert (await host.ok("media.config"))["transcription_available"] is False
            assert await host.error("transcription.switch", {"on": True}) == "transcription_unavailable"
            assert (await host.ok("transcript.list"))["available"] is False
            await host.ok("chat.send", {"text": "встреча идёт"})
            await host.wait_event(lambda e: e["type"] == "chat.message")
        finally:
            await cast.close_all(server.runtime.sio)
    finally:
        await server.stop()


async def test_the_associations_defaults_switch_on_at_the_first_start(server: LiveServer, cast: Cast) -> None:
    async with server.runtime.db.transaction() as session:
        association = await session.get(Association, cast.meeting.association_id)
        assert association is not None
        association.transcription_default = True
        association.recording_default = True
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    switched = [
        await host.wait_event(lambda e, kind=kind: e["type"] == kind)
        for kind in ("transcription.switched", "recording.switched")
    ]
    assert all(e["actor"] == "system" and e["payload"] == {"on": True} for e in switched)
    _, snapshot = await cast.joined("member")
    meeting = snapshot["state"]["meeting"]
    assert meeting["transcription"] is True and meeting["recording"] is True
