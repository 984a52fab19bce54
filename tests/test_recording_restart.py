"""kill -9 while recording: the files written so far are readable and lose at most the last
seconds; the restarted server goes on recording (the switch is in the log) in new files."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from server.db.models import Meeting
from server.db.models.recordings import MeetingRecording, RecordingTrack
from server.db.types import utcnow
from server.domain.meeting.recording import recording_path
from server.domain.meeting.recording_mix import WRITERS_GRACE
from server.settings import Settings
from tests.support.ffprobe import decoded_duration, probe
from tests.support.live import LiveServer
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.proc import ServerProcess, start_server_process
from tests.support.room_seed import seed_cast
from tests.support.sio import RoomClient
from tests.test_media_signalling import offerer


def speaker() -> ClientPeer:
    peer = ClientPeer(audio_slots=1, video_slots=1)
    peer.publish(ToneTrack(frequency=400), "mic")
    peer.publish(PatternTrack(320, 240), "camera")
    return peer


async def test_kill9_keeps_what_was_written_and_the_restart_records_in_new_files(
    server: LiveServer, tmp_path: Path
) -> None:
    secret = server.runtime.secret_key
    db_url = server.settings.database_url
    # One files volume for every process (as when scaled out): the in-process server's worker
    # may run the mixing job too.
    var = Path(server.settings.var_dir)
    files = Settings(env="test", database_url=db_url, var_dir=var, secret_key=secret)
    cast = await seed_cast(server.runtime.db, server.url, secret)

    async def rows() -> list[RecordingTrack]:
        async with server.runtime.db.read() as s:
            found = await s.scalars(
                select(RecordingTrack).where(RecordingTrack.meeting_id == cast.meeting.id)
            )
            return list(found.all())

    procs: list[ServerProcess] = []
    clients: list[RoomClient] = []
    peers: list[ClientPeer] = []
    try:
        a = await start_server_process(db_url, var, secret_key=secret)
        procs.append(a)
        host, _ = await cast.joined("methodist", url=a.url)
        await host.ok("meeting.start")
        member, _ = await cast.joined("member", url=a.url)
        clients += [host, member]
        peers.append(speaker())
        await peers[-1].offer(offerer(member))
        await host.ok("recording.switch", {"on": True})
        switched = time.monotonic()
        first = await wait_for(lambda: _two(rows), 20, what="two tracks recording")
        await wait_for(lambda: time.monotonic() - switched >= 5, 10, what="five seconds recorded")
        a.kill9()
        elapsed = time.monotonic() - switched
        await peers[-1].close()
        for row in first:
            assert row.status == "recording"  # nobody closed it
            path = recording_path(files, row.storage_name)
            info = probe(path)  # readable, no error
            assert [s["codec_name"] for s in info["streams"]] == (
                ["vp8"] if row.kind == "video" else ["opus"]
            )
            kept = decoded_duration(path)
            print(f"{row.source}: {elapsed:.2f}s recorded before kill -9, {kept:.2f}s readable")
            assert elapsed - 3.5 <= kept <= elapsed + 0.5  # at most the last cluster (2 s) lost

        b = await start_server_process(db_url, var, secret_key=secret)
        procs.append(b)
        host, _ = await cast.joined("methodist", url=b.url)
        member, _ = await cast.joined("member", url=b.url)
        clients += [host, member]
        peers.append(speaker())
        await peers[-1].offer(offerer(member))

        async def four() -> list[RecordingTrack]:
            found = await rows()
            return found if len(found) == 4 else []

        after = await wait_for(four, 20, what="the restarted server records again")
        old = {r.storage_name for r in first}
        new = [r for r in after if r.storage_name not in old]
        assert len(new) == 2 and {r.source for r in new} == {"mic", "camera"}
        # The new files open at their first frame. Count the seconds from the microphone's first
        # frame, not from the switch: after a restart the client's ICE and DTLS come first, and on
        # a loaded machine they can take longer than the window itself.
        mic = next(r for r in new if r.source == "mic")
        await wait_for(recording_path(files, mic.storage_name).exists, 20, what="the new mic's first frame")
        flowing = time.monotonic()
        await wait_for(lambda: time.monotonic() - flowing >= 3, 10, what="more recording")
        await host.ok("recording.switch", {"on": False})

        async def closed() -> bool:
            return all(r.status == "complete" for r in await rows() if r.storage_name not in old)

        await wait_for(closed, 15, what="the new files closed")
        # Every new file reads without error. A camera whose first key frame came late holds a
        # frame or a few (or none, and then has no file); the microphone has a length.
        latest = {r.storage_name: r for r in await rows()}
        for row in new:
            done = latest[row.storage_name]
            path = recording_path(files, row.storage_name)
            if done.frames == 0:
                assert done.kind == "video" and not path.exists(), (done.source, done.frames)
                continue
            info = probe(path)
            if done.kind == "audio":
                assert float(info["format"].get("duration") or 0) > 0, info["format"]
        # The first files stay as they were until the meeting's mixing job marks them interrupted.
        assert all(r.status == "recording" for r in await rows() if r.storage_name in old)
        await host.ok("meeting.end")
        async with server.runtime.db.transaction() as s:  # their writers' process is long dead
            await s.execute(
                update(Meeting)
                .where(Meeting.id == cast.meeting.id)
                .values(ended_at=utcnow() - WRITERS_GRACE - timedelta(seconds=1))
            )

        async def mixed() -> MeetingRecording | None:
            async with server.runtime.db.read() as s:
                row = await s.scalar(
                    select(MeetingRecording).where(MeetingRecording.meeting_id == cast.meeting.id)
                )
            return row if row is not None and row.status == "ready" else None

        made = await wait_for(mixed, 60, what="the mixed audio")
        for row in await rows():
            if row.storage_name in old:
                assert row.status == "interrupted" and row.size > 0
                assert abs(row.duration - decoded_duration(recording_path(files, row.storage_name))) < 0.1
        # Both sessions' microphones are in the mix, placed at their times (the gap is silence).
        assert made.audio_duration >= elapsed + 2
        assert (
            probe(recording_path(files, str(made.audio_storage_name)))["streams"][0]["codec_name"] == "opus"
        )
    finally:
        await asyncio.gather(*(c.sio.disconnect() for c in clients), return_exceptions=True)
        for peer in peers:
            await peer.close()
        for proc in procs:
            await proc.stop()


async def _two(rows: object) -> list[RecordingTrack]:
    found = await rows()  # type: ignore[operator]
    return list(found) if len(found) == 2 else []
