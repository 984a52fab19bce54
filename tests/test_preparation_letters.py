"""The information letter with its iCalendar invitation; the automatic update when the meeting
is moved through the real edit form, the cancellation; nothing is sent twice."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import func, select

from server.db.models import MeetingLetter, Role
from server.domain.protocol import russian as ru
from tests.support.factories import add_member, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.meeting_world import JSON, World
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text
from tests.test_preparation_world import (
    calendar_of,
    create_meeting,
    edit_meeting,
    event_of,
    load_meeting,
    mails,
    moscow_day,
    outbox_rows,
    run_now,
    settle,
    world,
)

__all__ = ["world"]

MEMBERS = ("methodist@example.org", "mo_head@example.org", "member@example.org")
TITLE = "Формирующее оценивание на уроках математики"


async def letter_rows(server: LiveServer, meeting_id: int) -> int:
    async with server.runtime.db.read() as s:
        n = await s.scalar(
            select(func.count()).select_from(MeetingLetter).where(MeetingLetter.meeting_id == meeting_id)
        )
    return int(n or 0)


async def test_letter_update_cancel_and_no_duplicates(server: LiveServer, world: World, inbox: Inbox) -> None:
    day = moscow_day(30)
    mid = await create_meeting(world, day)
    meeting = await load_meeting(server, mid)
    methodist = await world.client("methodist")
    r = await methodist.submit(
        f"/meetings/{mid}/materials",
        {"title": "Статья о формирующем оценивании", "url": "https://example.org/st"},
    )
    assert r.status_code == 303, r.text[:300]

    # The methodist sees the letter box on the meeting page, a member does not.
    page = (await methodist.get(f"/meetings/{mid}")).text
    assert f'action="/meetings/{mid}/letter"' in page and "Отправить информационное письмо (3)" in page
    member_page = (await (await world.client("member")).get(f"/meetings/{mid}")).text
    assert f'action="/meetings/{mid}/letter"' not in member_page
    assert (
        "Статья о формирующем оценивании" in member_page
        and f'action="/meetings/{mid}/register"' in member_page
    )

    r = await methodist.submit(f"/meetings/{mid}/letter", {})
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{mid}#preparation"
    await wait_for(lambda: len(mails(inbox, "Информационное письмо")) == 3, 30, what="3 letters")
    when = f"{ru.date_text(meeting.starts_at)}, 15:00 (МСК)"
    public = server.settings.public_url.rstrip("/")
    uid = f"smo-meeting-{mid}@127.0.0.1"
    assert sorted(m["X-Envelope-To"] for m in mails(inbox, "Информационное письмо")) == sorted(MEMBERS)
    for msg in mails(inbox, "Информационное письмо"):
        assert msg["Subject"] == f"Информационное письмо о заседании «{TITLE}», {when}"
        text = body_text(msg)
        assert "Здравствуйте, Мария Петровна!" in text
        assert f"Дата и время: {ru.date_text(meeting.starts_at)}, 15:00–16:30 (МСК)" in text
        assert "1. О плане работы (докладчик: М.П. Смирнова)" in text
        assert "2. Из опыта работы (докладчик: М.П. Иванова)" in text
        assert "— Статья о формирующем оценивании: https://example.org/st" in text
        assert f"{public}/meetings/{mid}" in text
        html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
        assert "Повестка дня" in html and 'href="https://example.org/st"' in html
        method, cal = calendar_of(msg)
        ev = event_of(cal)
        assert method == "REQUEST" and str(cal["METHOD"]) == "REQUEST"
        assert str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == 0
        assert ev.decoded("DTSTART") == meeting.starts_at and ev.decoded("DTEND") == meeting.ends_at
        assert ev["DTSTART"].to_ical().endswith(b"Z")  # UTC
        assert str(ev["SUMMARY"]) == TITLE
        assert "Повестка дня:" in str(ev["DESCRIPTION"]) and f"{public}/meetings/{mid}" in str(
            ev["DESCRIPTION"]
        )
        assert str(ev["ORGANIZER"]) == "mailto:noreply@smo.local"
        assert str(ev["ATTENDEE"]) == f"mailto:{msg['X-Envelope-To']}"

    # Sending again reaches nobody new; a newcomer gets only their own letter, same SEQUENCE.
    r = await methodist.submit(f"/meetings/{mid}/letter", {})
    assert r.status_code == 303 and await letter_rows(server, mid) == 1
    assert "Все члены объединения уже получили письмо." in (await methodist.get(f"/meetings/{mid}")).text
    newcomer = await make_user(server.runtime.db, "newcomer@example.org", first_name="Ольга", middle_name="")
    await add_member(server.runtime.db, world.association_id, newcomer.id, Role.member)
    r = await methodist.submit(f"/meetings/{mid}/letter", {})
    await wait_for(lambda: inbox.to("newcomer@example.org"), 30, what="newcomer's letter")
    assert "Здравствуйте, Ольга!" in body_text(inbox.to("newcomer@example.org")[0])
    assert int(event_of(calendar_of(inbox.to("newcomer@example.org")[0])[1])["SEQUENCE"]) == 0
    assert len(mails(inbox, "Информационное письмо")) == 4
    # Joined after the letters: gets no update about a letter never received.
    late = await make_user(server.runtime.db, "late@example.org")
    await add_member(server.runtime.db, world.association_id, late.id, Role.member)

    # A change that does not move the meeting sends nothing.
    await edit_meeting(world, mid, day, description="Обновлённое описание.")
    assert await letter_rows(server, mid) == 2

    # Rescheduled through the real edit form: SEQUENCE 1 with the new DTSTART, previous recipients only.
    new_day = day + timedelta(days=2)
    await edit_meeting(world, mid, new_day, start="16:00", end="17:00")
    moved = await load_meeting(server, mid)
    assert moved.starts_at == meeting.starts_at + timedelta(days=2, hours=1)
    await wait_for(lambda: len(mails(inbox, "Перенос заседания")) == 4, 30, what="4 updates")
    updates = mails(inbox, "Перенос заседания")
    assert sorted(m["X-Envelope-To"] for m in updates) == sorted((*MEMBERS, "newcomer@example.org"))
    for msg in updates:
        text = body_text(msg)
        assert f"Новые дата и время: {ru.date_text(moved.starts_at)}, 16:00–17:00 (МСК)." in text
        assert f"Прежние: {ru.date_text(meeting.starts_at)}, 15:00 (МСК)." in text
        method, cal = calendar_of(msg)
        ev = event_of(cal)
        assert method == "REQUEST" and str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == 1
        assert ev.decoded("DTSTART") == moved.starts_at.astimezone(UTC)
    assert not inbox.to("late@example.org")

    # Re-running every letter job (as after a crash) queues and sends nothing twice.
    await settle(server)
    sent_rows = len(await outbox_rows(server, "mail:letter:"))
    assert sent_rows == 8
    for row in await outbox_rows(server, "meeting.letter:"):
        await run_now(server, row.dedupe_key)
    assert len(await outbox_rows(server, "mail:letter:")) == sent_rows
    assert len(inbox.messages) == len({m["Message-ID"] for m in inbox.messages})
    assert len(mails(inbox, "Информационное письмо")) == 4 and len(mails(inbox, "Перенос заседания")) == 4

    # Cancelled: METHOD:CANCEL, STATUS:CANCELLED, the next SEQUENCE, to the same people.
    r = await methodist.submit(f"/meetings/{mid}/cancel", {})
    assert r.status_code == 303
    await wait_for(lambda: len(mails(inbox, "Отмена заседания")) == 4, 30, what="4 cancellations")
    for msg in mails(inbox, "Отмена заседания"):
        assert "отменено" in body_text(msg)
        method, cal = calendar_of(msg)
        ev = event_of(cal)
        assert method == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
        assert str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 2 and str(ev["UID"]) == uid
    assert not inbox.to("late@example.org")
    r = await methodist.submit(f"/meetings/{mid}/letter", {}, headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "letter_closed"
    # The letter box is gone; the preparation page lists the three sendings.
    prep = (await methodist.get(f"/meetings/{mid}/preparation")).text
    assert (
        prep.index("информационное письмо") < prep.index("перенос заседания") < prep.index("отмена заседания")
    )


async def test_letter_role_matrix(server: LiveServer, world: World, inbox: Inbox) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, chair_id=world.ids["member"])
    clients = await world.clients()
    url = f"/meetings/{meeting.id}/letter"
    r = await clients["anonymous"].submit(url, {})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for name in ("member", "mo_head", "other_methodist"):  # the chair is no methodist either
        r = await clients[name].submit(url, {}, headers=JSON)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", name
        page = (await clients[name].get(f"/meetings/{meeting.id}")).text
        assert f'action="{url}"' not in page
    r = await clients["methodist"].post(url, data={"csrf_token": "forged"}, headers=JSON)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert await letter_rows(server, meeting.id) == 0
    r = await clients["admin"].submit(url, {})
    assert r.status_code == 303
    await wait_for(lambda: len(mails(inbox, "Информационное письмо")) == 3, 30, what="letters")
    r = await clients["methodist"].submit("/meetings/424242/letter", {}, headers=JSON)
    assert r.status_code == 404
    await settle(server)
