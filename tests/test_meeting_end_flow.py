"""Ending a meeting closes its open polls and assembles the protocol's draft, exactly once."""

from __future__ import annotations

from sqlalchemy import func, select

from server.db.models import OutboxMessage, User
from server.db.models.protocols import MeetingProtocol
from tests.support.factories import logged_in_client
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast


async def test_end_closes_polls_and_drafts_the_protocol_once(server: LiveServer) -> None:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    try:
        host, _ = await cast.joined("methodist")
        teacher, _ = await cast.joined("member")
        host_key, teacher_key = f"u:{cast.ids['methodist']}", f"u:{cast.ids['member']}"
        await host.ok("meeting.start")
        poll = await host.ok(
            "poll.create", {"question": "Утвердить план работы", "kind": "decision", "secret": False}
        )
        await host.ok("poll.open", {"poll_id": poll["poll_id"]})
        await teacher.ok("vote.cast", {"poll_id": poll["poll_id"], "choices": [0]})
        await teacher.ok("chat.send", {"text": "Согласна с планом"})
        await host.ok("meeting.end")

        closed = await host.wait_event(lambda e: e["type"] == "poll.closed")
        assert closed["payload"]["result"]["counts"] == [1, 0, 0]
        assert closed["payload"]["automatic"] is True and closed["payload"]["reason"] == "meeting_ended"
        # Everyone still connected is recorded as gone, right after the end, in its transaction.
        await host.wait_event(
            lambda e: e["type"] == "participant.left" and e["payload"]["participant"] == teacher_key
        )
        types = [e["type"] for e in host.events]
        assert types.index("poll.closed") < types.index("meeting.ended")
        ended = next(e for e in host.events if e["type"] == "meeting.ended")
        gone = [e for e in host.events if e["type"] == "participant.left"]
        assert {e["payload"]["participant"] for e in gone} == {host_key, teacher_key}
        assert all(e["payload"]["reason"] == "meeting_ended" for e in gone)
        assert all(e["seq"] > ended["seq"] and e["at"] == ended["at"] for e in gone)
        assert [e["seq"] for e in gone] == list(range(ended["seq"] + 1, ended["seq"] + 1 + len(gone)))

        async def drafted() -> MeetingProtocol | None:
            async with db.read() as s:
                return await s.scalar(
                    select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id)
                )

        protocol = await wait_for(drafted, 20, what="protocol draft assembled")
        assert "ПРОТОКОЛ" in protocol.text
        # The vote was cut off by the end: not completed, the ballots so far, no outcome.
        assert "Голосование не завершено: прервано окончанием заседания." in protocol.text
        assert "Подано голосов до окончания: «за» — 1, «против» — 0, «воздержались» — 0." in protocol.text
        assert "Решение принято" not in protocol.text and "Решение не принято" not in protocol.text
        assert "1. Голосование «Утвердить план работы» не завершено: прервано окончанием заседания." in (
            protocol.text
        )
        # The chat is an attachment, not a speech.
        assert "ВЫСТУПИЛИ" not in protocol.text
        assert "СООБЩЕНИЯ ЧАТА" in protocol.text and "А.П. Петрова: Согласна с планом" in protocol.text
        async with db.read() as s:
            jobs = await s.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "protocol.assemble")
            )
            drafts = await s.scalar(select(func.count(MeetingProtocol.id)))
        assert jobs == 1 and drafts == 1

        # A member reads it all on the meeting page a week later: protocol and chat.
        async with db.read() as s:
            email = (await s.get(User, cast.ids["member"])).email  # type: ignore[union-attr]
        web = await logged_in_client(server, email, "secret123")
        try:
            page = await web.get(f"/meetings/{cast.meeting.id}")
            listing = await web.get(f"/associations/{cast.meeting.association_id}")
        finally:
            await web.aclose()
        assert page.status_code == 200
        assert "Согласна с планом" in page.text
        assert "ПРОТОКОЛ" in page.text and "черновик" in page.text
        assert f"/meetings/{cast.meeting.id}/documents" in page.text
        # ... and the association's page lists the protocol.
        assert listing.status_code == 200
        assert f'href="/protocols/{protocol.id}"' in listing.text
    finally:
        await cast.close_all(server.runtime.sio)
