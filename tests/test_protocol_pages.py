"""The protocol page over HTTP: a live meeting's draft edited, reviewed, approved, numbered
and mailed once per member with DOCX and PDF; role checks and bad input change nothing."""

from __future__ import annotations

import io
from email.message import EmailMessage
from urllib.parse import quote

import docx
from sqlalchemy import func, select

from server.db.models import AgendaItem, Association, OutboxMessage, ProtocolEdit, User
from server.db.models.protocols import MeetingProtocol
from server.domain.meeting.meeting_log import append_events
from server.domain.protocol.workflow import assemble_draft
from tests.support.factories import logged_in_client
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.smtp import Inbox

EDITED = "Утвердили план работы на второе полугодие"


async def _email(server: LiveServer, cast: Cast, role: str) -> str:
    async with server.runtime.db.read() as s:
        user = await s.get(User, cast.ids[role])
        assert user is not None
        return user.email


async def _first_item(server: LiveServer, cast: Cast) -> int:
    async with server.runtime.db.read() as s:
        item_id = await s.scalar(
            select(AgendaItem.id)
            .where(AgendaItem.meeting_id == cast.meeting.id)
            .order_by(AgendaItem.position)
        )
    assert item_id is not None
    return item_id


async def test_live_meeting_to_approved_and_mailed_protocol(server: LiveServer, inbox: Inbox) -> None:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    try:
        host, _ = await cast.joined("methodist")
        teacher, _ = await cast.joined("member")
        await host.ok("meeting.start")
        poll = await host.ok(
            "poll.create", {"question": "Утвердить план работы", "kind": "decision", "secret": False}
        )
        await host.ok("poll.open", {"poll_id": poll["poll_id"]})
        await teacher.ok("vote.cast", {"poll_id": poll["poll_id"], "choices": [0]})
        await host.ok("meeting.end")
    finally:
        await cast.close_all(server.runtime.sio)

    async def drafted() -> MeetingProtocol | None:
        async with db.read() as s:
            return await s.scalar(
                select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id)
            )

    pid = (await wait_for(drafted, 20, what="protocol draft assembled")).id
    key = f"item.{await _first_item(server, cast)}.summary"
    methodist = await logged_in_client(server, await _email(server, cast, "methodist"))
    member = await logged_in_client(server, await _email(server, cast, "member"))
    try:
        meeting_page = await member.get(f"/meetings/{cast.meeting.id}")
        assert f'href="/protocols/{pid}"' in meeting_page.text and "Открыть протокол" in meeting_page.text
        page = await methodist.get(f"/protocols/{pid}")
        assert page.status_code == 200 and f'name="{key}"' in page.text and "черновик" in page.text

        r = await methodist.submit(f"/protocols/{pid}/edit", {key: EDITED})
        assert r.status_code == 303, r.text[:500]
        assert (await methodist.submit(f"/protocols/{pid}/review", {"days": "3"})).status_code == 303
        assert (
            await member.submit(f"/protocols/{pid}/remarks", {"text": "Нет срока <b>исполнения</b>"})
        ).status_code == 303
        page = await member.get(f"/protocols/{pid}")
        assert EDITED in page.text and "Нет срока &lt;b&gt;исполнения&lt;/b&gt;" in page.text
        assert 'name="' + key not in page.text  # a member gets no editor
        rid = int(page.text.split('data-remark="')[1].split('"')[0])
        r = await methodist.submit(f"/protocols/{pid}/approve")
        assert r.status_code == 409 and "замечания" in r.text  # the remark is open
        r = await methodist.submit(f"/protocols/{pid}/remarks/{rid}/resolve", {"resolution": "Срок добавлен"})
        assert r.status_code == 303
        r = await methodist.submit(f"/protocols/{pid}/approve")
        assert r.status_code == 303, r.text[r.text.find("flash") :][:600]

        async with db.read() as s:
            row = await s.get(MeetingProtocol, pid)
            assert row is not None and row.number == 1 and row.version == 1
            association = (await s.get(Association, row.association_id)).name  # type: ignore[union-attr]
        members = 6  # methodist, mo_head, member and three teachers

        def protocol_mails() -> list[EmailMessage]:
            # (members also get notifications of the review by e-mail: those are not counted here)
            return [m for m in inbox.messages if str(m["Subject"]).startswith("Протокол заседания № ")]

        await wait_for(lambda: len(protocol_mails()) >= members, 60, what="protocol mailed")
        assert len({m["X-Envelope-To"] for m in protocol_mails()}) == members
        msg = protocol_mails()[0]
        assert isinstance(msg, EmailMessage)
        subject = str(msg["Subject"])
        assert subject.startswith("Протокол заседания № 1 от ") and subject.endswith(f" — {association}")
        files = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
        docx_bytes = next(v for k, v in files.items() if k and k.endswith(".docx"))
        pdf_bytes = next(v for k, v in files.items() if k and k.endswith(".pdf"))
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(docx_bytes)).paragraphs)
        assert "ПРОТОКОЛ" in text and EDITED in text
        assert pdf_bytes.startswith(b"%PDF")

        # Approving again is refused; mailing again queues nobody twice.
        assert (await methodist.submit(f"/protocols/{pid}/approve")).status_code == 409
        assert (await methodist.submit(f"/protocols/{pid}/mail")).status_code == 303
        async with db.read() as s:
            queued = await s.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.dedupe_key.like(f"mail:protocol:{pid}:%")
                )
            )
        assert queued == members
        assert len(protocol_mails()) == members

        async def all_sent() -> bool:
            async with db.read() as s:
                statuses = await s.scalars(
                    select(OutboxMessage.status).where(
                        OutboxMessage.dedupe_key.like(f"mail:protocol:{pid}:%")
                    )
                )
                return set(statuses) == {"sent"}

        await wait_for(all_sent, 20, what="outbox rows marked sent")
        page = await methodist.get(f"/protocols/{pid}")
        assert "№ 1" in page.text and "утверждён" in page.text and "Версия 1" in page.text
        assert page.text.count("— отправлено") == members  # the mailing status, per recipient
        assert "Рассылка" not in (await member.get(f"/protocols/{pid}")).text

        r = await member.get(f"/protocols/{pid}.docx")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
        assert "filename*=UTF-8''" + quote("Протокол № 1", safe="") in r.headers["content-disposition"]
    finally:
        await methodist.aclose()
        await member.aclose()


async def test_roles_and_bad_input_change_nothing(server: LiveServer) -> None:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    async with db.transaction() as s:
        await append_events(
            s, cast.meeting.id, [("meeting.started", "system", {}), ("meeting.ended", "system", {})]
        )
        row = await assemble_draft(s, cast.meeting.id)
        assert row is not None
        pid = row.id
    key = f"item.{await _first_item(server, cast)}.summary"
    methodist = await logged_in_client(server, await _email(server, cast, "methodist"))
    member = await logged_in_client(server, await _email(server, cast, "member"))
    outsider = await logged_in_client(server, await _email(server, cast, "outsider"))
    admin = await logged_in_client(server, await _email(server, cast, "admin"))
    try:
        assert (await outsider.get(f"/protocols/{pid}")).status_code == 403
        assert (await outsider.get(f"/protocols/{pid}.docx")).status_code == 403
        assert (await admin.get(f"/protocols/{pid}")).status_code == 200
        r = await member.get(f"/protocols/{pid}.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment;") and quote("Проект протокола", safe="") in disposition
        assert (await member.get(f"/protocols/{pid + 999}")).status_code == 404
        assert (await member.submit(f"/protocols/{pid}/edit", {key: "x"})).status_code == 403
        assert (await member.submit(f"/protocols/{pid}/approve")).status_code == 403
        assert (await member.submit(f"/protocols/{pid}/review", {"days": "3"})).status_code == 403
        r = await methodist.submit(f"/protocols/{pid}/edit", {key: "я" * 4001})
        assert r.status_code == 422 and 'class="flash flash-error"' in r.text
        assert (
            await methodist.submit(f"/protocols/{pid}/edit", {"item.999999.summary": "x"})
        ).status_code == 422
        assert (await methodist.submit(f"/protocols/{pid}/edit", {"<script>": "x"})).status_code == 422
        r = await methodist.post(f"/protocols/{pid}/edit", data={key: "без CSRF"})
        assert r.status_code == 403
        assert (await methodist.submit(f"/protocols/{pid}/review", {"days": "zero"})).status_code == 422
        assert (await member.submit(f"/protocols/{pid}/remarks", {"text": "рано"})).status_code == 409
        async with db.read() as s:
            assert await s.scalar(select(func.count(ProtocolEdit.id))) == 0
            row = await s.get(MeetingProtocol, pid)
            assert row is not None and row.status.value == "draft" and row.review_until is None
    finally:
        for c in (methodist, member, outsider, admin):
            await c.aclose()
