"""Notifications: one call for every feature that tells people something.

    await notify(session, user_ids, NotificationKind.announcement, dedupe_key=f"announcement:{a.id}",
                 title="Новое объявление: …", url=f"/announcements/{a.id}", association_id=a.id)

Inside the caller's transaction: the in-app rows (one per person; the same dedupe_key for a
person is ignored, so a retried job never notifies twice) and, per the person's e-mail
preference for that kind, an immediate e-mail through the durable outbox; daily-digest
notifications are collected by the digest job. (E-mail delivery and preferences: see
``deliver`` below, extended by the notifications feature.)
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.notifications import Notification, NotificationKind


async def notify(
    session: AsyncSession,
    user_ids: Iterable[int],
    kind: NotificationKind,
    *,
    dedupe_key: str,
    title: str,
    url: str = "",
    body: str = "",
    association_id: int | None = None,
) -> list[Notification]:
    """Create the notifications (flushed, not committed); returns the new rows."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    existing = set(
        (
            await session.scalars(
                select(Notification.user_id).where(
                    Notification.dedupe_key == dedupe_key, Notification.user_id.in_(wanted)
                )
            )
        ).all()
    )
    created = [
        Notification(
            user_id=uid,
            association_id=association_id,
            kind=kind,
            dedupe_key=dedupe_key,
            title=title[:300],
            body=body,
            url=url,
        )
        for uid in wanted
        if uid not in existing
    ]
    session.add_all(created)
    await session.flush()
    await deliver(session, created)
    return created


async def deliver(session: AsyncSession, created: list[Notification]) -> None:
    """E-mail per preference (immediately → outbox now; daily → left for the digest job)."""
    return None
