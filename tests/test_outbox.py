"""The durable outbox: mail queued in a transaction reaches the SMTP server once."""

from __future__ import annotations

from sqlalchemy import select

from server.db.models import OutboxMessage
from server.mail.outbox import Attachment, Mail, enqueue_mail
from server.workers import run_one, wake_outbox
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.smtp import Inbox, body_text


async def test_mail_is_delivered_once_with_attachment(server: LiveServer, inbox: Inbox) -> None:
    db = server.runtime.db
    mail = Mail(
        to="uchitel@example.org",
        subject="Протокол заседания № 1",
        text="Здравствуйте! Протокол во вложении.",
        html="<p>Здравствуйте!</p>",
        attachments=[Attachment("protokol.txt", "text/plain", "ПРОТОКОЛ".encode())],
    )
    async with db.transaction() as s:
        assert await enqueue_mail(s, "protocol:1:v1:user:7", mail)
    async with db.transaction() as s:
        # The same logical message is never queued twice.
        assert not await enqueue_mail(s, "protocol:1:v1:user:7", mail)
    wake_outbox(server.runtime)

    await wait_for(lambda: len(inbox.messages) >= 1, 10, what="mail delivered")
    msg = inbox.messages[0]
    assert msg["Subject"] == "Протокол заседания № 1"
    assert "Протокол во вложении" in body_text(msg)
    names = [p.get_filename() for p in msg.walk() if p.get_filename()]
    assert names == ["protokol.txt"]

    async def sent() -> bool:
        async with db.read() as s:
            row = await s.scalar(select(OutboxMessage))
            return row is not None and row.status == "sent" and row.attempts == 1

    await wait_for(sent, 10, what="row marked sent")
    assert not await run_one(server.runtime)
    assert len(inbox.messages) == 1


async def test_failed_delivery_is_retried_later(server: LiveServer, inbox: Inbox) -> None:
    db = server.runtime.db
    async with db.transaction() as s:
        s.add(OutboxMessage(kind="no-such-kind", dedupe_key="broken:1", payload={}))

    async def failed_once() -> bool:
        async with db.read() as s:
            row = await s.scalar(select(OutboxMessage))
            # (claimed rows are "running" until the failure is recorded)
            return row is not None and row.attempts >= 1 and row.status != "running"

    wake_outbox(server.runtime)
    await wait_for(failed_once, 10)
    async with db.read() as s:
        row = await s.scalar(select(OutboxMessage))
        assert row is not None
        assert row.status == "pending"
        assert "no handler" in row.last_error
        assert row.next_attempt_at > row.created_at


async def test_long_russian_subject_keeps_its_spaces(server: LiveServer, inbox: Inbox) -> None:
    subject = "Информационное письмо: заседание «Функциональная грамотность на уроках математики», 17 декабря"
    async with server.runtime.db.transaction() as s:
        await enqueue_mail(s, "subject-test", Mail(to="u@example.org", subject=subject, text="Текст"))
    wake_outbox(server.runtime)
    await wait_for(lambda: len(inbox.messages) >= 1, 10, what="mail delivered")
    assert str(inbox.messages[0]["Subject"]) == subject
