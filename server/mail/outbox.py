"""Queue messages in the durable outbox, inside the caller's transaction."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import OutboxMessage


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "headers": self.headers,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "data": base64.b64encode(a.data).decode(),
                }
                for a in self.attachments
            ],
        }


async def enqueue(
    session: AsyncSession,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
) -> bool:
    """Add a job unless one with the same key exists; True when added.

    ``run_at`` delays the job (reminders, digests): the worker picks it up from then on, so a
    scheduled job survives restarts like any other row. The handler should re-check that it is
    still wanted (e.g. the meeting was not moved) and do nothing otherwise.
    """
    exists = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    message = OutboxMessage(kind=kind, dedupe_key=dedupe_key, payload=payload)
    if run_at is not None:
        message.next_attempt_at = run_at
    session.add(message)
    await session.flush()
    return True


async def enqueue_mail(
    session: AsyncSession, dedupe_key: str, mail: Mail, *, run_at: datetime | None = None
) -> bool:
    """Queue one e-mail; the same ``dedupe_key`` is never sent twice."""
    return await enqueue(session, "mail", f"mail:{dedupe_key}", mail.to_payload(), run_at=run_at)
