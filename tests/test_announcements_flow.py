"""Announcements over HTTP: posting with attachments, notifications for members only, e-mail
per preference (immediately / daily digest / never), pages, search, roles and bad input."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from server.db.models import Notification, NotificationKind, OutboxMessage, Role, StoredFile
from server.db.models.announcements import Announcement
from server.db.types import utcnow
from server.domain.community.notifications import digest_job
from server.workers import wake_outbox
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _world(server: LiveServer) -> dict[str, int]:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей истории")
    b = await make_association(db, name="СМО учителей химии")
    ids = {"a": a.id, "b": b.id}
    for name, role, assoc in (
        ("methodist", Role.methodist, a.id),
        ("head", Role.mo_head, a.id),
        ("now", Role.member, a.id),
        ("never", Role.member, a.id),
        ("daily", Role.member, a.id),
        ("outsider", Role.methodist, b.id),
    ):
        u = await make_user(db, f"{name}@example.org", last_name=name.capitalize())
        await add_member(db, assoc, u.id, role)
        ids[name] = u.id
    admin = await make_user(db, "admin@example.org", is_admin=True)
    ids["admin"] = admin.id
    return ids


async def _post(client, association_id: int, title: str, text: str, files=None):  # type: ignore[no-untyped-def]
    data = {"csrf_token": await client.csrf(), "title": title, "text": text}
    return await client.post(f"/associations/{association_id}/announcements", data=data, files=files or {})


async def _count(server: LiveServer, model: type, *where) -> int:  # type: ignore[no-untyped-def]
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_announcement_reaches_members_by_their_preferences(server: LiveServer, inbox: Inbox) -> None:
    ids = await _world(server)
    clients = {}
    try:
        for name in ("methodist", "now", "never", "daily", "outsider", "admin"):
            clients[name] = await logged_in_client(server, f"{name}@example.org")
        # Preferences through the settings page.
        r = await clients["never"].submit("/notifications/settings", {"announcement": "never"})
        assert r.status_code == 303
        r = await clients["daily"].submit("/notifications/settings", {"announcement": "daily"})
        assert r.status_code == 303
        page = await clients["daily"].get("/notifications/settings")
        assert re.search(r'name="announcement" value="daily"[^>]*checked', page.text)

        text = "Приглашаем на семинар <script>alert(1)</script>. Программа: https://example.org/plan?a=1&b=2."
        r = await _post(
            clients["methodist"], ids["a"], "Семинар по ФГОС", text, files={"file1": ("программа.pdf", PDF)}
        )
        assert r.status_code == 303, r.text[:1000]
        ann_url = r.headers["location"]
        ann_id = int(ann_url.rsplit("/", 1)[1])

        # In-app: every member but the author, nobody of the other association.
        async with server.runtime.db.read() as s:
            rows = list(
                await s.scalars(
                    select(Notification).where(Notification.kind == NotificationKind.announcement)
                )
            )
        assert {n.user_id for n in rows} == {ids["head"], ids["now"], ids["never"], ids["daily"]}

        # Immediately: one e-mail now, with the link.
        msgs = await wait_for(lambda: inbox.to("now@example.org"), what="immediate mail")
        assert "Семинар по ФГОС" in msgs[0]["Subject"]
        assert f"/announcements/{ann_id}" in body_text(msgs[0])
        await wait_for(lambda: inbox.to("head@example.org"), what="default is immediate")
        # Daily: a delayed digest job, nothing mailed yet; never: nothing at all.
        async with server.runtime.db.read() as s:
            job = await s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "notifications.digest"))
        assert job is not None and job.payload["user_id"] == ids["daily"]
        assert job.next_attempt_at > utcnow()
        assert not inbox.to("daily@example.org") and not inbox.to("never@example.org")

        # A second announcement: the same digest job, another immediate mail.
        r = await _post(
            clients["methodist"], ids["a"], "Конкурс методических разработок", "Подробности позже."
        )
        assert r.status_code == 303
        await wait_for(lambda: len(inbox.to("now@example.org")) == 2, what="second immediate mail")
        assert await _count(server, OutboxMessage, OutboxMessage.kind == "notifications.digest") == 1

        # The digest is due: exactly one mail holding both items.
        async with server.runtime.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job.id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        wake_outbox(server.runtime)
        digest = await wait_for(lambda: inbox.to("daily@example.org"), what="digest")
        body = body_text(digest[0])
        assert "Семинар по ФГОС" in body and "Конкурс методических разработок" in body
        assert "Сводка" in digest[0]["Subject"]
        # Running the job again (a crash-retry) sends nothing more.
        await digest_job(server.runtime, job.payload)
        wake_outbox(server.runtime)
        async with server.runtime.db.read() as s:
            digests = await s.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.dedupe_key.startswith("mail:digest:")
                )
            )
            stamped = await s.scalar(
                select(func.count(Notification.id)).where(
                    Notification.user_id == ids["daily"], Notification.emailed_at.is_not(None)
                )
            )
        assert digests == 1 and stamped == 2
        await asyncio.sleep(0.5)  # give a wrongly queued second mail the time to arrive
        assert len(inbox.to("daily@example.org")) == 1
        assert not inbox.to("never@example.org") and not inbox.to("outsider@example.org")
        assert not inbox.to("methodist@example.org")
        # A later item goes to the next day's digest (a new job), never into the sent one.
        r = await _post(clients["methodist"], ids["a"], "Третья новость", "Текст")
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            keys = sorted(
                await s.scalars(
                    select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "notifications.digest")
                )
            )
        assert len(keys) == 2 and keys[0] != keys[1]

        # Pages: text escaped, the link clickable, the attachment for members only.
        page = await clients["now"].get(ann_url)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
        assert (
            '<a href="https://example.org/plan?a=1&amp;b=2" rel="noopener noreferrer nofollow"' in page.text
        )
        fid = int(re.search(rf"/announcements/{ann_id}/files/(\d+)", page.text).group(1))  # type: ignore[union-attr]
        f = await clients["now"].get(f"/announcements/{ann_id}/files/{fid}")
        assert f.status_code == 200 and f.content == PDF and f.headers["content-type"] == "application/pdf"
        assert "attachment" in f.headers["content-disposition"]
        assert (await clients["outsider"].get(f"/announcements/{ann_id}/files/{fid}")).status_code == 403
        assert (await clients["outsider"].get(ann_url)).status_code == 403
        assert (await clients["now"].get(f"/announcements/{ann_id}/files/{fid + 999}")).status_code == 404
        # Dashboard and association page.
        home = await clients["now"].get("/")
        assert "Объявления моих объединений" in home.text and "Семинар по ФГОС" in home.text
        assert "Семинар по ФГОС" not in (await clients["outsider"].get("/")).text
        assoc = await clients["now"].get(f"/associations/{ids['a']}")
        assert "Третья новость" in assoc.text
        lst = await clients["now"].get(f"/associations/{ids['a']}/announcements")
        assert lst.status_code == 200 and "Конкурс методических разработок" in lst.text
        assert "enctype" not in lst.text  # members do not get the form
        # Search: members of A find it; the other association does not.
        hits = await clients["now"].get("/search", params={"q": "семинары"})
        assert f'href="/announcements/{ann_id}"' in hits.text
        hits = await clients["outsider"].get("/search", params={"q": "семинары"})
        assert f'href="/announcements/{ann_id}"' not in hits.text
        hits = await clients["admin"].get("/search", params={"q": "семинары"})
        assert f'href="/announcements/{ann_id}"' in hits.text
    finally:
        for c in clients.values():
            await c.aclose()


async def test_roles_and_bad_input_change_nothing(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    ids = await _world(server)
    url = f"/associations/{ids['a']}/announcements"
    # Guest: to the login page.
    r = await client.get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await _post(client, ids["a"], "Заголовок", "Текст")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    clients = {
        n: await logged_in_client(server, f"{n}@example.org")
        for n in ("now", "head", "outsider", "methodist", "admin")
    }
    try:
        assert (await clients["outsider"].get(url)).status_code == 403
        assert (await clients["now"].get(url)).status_code == 200
        for name in ("now", "head", "outsider"):
            r = await _post(clients[name], ids["a"], "Заголовок", "Текст")
            assert r.status_code == 403, name
        assert (await clients["now"].get("/associations/999999/announcements")).status_code == 404
        assert (await clients["now"].get("/announcements/99999999999")).status_code == 404
        # Bad input: field errors in Russian with 422, or 415 for a wrong file type; nothing stored.
        r = await _post(clients["methodist"], ids["a"], "", "Текст")
        assert r.status_code == 422 and "Заголовок: от 3 до 200 символов." in r.text
        r = await _post(clients["methodist"], ids["a"], "x" * 201, "Текст")
        assert r.status_code == 422
        r = await _post(
            clients["methodist"],
            ids["a"],
            "Заголовок",
            "Текст",
            files={"file1": ("virus.pdf", b"MZ\x90\x00\x03" * 10)},
        )
        assert r.status_code == 415 and 'class="field-error"' in r.text
        assert await _count(server, Announcement) == 0 and await _count(server, Notification) == 0
        assert await _count(server, StoredFile) == 0
        # A member cannot delete; the methodist and the administrator post; delete removes it.
        r = await _post(clients["admin"], ids["a"], "От администратора", "Текст")
        assert r.status_code == 303
        aid = int(r.headers["location"].rsplit("/", 1)[1])
        assert (await clients["now"].submit(f"/announcements/{aid}/delete")).status_code == 403
        assert (await clients["outsider"].submit(f"/announcements/{aid}/delete")).status_code == 403
        r = await clients["methodist"].submit(f"/announcements/{aid}/delete")
        assert r.status_code == 303
        assert await _count(server, Announcement) == 0
        hits = await clients["now"].get("/search", params={"q": "администратора"})
        assert f"/announcements/{aid}" not in hits.text
    finally:
        for c in clients.values():
            await c.aclose()
