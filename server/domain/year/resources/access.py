"""Who may see a resource and who moderates the association's resource base."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Role, User
from server.db.models.resources import Resource, ResourceStatus
from server.domain.accounts.permissions import membership_role, require_login
from server.domain.year.resources.rules import MAX_ID
from server.errors import NotFound


async def can_moderate(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def _can_see(session: AsyncSession, user: User | None, r: Resource) -> bool:
    if user is None:
        return False
    if r.status == ResourceStatus.published or user.is_admin or r.author_id == user.id:
        return True
    return await membership_role(session, user, r.association_id) == Role.methodist


async def _resource(session: AsyncSession, resource_id: int) -> Resource:
    r = await session.get(Resource, resource_id) if 0 < resource_id <= MAX_ID else None
    if r is None:
        raise NotFound()
    return r


async def readable_resource(session: AsyncSession, user: User | None, resource_id: int) -> Resource:
    """The resource if the reader may see it; unpublished ones are 404 to everyone else."""
    require_login(user)
    r = await _resource(session, resource_id)
    if not await _can_see(session, user, r):
        raise NotFound()
    return r


def may_author_edit(r: Resource, user: User) -> bool:
    return r.author_id == user.id and r.status in (ResourceStatus.pending, ResourceStatus.rejected)
