"""The recording page, its downloads, deletion by the methodist and the retention job: who may
do what (role matrix), what the files look like on the wire, what is left after deletion."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import func, select, update

from server.db.models import Meeting, MeetingEvent, OutboxMessage, User
from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.db.types import utcnow
from server.domain.meeting.meeting_log import append_events
from server.domain.meeting.recording import EXPIRE_JOB, recording_path
from server.workers import wake_outbox
from tests.support.client import WebClient
from tests.support.factories import logged_in_client
from tests.support.ffprobe import probe
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.recordings import make_recording
from tests.support.room_seed import Cast, seed_cast

ROLES = ("member", "mo_head", "methodist", "admin", "outsider")


async def recorded_meeting(server: LiveServer) -> tuple[Cast, dict[tuple[str, str], int]]:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    start = utcnow()
    async with db.transaction() as s:
        await append_events(
            s,
            cast.meeting.id,
            [
                ("meeting.started", "system", {}),
                *[
                    (
                        "participant.joined",
                        cast.key(role),
                        {"participant": cast.key(role), "name": name, "short_name": short, "role": role},
                    )
                    for role, name, short in (
                        ("member", "Петрова Анна Сергеевна", "А.С. Петрова"),
                        ("methodist", "Иванова Мария Петровна", "М.П. Иванова"),
                    )
                ],
                ("meeting.ended", "system", {}),
            ],
        )
        # A transcript segment as the transcription emits it (its type is registered there).
        meeting = await s.get(Meeting, cast.meeting.id)
        assert meeting is not None
        meeting.last_seq += 1
        s.add(
            MeetingEvent(
                meeting_id=meeting.id,
                seq=meeting.last_seq,
                type="transcript.segment",
                actor="system",
                payload={
                    "speaker": cast.key("methodist"),
                    "started_at": (start + timedelta(seconds=2)).isoformat(),
                    "ended_at": (start + timedelta(seconds=3)).isoformat(),
                    "text": "Коллеги, <b>начинаем</b> заседание",
                },
            )
        )
    made = await make_recording(
        server.runtime,
        cast.meeting.id,
        start,
        [
            (cast.key("member"), "mic", 0.0, 4.0),
            (cast.key("methodist"), "mic", 1.0, 3.0),
            (cast.key("member"), "camera", 0.5, 3.5),
        ],
    )
    return cast, made.track_ids


async def clients(server: LiveServer, cast: Cast) -> dict[str, WebClient]:
    out = {}
    for role in ROLES:
        async with server.runtime.db.read() as s:
            user = await s.get(User, cast.ids[role])
            assert user is not None
        out[role] = await logged_in_client(server, user.email)
    out["anonymous"] = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    return out


async def test_role_matrix_downloads_and_deletion(server: LiveServer) -> None:
    cast, tracks = await recorded_meeting(server)
    mid = cast.meeting.id
    settings = server.runtime.settings
    async with server.runtime.db.read() as s:
        recording = await s.scalar(select(MeetingRecording).where(MeetingRecording.meeting_id == mid))
    assert recording is not None and recording.status == "ready" and recording.audio_storage_name
    assert abs(recording.audio_duration - 4.0) < 0.2
    web = await clients(server, cast)
    camera = tracks[(cast.key("member"), "camera")]
    try:
        page = f"/meetings/{mid}/recording"
        urls = [page, f"{page}/audio", f"{page}/tracks/{camera}"]
        expected = {"member": 200, "mo_head": 200, "methodist": 200, "admin": 200, "outsider": 403}
        for role, status in expected.items():
            for url in urls:
                assert (await web[role].get(url)).status_code == status, (role, url)
        for url in urls:
            r = await web["anonymous"].get(url)
            assert r.status_code in (302, 303, 401) and r.status_code != 200
        r = await web["member"].get(page)
        assert "Запись встречи" in r.text and "А.С. Петрова — камера" in r.text
        assert f'id="recording-video" src="{page}/tracks/{camera}" data-offset="0.500"' in r.text
        assert "&lt;b&gt;начинаем&lt;/b&gt;" in r.text and "<b>начинаем" not in r.text  # escaped
        assert 'data-seek="2.000"' in r.text and "М.П. Иванова:" in r.text
        assert "recording-delete" not in r.text  # members do not see the deletion form
        assert "recording-delete" in (await web["methodist"].get(page)).text

        r = await web["member"].get(f"{page}/audio")
        assert r.headers["content-type"] == "audio/ogg"
        assert r.headers["x-content-type-options"] == "nosniff"
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment;") and quote("Запись встречи", safe="") in disposition
        assert r.content[:4] == b"OggS"
        r = await web["member"].get(f"{page}/tracks/{camera}", headers={"Range": "bytes=0-99"})
        assert r.status_code == 206 and len(r.content) == 100 and r.headers["content-type"] == "video/webm"
        r = await web["member"].get(f"{page}/tracks/{tracks[(cast.key('methodist'), 'mic')]}")
        assert r.headers["content-type"] == "audio/webm"
        assert quote("М.П. Иванова — микрофон", safe="") in r.headers["content-disposition"]
        assert (await web["member"].get(f"{page}/tracks/{camera + 9999}")).status_code == 404
        assert (await web["member"].get(f"/meetings/{mid + 9999}/recording")).status_code == 404
        assert f'href="/meetings/{mid}/recording"' in (await web["member"].get(f"/meetings/{mid}")).text

        # Deletion: the methodist (or an administrator) only, with CSRF and the confirmation.
        delete = f"{page}/delete"
        assert (await web["member"].submit(delete, {"confirm": "yes"})).status_code == 403
        assert (await web["mo_head"].submit(delete, {"confirm": "yes"})).status_code == 403
        assert (await web["outsider"].submit(delete, {"confirm": "yes"})).status_code == 403
        assert (await web["methodist"].post(delete, data={"confirm": "yes"})).status_code == 403  # no CSRF
        assert (await web["methodist"].submit(delete, {})).status_code == 422  # not confirmed
        assert (await web["methodist"].submit(delete, {"confirm": "no"})).status_code == 422
        paths = [recording_path(settings, recording.audio_storage_name)]
        async with server.runtime.db.read() as s:
            names = (
                await s.scalars(select(RecordingTrack.storage_name).where(RecordingTrack.meeting_id == mid))
            ).all()
        paths += [recording_path(settings, n) for n in names]
        assert len(paths) == 4 and all(p.exists() for p in paths)  # nothing changed so far
        r = await web["methodist"].submit(delete, {"confirm": "yes"})
        assert r.status_code == 303 and r.headers["location"] == f"/meetings/{mid}"
        assert not any(p.exists() for p in paths)
        async with server.runtime.db.read() as s:
            gone = await s.scalar(select(MeetingRecording).where(MeetingRecording.meeting_id == mid))
            left = await s.scalar(
                select(func.count(RecordingTrack.id)).where(RecordingTrack.meeting_id == mid)
            )
        assert gone is not None and gone.status == "deleted" and gone.deletion_reason == "methodist"
        assert gone.deleted_by_id == cast.ids["methodist"] and left == 0
        for url in urls:
            assert (await web["member"].get(url)).status_code == 404
        assert (await web["methodist"].submit(delete, {"confirm": "yes"})).status_code == 404
    finally:
        for c in web.values():
            await c.aclose()


async def test_retention_job_deletes_the_recording_when_due(server: LiveServer) -> None:
    cast, _ = await recorded_meeting(server)
    mid = cast.meeting.id
    days = server.runtime.settings.recording_retention_days
    async with server.runtime.db.read() as s:
        recording = await s.scalar(select(MeetingRecording).where(MeetingRecording.meeting_id == mid))
        job = await s.scalar(select(OutboxMessage).where(OutboxMessage.kind == EXPIRE_JOB))
    assert recording is not None and recording.made_at is not None and job is not None
    # Durable: a scheduled outbox row, due when the retention period is over.
    assert abs((job.next_attempt_at - recording.made_at) - timedelta(days=days)) < timedelta(seconds=1)
    assert job.status == "pending"
    path = recording_path(server.runtime.settings, str(recording.audio_storage_name))
    assert probe(path)["streams"][0]["codec_name"] == "opus"
    # The period passes (the recording was made long ago; the row is due now).
    async with server.runtime.db.transaction() as s:
        await s.execute(
            update(MeetingRecording)
            .where(MeetingRecording.id == recording.id)
            .values(made_at=utcnow() - timedelta(days=days + 1))
        )
        await s.execute(
            update(OutboxMessage).where(OutboxMessage.id == job.id).values(next_attempt_at=utcnow())
        )
    wake_outbox(server.runtime)

    async def deleted() -> bool:
        async with server.runtime.db.read() as s:
            row = await s.get(MeetingRecording, recording.id)
            return row is not None and row.status == "deleted"

    await wait_for(deleted, 20, what="the retention job")
    async with server.runtime.db.read() as s:
        row = await s.get(MeetingRecording, recording.id)
        assert row is not None and row.deletion_reason == "retention" and row.deleted_by_id is None
        assert (
            await s.scalar(select(func.count(RecordingTrack.id)).where(RecordingTrack.meeting_id == mid)) == 0
        )
    assert not path.exists()
