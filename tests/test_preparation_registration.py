"""Registration, its list and CSV, the reminder before the start (a delayed outbox job that a
reschedule makes stale) and the «заседание завтра» notification."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from server.db.models import MeetingRegistration, Notification, NotificationKind, OutboxMessage, Role
from server.domain.year.preparation import stamp, tomorrow_run_at
from tests.support.factories import add_member, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.meeting_world import JSON, World, count
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text
from tests.test_preparation_world import (
    create_meeting,
    edit_meeting,
    load_meeting,
    mails,
    moscow_day,
    outbox_rows,
    run_now,
    settle,
    world,
)

__all__ = ["world"]


async def test_register_list_and_csv(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id, secretary_id=world.ids["member"])
    clients = await world.clients()
    reg, unreg = f"/meetings/{meeting.id}/register", f"/meetings/{meeting.id}/unregister"
    r = await clients["anonymous"].submit(reg, {})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await clients["other_methodist"].submit(reg, {}, headers=JSON)
    assert r.status_code == 403
    tricky = await make_user(server.runtime.db, "tricky@example.org", last_name='=HYPERLINK("http://x")')
    await add_member(server.runtime.db, world.association_id, tricky.id, Role.member)
    for name in ("mo_head", "member", "member"):  # twice: still one registration
        r = await clients[name].submit(reg, {})
        assert r.status_code == 303 and r.headers["location"] == f"/meetings/{meeting.id}#registration"
    page = (await clients["member"].get(f"/meetings/{meeting.id}")).text
    assert "Вы зарегистрированы" in page and f'action="{unreg}"' in page and "Зарегистрировались: 2" in page
    page = (await clients["methodist"].get(f"/meetings/{meeting.id}")).text
    assert f'action="{reg}"' in page and "Вы зарегистрированы" not in page
    async with server.runtime.db.transaction() as s:
        s.add(MeetingRegistration(meeting_id=meeting.id, user_id=tricky.id))
    assert await count(server, MeetingRegistration) == 3

    csv_url = f"/meetings/{meeting.id}/registrations.csv"
    for name in ("mo_head", "other_methodist"):
        assert (await clients[name].get(csv_url, headers=JSON)).status_code == 403, name
    assert (await clients["anonymous"].get(csv_url)).status_code == 303
    for name in ("methodist", "admin", "member"):  # the member is the secretary
        r = await clients[name].get(csv_url)
        assert r.status_code == 200, name
    assert r.headers["content-type"].startswith("text/csv")
    assert (
        "attachment;" in r.headers["content-disposition"] and r.headers["x-content-type-options"] == "nosniff"
    )
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["№", "ФИО", "Образовательная организация", "Должность", "E-mail", "Дата регистрации"]
    assert [row[1] for row in rows[1:]] == [
        "Петров Мария Петровна",
        "Иванова Мария Петровна",
        '\'=HYPERLINK("http://x") Мария Петровна',  # a formula is neutralised
    ]
    assert rows[1][2] == "МОУ «Гимназия № 15»" and rows[2][2] == "МБОУ «СОШ № 1»"
    page = (await clients["methodist"].get(f"/meetings/{meeting.id}/preparation")).text
    assert "Иванова Мария Петровна" in page and "МБОУ «СОШ № 1»" in page

    r = await clients["member"].submit(unreg, {})
    assert r.status_code == 303 and await count(server, MeetingRegistration) == 2
    assert "Зарегистрироваться" in (await clients["member"].get(f"/meetings/{meeting.id}")).text
    # Cancelled: registration closes (a notice on the page; 409 for JSON clients).
    assert (await clients["methodist"].submit(f"/meetings/{meeting.id}/cancel", {})).status_code == 303
    r = await clients["member"].submit(reg, {}, headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "registration_closed"
    r = await clients["member"].submit(reg, {})
    assert r.status_code == 303
    assert (
        "Регистрация возможна только на запланированное заседание."
        in (await clients["member"].get(f"/meetings/{meeting.id}")).text
    )
    assert (await clients["member"].submit("/meetings/424242/register", {}, headers=JSON)).status_code == 404


async def test_reminder_and_stale_job_after_reschedule(
    server: LiveServer, world: World, inbox: Inbox
) -> None:
    day = moscow_day(10)
    mid = await create_meeting(world, day)
    meeting = await load_meeting(server, mid)
    start = stamp(meeting.starts_at)
    await settle(server)  # the schedule job plans the reminder
    [reminder] = await outbox_rows(server, f"meeting.reminder:{mid}:")
    assert reminder.dedupe_key == f"meeting.reminder:{mid}:{start}" and reminder.status == "pending"
    expected = meeting.starts_at - timedelta(minutes=server.settings.reminder_minutes)
    assert abs((reminder.next_attempt_at - expected).total_seconds()) < 1
    for name in ("member", "mo_head"):
        assert (await (await world.client(name)).submit(f"/meetings/{mid}/register", {})).status_code == 303

    # Moved before the reminder fired: the old job finds the start changed and sends nothing.
    new_day = day + timedelta(days=1)
    await edit_meeting(world, mid, new_day, start="10:00", end="11:00")
    moved = await load_meeting(server, mid)
    await settle(server)
    await run_now(server, f"meeting.reminder:{mid}:{start}")
    assert await outbox_rows(server, "mail:reminder:") == []
    new_key = f"meeting.reminder:{mid}:{stamp(moved.starts_at)}"
    [fresh] = await outbox_rows(server, new_key)
    assert abs((fresh.next_attempt_at - (moved.starts_at - timedelta(minutes=60))).total_seconds()) < 1

    # The new one, run now: one reminder per registrant, with the new time.
    await run_now(server, new_key)
    await wait_for(lambda: len(mails(inbox, "Напоминание о заседании")) == 2, 30, what="2 reminders")
    assert sorted(m["X-Envelope-To"] for m in mails(inbox, "Напоминание")) == [
        "member@example.org",
        "mo_head@example.org",
    ]
    text = body_text(mails(inbox, "Напоминание")[0])
    assert "10:00–11:00 (МСК)" in text and f"/meetings/{mid}" in text
    # Re-run: nothing twice.
    await run_now(server, new_key)
    assert len(await outbox_rows(server, "mail:reminder:")) == 2
    assert len(mails(inbox, "Напоминание")) == 2
    # Cancelled: the reminder job does nothing.
    assert (await (await world.client("methodist")).submit(f"/meetings/{mid}/cancel", {})).status_code == 303
    async with server.runtime.db.transaction() as s:
        await s.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("mail:reminder:")))
    await run_now(server, new_key)
    assert await outbox_rows(server, "mail:reminder:") == []


async def test_meeting_tomorrow_notification(server: LiveServer, world: World) -> None:
    tomorrow = await create_meeting(world, moscow_day(1), start="23:00", end="23:30")
    later = await create_meeting(world, moscow_day(5), title="Через пять дней")
    await settle(server)
    meeting = await load_meeting(server, tomorrow)
    key = f"meeting.tomorrow:{tomorrow}:{stamp(meeting.starts_at)}"
    [job] = await outbox_rows(server, key)
    planned = tomorrow_run_at(meeting.starts_at)  # 09:00 Moscow time today, or now if that is past
    if planned > datetime.now(UTC):
        assert abs((job.next_attempt_at - planned).total_seconds()) < 1
    else:
        assert job.next_attempt_at <= datetime.now(UTC)
    await run_now(server, key)
    async with server.runtime.db.read() as s:
        notes = list(
            await s.scalars(
                select(Notification).where(Notification.kind == NotificationKind.meeting_tomorrow)
            )
        )
    assert sorted(n.user_id for n in notes) == sorted(
        world.ids[k] for k in ("methodist", "mo_head", "member")
    )
    assert all(n.url == f"/meetings/{tomorrow}" and n.title.startswith("Заседание завтра") for n in notes)
    assert {n.dedupe_key for n in notes} == {f"meeting_tomorrow:{tomorrow}:{stamp(meeting.starts_at)}"}
    await run_now(server, key)  # again: nobody is told twice
    assert await count(server, Notification, kind=NotificationKind.meeting_tomorrow) == 3
    # The later meeting's job, forced to run now (four days early), tells nobody.
    later_meeting = await load_meeting(server, later)
    later_key = f"meeting.tomorrow:{later}:{stamp(later_meeting.starts_at)}"
    [later_job] = await outbox_rows(server, later_key)
    assert later_job.next_attempt_at == tomorrow_run_at(later_meeting.starts_at)
    await run_now(server, later_key)
    assert await count(server, Notification, kind=NotificationKind.meeting_tomorrow) == 3
