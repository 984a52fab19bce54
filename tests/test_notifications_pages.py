"""Notifications over HTTP: the list with read/unread, the header's counter, preferences with
bad input, and the protocol workflow's notifications (review opened, approved) with search."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from server import clock
from server.db.models import MeetingStatus, Notification, NotificationKind, Role
from server.db.models.protocols import MeetingProtocol
from server.domain.community.notifications import notify
from server.domain.meeting.meeting_log import append_events
from server.domain.protocol.workflow import assemble_draft
from tests.support.factories import add_member, logged_in_client, make_association, make_meeting, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox


def _bell(html: str) -> str:
    m = re.search(r'<a class="bell"[^>]*>(.*?)</a>', html, re.S)
    assert m, "no bell in the header"
    return m.group(1)


async def test_list_read_unread_and_counter(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    db = server.runtime.db
    alice = await make_user(db, "alice@example.org")
    bob = await make_user(db, "bob@example.org")
    async with db.transaction() as s:
        for i in range(3):
            await notify(
                s,
                [alice.id],
                NotificationKind.competition,
                dedupe_key=f"c:{i}",
                title=f"Конкурс {i}",
                url="/associations/1/competitions",
            )
        await notify(
            s,
            [alice.id],
            NotificationKind.question_answered,
            dedupe_key="evil",
            title="<b>жирный</b>",
            url="https://evil.example/",
        )
        (bobs,) = await notify(s, [bob.id], NotificationKind.competition, dedupe_key="b", title="Чужое")
    # Guest: to the login page.
    r = await client.get("/notifications")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert 'class="bell"' not in (await client.get("/login")).text
    c = await logged_in_client(server, "alice@example.org")
    try:
        page = await c.get("/notifications")
        assert page.status_code == 200
        assert ">4<" in _bell(page.text)
        assert "&lt;b&gt;жирный&lt;/b&gt;" in page.text and "<b>жирный</b>" not in page.text
        assert "Чужое" not in page.text
        ids = [int(x) for x in re.findall(r'id="n-(\d+)"', page.text)]
        assert len(ids) == 4
        # Open: marks read and goes there — only to local paths.
        evil = next(
            i
            for i in ids
            if f'id="n-{i}" ' in page.text and "жирный" in page.text.split(f'id="n-{i}"')[1][:400]
        )
        r = await c.submit(f"/notifications/{evil}/open")
        assert r.status_code == 303 and r.headers["location"] == "/notifications"
        first = next(i for i in ids if i != evil)
        r = await c.submit(f"/notifications/{first}/open")
        assert r.headers["location"] == "/associations/1/competitions"
        assert ">2<" in _bell((await c.get("/")).text)
        r = await c.submit(f"/notifications/{first}/unread")
        assert r.status_code == 303
        unread = await c.get("/notifications?unread=1")
        assert len(re.findall(r'class="notification unread"', unread.text)) == 3
        # Someone else's notification: 404, untouched.
        assert (await c.submit(f"/notifications/{bobs.id}/read")).status_code == 404
        assert (await c.submit("/notifications/99999999999/read")).status_code == 404
        r = await c.submit("/notifications/read-all")
        assert r.status_code == 303
        page = await c.get("/notifications")
        assert "bell-count" not in _bell(page.text)
        async with db.read() as s:
            assert (await s.get(Notification, bobs.id)).read_at is None  # type: ignore[union-attr]
        # Without CSRF: refused, nothing changes.
        r = await c.post(f"/notifications/{first}/unread", data={})
        assert r.status_code == 403
        # Preferences: a bad value is a 422 with the message by the field; nothing stored.
        r = await c.submit("/notifications/settings", {"announcement": "hourly", "competition": "never"})
        assert r.status_code == 422 and "Выберите один из вариантов." in r.text
        page = await c.get("/notifications/settings")
        assert re.search(r'name="competition" value="daily"[^>]*checked', page.text)  # the default still
        assert re.search(r'name="protocol_approved" value="never"[^>]*checked', page.text)
    finally:
        await c.aclose()


async def test_protocol_review_and_approval_notify_and_index(server: LiveServer, inbox: Inbox) -> None:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей биологии")
    other = await make_association(db, name="СМО учителей физики")
    methodist = await make_user(db, "m@example.org", last_name="Методистова")
    member = await make_user(db, "t@example.org", last_name="Учителева")
    outsider = await make_user(db, "o@example.org")
    await add_member(db, a.id, methodist.id, Role.methodist)
    await add_member(db, a.id, member.id, Role.member)
    await add_member(db, other.id, outsider.id, Role.member)
    start = clock.now().replace(microsecond=0) - timedelta(hours=2)
    meeting = await make_meeting(db, a.id, "Экологическое воспитание школьников", starts_at=start)
    async with db.transaction() as s:
        await append_events(s, meeting.id, [("meeting.started", f"u:{methodist.id}", {})], at=start)
        await append_events(
            s, meeting.id, [("meeting.ended", f"u:{methodist.id}", {})], at=start + timedelta(hours=1)
        )
        m = await s.get(type(meeting), meeting.id)
        assert m is not None
        m.status, m.started_at, m.ended_at = MeetingStatus.ended, start, start + timedelta(hours=1)
        await s.flush()
        row = await assemble_draft(s, meeting.id)
        assert row is not None
        pid = row.id
    mc = await logged_in_client(server, "m@example.org")
    tc = await logged_in_client(server, "t@example.org")
    oc = await logged_in_client(server, "o@example.org")
    try:
        assert (await tc.submit(f"/protocols/{pid}/review", {"days": "3"})).status_code == 403
        r = await mc.submit(f"/protocols/{pid}/review", {"days": "3"})
        assert r.status_code == 303
        async with db.read() as s:
            rows = list(
                await s.scalars(
                    select(Notification).where(Notification.kind == NotificationKind.protocol_review)
                )
            )
        assert {n.user_id for n in rows} == {methodist.id, member.id}
        assert "открыт для замечаний" in rows[0].title and rows[0].url == f"/protocols/{pid}"
        page = await tc.get("/notifications")
        assert "Протокол открыт для замечаний" in page.text
        # Nobody connected, so the chair (the methodist) was absent: approval is confirmed.
        r = await mc.submit(f"/protocols/{pid}/approve", {"confirm_absent": "true"})
        assert r.status_code == 303, r.text[:500]
        async with db.read() as s:
            approved = list(
                await s.scalars(
                    select(Notification).where(Notification.kind == NotificationKind.protocol_approved)
                )
            )
            number = (await s.get(MeetingProtocol, pid)).number  # type: ignore[union-attr]
        assert {n.user_id for n in approved} == {methodist.id, member.id}
        assert f"№ {number}" in approved[0].title
        # Indexed on approval: found by the association's members, not by others.
        hits = await tc.get("/search", params={"q": "экологическое воспитание", "kind": "protocol"})
        assert f'href="/protocols/{pid}"' in hits.text and "Протокол" in hits.text
        hits = await oc.get("/search", params={"q": "экологическое воспитание"})
        assert f'href="/protocols/{pid}"' not in hits.text and "Ничего не найдено" in hits.text
        # The approved protocol is mailed to both members: let it arrive here, not in a later test.
        await wait_for(
            lambda: (
                len([m for m in inbox.messages if str(m["Subject"]).startswith("Протокол заседания № ")]) >= 2
            ),
            30,
            what="protocol mailed",
        )
    finally:
        for c in (mc, tc, oc):
            await c.aclose()
