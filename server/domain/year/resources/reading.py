"""Resources read: the association's list with Russian full-text search, one resource, its file."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Role, StoredFile, User
from server.db.models.resources import Resource, ResourceGrade, ResourceStatus, ResourceTag
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import membership_role, require_login, require_member
from server.domain.year.resources.access import can_moderate, may_author_edit, readable_resource
from server.domain.year.resources.rules import (
    LIST_LIMIT,
    ResourceFilters,
    ResourceIndexPage,
    ResourceItem,
    ResourceView,
    normalize_tags,
)
from server.errors import NotFound
from server.search import matching_ids, stem_words


async def _items(session: AsyncSession, rows: Sequence[Resource]) -> list[ResourceItem]:
    ids = [r.id for r in rows]
    if not ids:
        return []
    grades: dict[int, list[int]] = {}
    for rid, g in (
        await session.execute(
            select(ResourceGrade.resource_id, ResourceGrade.grade)
            .where(ResourceGrade.resource_id.in_(ids))
            .order_by(ResourceGrade.grade)
        )
    ).all():
        grades.setdefault(rid, []).append(g)
    tags: dict[int, list[str]] = {}
    for rid, t in (
        await session.execute(
            select(ResourceTag.resource_id, ResourceTag.tag).where(ResourceTag.resource_id.in_(ids))
        )
    ).all():
        tags.setdefault(rid, []).append(t)
    user_ids = {r.author_id for r in rows if r.author_id is not None}
    users = (
        {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(user_ids)))).all()}
        if user_ids
        else {}
    )
    file_ids = {r.file_id for r in rows if r.file_id is not None}
    files = (
        {
            f.id: f
            for f in (await session.scalars(select(StoredFile).where(StoredFile.id.in_(file_ids)))).all()
        }
        if file_ids
        else {}
    )
    return [
        ResourceItem(
            resource=r,
            grades=grades.get(r.id, []),
            tags=sorted(tags.get(r.id, [])),
            author=users.get(r.author_id) if r.author_id is not None else None,
            file=files.get(r.file_id) if r.file_id is not None else None,
        )
        for r in rows
    ]


async def resource_view(session: AsyncSession, user: User | None, resource_id: int) -> ResourceView:
    user = require_login(user)
    r = await readable_resource(session, user, resource_id)
    association = await get_association(session, r.association_id)
    moderator = await can_moderate(session, user, r.association_id)
    role = await membership_role(session, user, r.association_id)
    [item] = await _items(session, [r])
    editable = moderator or may_author_edit(r, user)
    return ResourceView(
        item=item,
        association=association,
        is_member=role is not None or user.is_admin,
        can_edit=editable,
        can_moderate=moderator,
        can_delete=editable,
    )


async def resource_file(session: AsyncSession, user: User | None, resource_id: int) -> StoredFile:
    """The resource's file, after the visibility check (404 when hidden or a link)."""
    r = await readable_resource(session, user, resource_id)
    stored = await session.get(StoredFile, r.file_id) if r.file_id is not None else None
    if stored is None:
        raise NotFound()
    return stored


async def search_published(
    session: AsyncSession, association_id: int, filters: ResourceFilters, limit: int = LIST_LIMIT
) -> list[ResourceItem]:
    """Published resources of the association, full-text (Russian) and filtered, best first."""
    stmt = select(Resource).where(
        Resource.association_id == association_id, Resource.status == ResourceStatus.published
    )
    if filters.q and stem_words(filters.q):
        m = matching_ids(session, "resource", filters.q).subquery()
        stmt = stmt.join(m, m.c.object_id == Resource.id).order_by(m.c.rank.desc(), Resource.id.desc())
    else:
        stmt = stmt.order_by(Resource.published_at.desc(), Resource.id.desc())
    if filters.subject:
        stmt = stmt.where(Resource.subject == filters.subject)
    if filters.kind is not None:
        stmt = stmt.where(Resource.kind == filters.kind)
    if filters.grade is not None:
        stmt = stmt.where(
            exists().where(ResourceGrade.resource_id == Resource.id, ResourceGrade.grade == filters.grade)
        )
    tag = normalize_tags([filters.tag])
    if tag:
        stmt = stmt.where(exists().where(ResourceTag.resource_id == Resource.id, ResourceTag.tag == tag[0]))
    rows = (await session.scalars(stmt.limit(limit))).all()
    return await _items(session, rows)


async def resource_index(
    session: AsyncSession, user: User | None, association_id: int, filters: ResourceFilters
) -> ResourceIndexPage:
    """The association's resource page: published ones (any signed-in user), the moderation
    queue (methodists), the reader's own unpublished proposals."""
    user = require_login(user)
    association = await get_association(session, association_id)
    role = await membership_role(session, user, association_id)
    moderator = user.is_admin or role == Role.methodist
    published = await search_published(session, association_id, filters)
    pending: list[ResourceItem] = []
    if moderator:
        pending = await _items(
            session,
            (
                await session.scalars(
                    select(Resource)
                    .where(
                        Resource.association_id == association_id, Resource.status == ResourceStatus.pending
                    )
                    .order_by(Resource.created_at, Resource.id)
                )
            ).all(),
        )
    mine = await _items(
        session,
        (
            await session.scalars(
                select(Resource)
                .where(
                    Resource.association_id == association_id,
                    Resource.author_id == user.id,
                    Resource.status != ResourceStatus.published,
                )
                .order_by(Resource.created_at.desc(), Resource.id.desc())
            )
        ).all(),
    )
    base = select(Resource.id).where(
        Resource.association_id == association_id, Resource.status == ResourceStatus.published
    )
    subjects = list(
        (
            await session.scalars(
                select(Resource.subject)
                .where(Resource.id.in_(base), Resource.subject != "")
                .distinct()
                .order_by(Resource.subject)
            )
        ).all()
    )
    tags = list(
        (
            await session.scalars(
                select(ResourceTag.tag)
                .where(ResourceTag.resource_id.in_(base))
                .distinct()
                .order_by(ResourceTag.tag)
            )
        ).all()
    )
    return ResourceIndexPage(
        association=association,
        is_member=role is not None or user.is_admin,
        can_moderate=moderator,
        published=published,
        pending=pending,
        mine=mine,
        subjects=subjects,
        tags=tags,
    )


async def propose_context(
    session: AsyncSession, user: User | None, association_id: int
) -> tuple[Association, bool]:
    """The association and whether the user may publish directly, for the proposal form."""
    association = await get_association(session, association_id)
    await require_member(session, user, association_id)
    return association, await can_moderate(session, user, association_id)
