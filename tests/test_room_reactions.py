"""reaction.send: a passing sign reaches everyone in the meeting once it is live, is refused
before the start and after the end, is validated, and is rate-limited."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_a_reaction_reaches_everyone_only_while_live(cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    member, _ = await cast.joined("member")
    before = await member.emit_ack("reaction.send", {"kind": "like"})
    assert before["ok"] is False and before["error"]["code"] == "meeting_not_live"
    await host.ok("meeting.start", {})

    await member.ok("reaction.send", {"kind": "applause"})
    sign = {"participant": cast.key("member"), "kind": "applause"}
    for c in (host, member):
        await wait_for(lambda c=c: ("reaction", sign) in c.other, 10, what="the reaction pushed")

    bad = await member.emit_ack("reaction.send", {"kind": "<script>"})
    assert bad["ok"] is False and bad["error"]["code"] == "validation_failed"
    codes = []
    for _ in range(13):  # 6 per 10 s: two windows' worth and one more cannot all pass
        ack = await member.emit_ack("reaction.send", {"kind": "like"})
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert "rate_limited" in codes

    await host.ok("meeting.end", {})
    after = await host.emit_ack("reaction.send", {"kind": "like"})
    assert after["ok"] is False and after["error"]["code"] == "meeting_ended"
    for c in (host, member):
        await c.close()
