"""Polls across a kill -9: no acknowledged vote is lost, and the restarted process closes the
poll when its time is up (the timers are re-armed at startup)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from server.db.models import Poll
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.proc import start_server_process
from tests.test_polls_support import DECISION, RoomClient, create_open, make_world


async def test_kill9_keeps_every_acknowledged_vote_and_the_timer_survives(
    server: LiveServer, tmp_path: Path
) -> None:
    world = await make_world(server, members=5)
    secret = server.runtime.secret_key
    db_url = server.settings.database_url
    a = await start_server_process(db_url, tmp_path / "a", secret_key=secret, ready_seconds=120)
    b = None
    clients: list[RoomClient] = []
    try:
        mod = await world.room("methodist", url=a.url)
        voters = [await world.room(f"member{i}", url=a.url) for i in range(1, 6)]
        clients = [mod, *voters]
        poll_id = await create_open(mod, {**DECISION, "closes_in_seconds": 4})
        acks = await asyncio.gather(
            *(v.call("vote.cast", {"poll_id": poll_id, "choices": [i % 2]}) for i, v in enumerate(voters))
        )
        assert all(ack["ok"] for ack in acks), acks
        a.kill9()

        b = await start_server_process(db_url, tmp_path / "b", secret_key=secret, ready_seconds=120)

        async def closed() -> bool:
            async with server.runtime.db.read() as s:
                return await s.scalar(select(Poll.status).where(Poll.id == poll_id)) == "closed"

        await wait_for(closed, 30, what="the restarted process closed the poll by its timer")
        back = await world.room("member1", url=b.url)
        clients.append(back)
        events = (await back.call("sync", {"last_seq": 0}))["events"]
        closing = [e for e in events if e["type"] == "poll.closed"]
        assert len(closing) == 1 and closing[0]["payload"]["automatic"] is True
        assert closing[0]["payload"]["result"]["counts"] == [3, 2, 0]
        assert closing[0]["payload"]["result"]["cast"] == 5
        assert len([e for e in events if e["type"] == "vote.cast"]) == 5
    finally:
        await asyncio.gather(*(c.sio.disconnect() for c in clients), return_exceptions=True)
        await a.stop()
        if b is not None:
            await b.stop()
