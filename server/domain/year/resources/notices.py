"""Keeping the search index current and telling methodists and authors about decisions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Membership, Role, User
from server.db.models.notifications import NotificationKind
from server.db.models.resources import Resource, ResourceStatus, ResourceTag
from server.domain.community.notifications import notify
from server.domain.year.resources.rules import KIND_NAMES_RU
from server.search import index_entry, remove_entry


def _index_body(r: Resource, tags: Sequence[str]) -> str:
    return "\n".join(x for x in (r.description, r.subject, KIND_NAMES_RU[r.kind], " ".join(tags)) if x)


async def _tags_of(session: AsyncSession, resource_id: int) -> list[str]:
    return list(
        (await session.scalars(select(ResourceTag.tag).where(ResourceTag.resource_id == resource_id))).all()
    )


async def reindex(session: AsyncSession, r: Resource) -> None:
    """Keep the search entry equal to the resource's state: indexed only while published."""
    if r.status == ResourceStatus.published:
        await index_entry(
            session,
            kind="resource",
            object_id=r.id,
            association_id=None,  # published resources are shared with every signed-in user
            title=r.title,
            body=_index_body(r, await _tags_of(session, r.id)),
            url=f"/resources/{r.id}",
        )
    else:
        await remove_entry(session, "resource", r.id)


async def _methodist_ids(session: AsyncSession, association_id: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Membership.user_id).where(
                    Membership.association_id == association_id, Membership.role == Role.methodist
                )
            )
        ).all()
    )


async def notify_pending(session: AsyncSession, r: Resource, actor: User) -> None:
    others = [uid for uid in await _methodist_ids(session, r.association_id) if uid != actor.id]
    # Once per proposal: the first one, and each resubmission after a decision.
    after = f":{int(r.decided_at.timestamp() * 1_000_000)}" if r.decided_at is not None else ""
    await notify(
        session,
        others,
        NotificationKind.resource_pending,
        dedupe_key=f"resource_pending:{r.id}{after}",
        title=f"Ресурс ждёт проверки: {r.title}"[:300],
        url=f"/resources/{r.id}",
        association_id=r.association_id,
    )


async def notify_decided(session: AsyncSession, r: Resource, actor: User) -> None:
    if r.author_id is None or r.author_id == actor.id or r.decided_at is None:
        return
    if r.status == ResourceStatus.published:
        title = f"Ваш ресурс опубликован: {r.title}"
    else:
        title = f"Ваш ресурс отклонён: {r.title}"
    await notify(
        session,
        [r.author_id],
        NotificationKind.resource_pending,  # the resource's moderation, told to its author
        dedupe_key=f"resource_decided:{r.id}:{r.status.value}:{int(r.decided_at.timestamp() * 1_000_000)}",
        title=title[:300],
        body=r.reject_reason,
        url=f"/resources/{r.id}",
        association_id=r.association_id,
    )
