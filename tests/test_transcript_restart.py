"""kill -9 during transcription: the queued speech survives in the database, the next server
process transcribes it, and every segment reaches the log exactly once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from server.db.engine import Database
from server.db.models import MeetingEvent
from server.db.models.transcripts import TranscriptJob
from server.db.types import utcnow
from server.domain.meeting.transcript import enqueue_speech
from server.transcription.audio import pack_packets
from tests.support.databases import drop_pg_database, migrated_database
from tests.support.factories import make_association, make_meeting
from tests.support.net import wait_for
from tests.support.proc import start_server_process
from tests.support.speech import SPEECH, opus_packets


async def test_queued_speech_is_transcribed_once_after_kill_9(backend: str, tmp_path: Path) -> None:
    url = await migrated_database(backend, tmp_path)
    db = Database(url)
    try:
        association = await make_association(db)
        meeting = await make_meeting(db, association.id)
        blobs = [pack_packets(opus_packets(SPEECH / name)) for name in ("plan.wav", "lesson.wav", "plan.wav")]
        now = utcnow()
        async with db.transaction() as s:
            for i, blob in enumerate(blobs):
                await enqueue_speech(s, meeting.id, f"u:{i + 1}", now, now, blob)

        async def rows() -> list[tuple[str, bool]]:
            async with db.read() as s:
                found = (await s.execute(select(TranscriptJob.status, TranscriptJob.lease_until))).all()
            return [(status, lease is not None) for status, lease in found]

        async def segments() -> list[str]:
            async with db.read() as s:
                found = await s.scalars(
                    select(MeetingEvent.payload)
                    .where(MeetingEvent.meeting_id == meeting.id, MeetingEvent.type == "transcript.segment")
                    .order_by(MeetingEvent.seq)
                )
                return [f"{p['participant']} {p['text']}" for p in found]

        env = {"SMO_TRANSCRIPTION_THREADS": "1"}
        first = await start_server_process(url, tmp_path / "var1", secret_key="k" * 32, extra_env=env)
        try:
            # The first process claims a segment (and loads the model, then transcribes it).
            async def leased() -> bool:
                return any(status == "pending" and lease for status, lease in await rows())

            await wait_for(leased, 60, interval=0.02, what="a segment being transcribed")
        finally:
            first.kill9()
        at_kill = await rows()
        assert any(status == "pending" for status, _ in at_kill), at_kill
        done_before = len(await segments())

        second = await start_server_process(url, tmp_path / "var2", secret_key="k" * 32, extra_env=env)
        try:

            async def all_done() -> bool:
                return all(status == "done" for status, _ in await rows())

            await wait_for(all_done, 180, interval=0.2, what="the queue transcribed after the restart")
        finally:
            await second.stop()
        said = await segments()
        print("done before the kill:", done_before, "segments:", said)
        # Exactly one segment per queued speech, each from its own speaker.
        assert sorted(s.split(" ", 1)[0] for s in said) == ["u:1", "u:2", "u:3"], said
        assert "план" in said[[s.split(" ", 1)[0] for s in said].index("u:1")].lower()
        async with db.read() as s:
            assert (
                await s.scalar(
                    select(func.count()).select_from(TranscriptJob).where(TranscriptJob.audio != b"")
                )
                == 0
            )
    finally:
        await db.dispose()
        if backend == "postgresql":
            await drop_pg_database(url)
