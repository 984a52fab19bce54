"""The groups' timer survives a restart (docs/groups.md): the end is a durable outbox row, so a
new server process on the same database ends the round at ends_at (the clock travels there),
and the reconnecting client finds itself back in the main room. A meeting that ends while
groups run ends them too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import make_settings
from tests.support.databases import drop_pg_database, migrated_database
from tests.support.live import start_live_server
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast
from tests.support.smtp import Inbox


async def test_a_restarted_server_ends_the_groups_on_time(
    backend: str, tmp_path: Path, smtp: tuple[str, int, Inbox], travel: Any
) -> None:
    url = await migrated_database(backend, tmp_path / "db")
    first = await start_live_server(make_settings(url, tmp_path / "var", smtp))
    second = None
    try:
        cast = await seed_cast(first.runtime.db, first.url, first.runtime.secret_key)
        host, _ = await cast.joined("methodist")
        await host.ok("meeting.start")
        member, _ = await cast.joined("member")
        plan = [{"name": "Практики", "members": [cast.key("member")]}]
        await host.ok("groups.start", {"groups": plan, "duration": 60})
        assert (await member.ok("groups.state"))["room"] is not None
        await cast.close_all()
        await first.stop()

        second = await start_live_server(make_settings(url, tmp_path / "var", smtp))
        cast.url = second.url
        travel(61)
        host, _ = await cast.joined("methodist")
        member, joined = await cast.joined("member", last_seq=0)

        def ended() -> dict[str, Any] | None:
            seen = [*joined["events"], *member.events]
            return next((e for e in seen if e["type"] == "groups.ended"), None)

        event = await wait_for(ended, 15, what="groups ended by the restarted server")
        assert event["payload"] == {"round": 1, "reason": "timer"}
        assert (await member.ok("groups.state"))["room"] is None

        # A meeting that ends while groups run ends them (the fold), nothing left running.
        await host.ok("groups.start", {"groups": plan, "duration": 600})
        assert (await member.ok("groups.state"))["groups"]["status"] == "running"
        await host.ok("meeting.end")
        state = await host.ok("groups.state")
        assert state["groups"]["status"] == "ended" and state["room"] is None
        await cast.close_all(second.runtime.sio)
    finally:
        if second is not None:
            await second.stop()
        if backend == "postgresql":
            await drop_pg_database(url)
