"""Issue 14, point 4: one date everywhere. A meeting planned weeks ahead and held today shows
today's date (the day it was held, Moscow time) on the protocol, the plan (with «перенесено»),
the meeting page, the association's page, the documents section and the notifications; the
planned date appears only as the plan's own date."""

from __future__ import annotations

from sqlalchemy import select

from server.db.models.protocols import MeetingProtocol
from server.db.types import utcnow
from server.domain.protocol.russian import date_text, moscow
from tests.support.factories import logged_in_client
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.sio import RoomClient, user_cookie
from tests.test_plan_meetings import add_row, future_day, seed, year_of


async def test_a_meeting_held_early_shows_the_day_it_was_held(server: LiveServer) -> None:
    aid, methodist_id, _ = await seed(server)
    day = future_day()
    year = year_of(day)
    c = await logged_in_client(server, "metodist@example.org")
    try:
        rid = await add_row(
            c, aid, year, topic="Итоги четверти", form="Семинар", planned_date=day.isoformat()
        )
        r = await c.submit(f"/associations/{aid}/plan/rows/{rid}/meeting")
        mid = int(r.headers["location"].split("/")[2])
    finally:
        await c.aclose()

    room = RoomClient(server.url, user_cookie(server.runtime.secret_key, methodist_id))
    try:
        await room.connect()
        await room.ok("join", {"meeting_id": mid})
        await room.ok("meeting.start")  # weeks before the planned day
        await room.ok("meeting.end")
    finally:
        await room.close()
    held = moscow(utcnow()).date()
    assert held != day

    async def drafted() -> MeetingProtocol | None:
        async with server.runtime.db.read() as s:
            return await s.scalar(select(MeetingProtocol).where(MeetingProtocol.meeting_id == mid))

    pid = (await wait_for(drafted, 30, what="protocol draft assembled")).id
    held_short, planned_short = held.strftime("%d.%m.%Y"), day.strftime("%d.%m.%Y")
    held_long, planned_long = date_text(held), date_text(day)
    c = await logged_in_client(server, "metodist@example.org")
    teacher = await logged_in_client(server, "teacher@example.org")
    try:
        r = await c.submit(f"/protocols/{pid}/approve")
        assert r.status_code == 303
        protocol = (await c.get(f"/protocols/{pid}")).text
        assert f"{held_short} № 1" in protocol and planned_short not in protocol

        plan = (await c.get(f"/associations/{aid}/plan?year={year}")).text
        assert f"перенесено на {held_short}" in plan  # held off the plan's date
        assert planned_short in plan  # the plan's own date stays
        row_html = plan.split(f'id="row-{rid}"', 1)[1].split("</tr>", 1)[0]
        link = row_html.split(f'href="/meetings/{mid}"', 1)[1].split("</a>", 1)[0]
        assert held_short in link and planned_short not in link

        meeting = (await c.get(f"/meetings/{mid}")).text
        assert held_long in meeting and planned_long not in meeting

        association = (await c.get(f"/associations/{aid}")).text
        assert f"{held_short} — Итоги четверти" in association and planned_short not in association

        library = (await c.get(f"/associations/{aid}/library")).text
        assert held_short in library and planned_short not in library

        notices = (await teacher.get("/notifications")).text
        assert f"утверждён протокол № 1 заседания «Итоги четверти» ({held_short})" in notices
        assert planned_short not in notices
    finally:
        await c.aclose()
        await teacher.aclose()
