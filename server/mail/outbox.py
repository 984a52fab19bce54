"""Queue messages in the durable outbox, inside the caller's transaction."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
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


async def enqueue(session: AsyncSession, kind: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Add a job unless one with the same key exists; True when added."""
    exists = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    session.add(OutboxMessage(kind=kind, dedupe_key=dedupe_key, payload=payload))
    await session.flush()
    return True


async def enqueue_mail(session: AsyncSession, dedupe_key: str, mail: Mail) -> bool:
    """Queue one e-mail; the same ``dedupe_key`` is never sent twice."""
    return await enqueue(session, "mail", f"mail:{dedupe_key}", mail.to_payload())
