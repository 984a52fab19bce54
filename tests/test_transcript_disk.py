"""A full disk in the middle of a transcribed meeting (a real one: the server's SQLite database
and files on a small tmpfs that the test fills up): the speech spoken meanwhile is marked
untranscribed (``transcript.failed``, ``not_stored``) once the log can take it, actions answer
with the typed ``storage_full`` error and change nothing, the server keeps running, and after
space is freed the meeting goes on and is transcribed again."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from realtime.media.speech_queue import speech_queue
from server.db.models import MeetingEvent, MeetingProtocol
from server.domain.protocol.workflow import assemble_draft
from server.errors import storage_full
from tests.conftest import make_settings, skip_or_fail
from tests.support.databases import migrated_database
from tests.support.live import start_live_server
from tests.support.media_peers import ClientPeer, WavTrack
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast
from tests.test_transcript_room import offerer, words

SPEECH = Path(__file__).parent / "speech"


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        skip_or_fail(f"a full-disk test needs a tmpfs mount (root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses (ENOSPC); returns it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 14, 1 << 10, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    with pytest.raises(OSError) as refused:
        (disk / "probe").write_bytes(b"\0" * 4096)
    assert refused.value.errno == errno.ENOSPC
    return filler


def checkpoint(db_file: Path) -> None:
    """Move the WAL's pages into the database and truncate it, so the next write needs new space."""
    con = sqlite3.connect(db_file, timeout=10)
    try:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        con.close()


async def test_a_full_disk_marks_the_speech_untranscribed_and_the_meeting_goes_on(
    tmp_path: Path, smtp: Any
) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        url = await migrated_database("sqlite", disk)
        server = await start_live_server(make_settings(url, disk / "var", smtp))
        peers: list[ClientPeer] = []
        cast = None
        try:
            cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="disk")
            host, _ = await cast.joined("methodist")
            await host.ok("meeting.start")
            await host.ok("transcription.switch", {"on": True})
            member, _ = await cast.joined("member")
            teacher, _ = await cast.joined("teacher2")
            listener = ClientPeer(audio_slots=2, video_slots=0)
            peers.append(listener)
            await listener.offer(offerer(host))

            checkpoint(disk / "test.db")
            filler = fill(disk)
            # The member speaks while nothing can be written.
            speaker = ClientPeer(audio_slots=0, video_slots=0)
            peers.append(speaker)
            speaker.publish(WavTrack(str(SPEECH / "plan.wav")), "mic")
            await speaker.offer(offerer(member))
            queue = speech_queue(server.runtime)
            await wait_for(lambda: bool(queue.held), 60, what="the captured speech refused by the full disk")

            # Actions are refused with the typed error and change nothing; reads still work.
            error = await host.emit_ack("chat.send", {"text": "пока диск полон"})
            assert error["ok"] is False and error["error"]["code"] == "storage_full", error
            assert "место на диске" in error["error"]["message_ru"]
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.get("/healthz")).status_code == 200

            # Space is freed: the marker reaches the log (and every client), in its own words.
            os.unlink(filler)
            marked = await host.wait_event(
                lambda e: (
                    e["type"] == "transcript.failed" and e["payload"]["participant"] == cast.key("member")
                ),
                60,
            )
            assert marked["payload"]["reason"] == "not_stored" and marked["actor"] == "system"
            await wait_for(lambda: not queue.held, 30, what="nothing held")
            await host.ok("chat.send", {"text": "место освободили"})
            await member.wait_event(
                lambda e: e["type"] == "chat.message" and e["payload"]["text"] == "место освободили"
            )

            # The meeting goes on and is transcribed again.
            voice = ClientPeer(audio_slots=0, video_slots=0)
            peers.append(voice)
            voice.publish(WavTrack(str(SPEECH / "lesson.wav")), "mic")
            await voice.offer(offerer(teacher))
            segment = await host.wait_event(
                lambda e: (
                    e["type"] == "transcript.segment" and e["payload"]["participant"] == cast.key("teacher2")
                ),
                120,
            )
            assert "урок" in words(segment["payload"]["text"]), segment
            async with server.runtime.db.read() as session:
                logged = (
                    await session.execute(
                        select(MeetingEvent.type, MeetingEvent.payload).where(
                            MeetingEvent.meeting_id == cast.meeting.id
                        )
                    )
                ).all()
            chats = [p["text"] for t, p in logged if t == "chat.message"]
            assert chats == ["место освободили"]  # the refused one changed nothing
            assert [t for t, _ in logged].count("transcript.failed") == 1

            # The protocol names the stretch that was not transcribed.
            await host.ok("meeting.end")
            async with server.runtime.db.transaction() as session:
                await assemble_draft(session, cast.meeting.id)
            async with server.runtime.db.read() as session:
                row = await session.scalar(
                    select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id)
                )
            assert row is not None and "звук не удалось сохранить" in row.text
        finally:
            for peer in peers:
                await peer.close()
            if cast is not None:
                await cast.close_all(server.runtime.sio)
            await server.stop()


def test_a_full_disk_is_told_apart_from_other_failures() -> None:
    """What the edges turn into ``storage_full``: ENOSPC however a driver wraps it, SQLite's
    SQLITE_FULL text, PostgreSQL's ``disk_full`` SQLSTATE; anything else stays an internal error."""

    class PgError(Exception):
        sqlstate = "53100"

    class Wrapped(Exception):
        def __init__(self, orig: BaseException) -> None:
            super().__init__("(driver) statement failed")
            self.orig = orig

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as chained:
        assert storage_full(chained) is not None
    assert storage_full(Wrapped(sqlite3.OperationalError("database or disk is full"))) is not None
    assert storage_full(Wrapped(PgError("could not write"))) is not None
    full = storage_full(OSError(errno.ENOSPC, "x"))
    assert full is not None and full.code == "storage_full" and full.status == 507
    assert full.message("en").startswith("Could not save")
    for other in (
        OSError(errno.EACCES, "denied"),
        sqlite3.OperationalError("database is locked"),
        ValueError(),
    ):
        assert storage_full(other) is None
