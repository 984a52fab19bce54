"""Resource actions: propose (members), edit, publish or reject (methodists), delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import StoredFile, User
from server.db.models.resources import Resource, ResourceGrade, ResourceKind, ResourceStatus, ResourceTag
from server.db.types import utcnow
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_login, require_member, require_methodist
from server.domain.year.resources.access import (
    _can_see,
    _resource,
    can_moderate,
    may_author_edit,
    readable_resource,
)
from server.domain.year.resources.notices import notify_decided, notify_pending, reindex
from server.domain.year.resources.rules import MAX_ID, check_input, normalize_tags
from server.errors import Forbidden, NotFound, ValidationFailed
from server.search import remove_entry
from server.settings import Settings


async def _set_grades_tags(
    session: AsyncSession, r: Resource, grades: Sequence[int], tags: Sequence[str]
) -> None:
    await session.execute(delete(ResourceGrade).where(ResourceGrade.resource_id == r.id))
    await session.execute(delete(ResourceTag).where(ResourceTag.resource_id == r.id))
    session.add_all(ResourceGrade(resource_id=r.id, grade=g) for g in sorted(set(grades)))
    session.add_all(ResourceTag(resource_id=r.id, tag=t) for t in tags)
    await session.flush()


async def _check_file(session: AsyncSession, file_id: int | None) -> None:
    if file_id is not None and (not 0 < file_id <= MAX_ID or await session.get(StoredFile, file_id) is None):
        raise ValidationFailed(details={"fields": {"file": "resource_no_content"}})


async def create_resource(
    session: AsyncSession,
    settings: Settings,
    *,
    association_id: int,
    user: User,
    title: str,
    description: str = "",
    subject: str = "",
    grades: list[int] = [],  # noqa: B006 - never mutated
    kind: str = "other",
    tags: list[str] = [],  # noqa: B006 - never mutated
    file_id: int | None = None,
    link: str | None = None,
    publish: bool = False,
) -> Resource:
    """Propose a resource (any member) — or add it published (``publish``: methodists only).

    Exactly one of ``file_id`` (a StoredFile saved through server.files) and ``link``.
    """
    await get_association(session, association_id)
    await require_member(session, user, association_id)
    if publish:
        await require_methodist(session, user, association_id)
    tags = normalize_tags(tags)
    link = link.strip() if link else None
    errors = check_input(
        title=title,
        description=description,
        subject=subject,
        grades=grades,
        kind=kind,
        tags=tags,
        link=link,
    )
    if (file_id is None) == (link is None):
        errors.setdefault("file", "resource_no_content" if file_id is None else "resource_both")
    if errors:
        raise ValidationFailed(details={"fields": errors})
    await _check_file(session, file_id)
    now = utcnow()
    r = Resource(
        association_id=association_id,
        author_id=user.id,
        title=title.strip(),
        description=description.strip(),
        subject=subject.strip(),
        kind=ResourceKind(kind),
        file_id=file_id,
        link=link,
        status=ResourceStatus.pending,
        reject_reason="",
        created_at=now,
        updated_at=now,
    )
    session.add(r)
    await session.flush()
    await _set_grades_tags(session, r, grades, tags)
    if publish:
        r.status = ResourceStatus.published
        r.published_at = r.decided_at = now
        r.decided_by_id = user.id
        await session.flush()
        await reindex(session, r)
    else:
        await notify_pending(session, r, user)
    return r


async def update_resource(
    session: AsyncSession,
    user: User | None,
    resource_id: int,
    *,
    title: str,
    description: str,
    subject: str,
    grades: list[int],
    kind: str,
    tags: list[str],
    file_id: int | None = None,
    link: str | None = None,
) -> Resource:
    """Edit (author while pending/rejected, methodist always). A new file or a new link replaces
    the content; neither keeps it. A rejected resource edited by its author is proposed again."""
    user = require_login(user)
    r = await readable_resource(session, user, resource_id)
    moderator = await can_moderate(session, user, r.association_id)
    if not moderator and not may_author_edit(r, user):
        raise Forbidden()
    tags = normalize_tags(tags)
    link = link.strip() if link else None
    errors = check_input(
        title=title, description=description, subject=subject, grades=grades, kind=kind, tags=tags, link=link
    )
    if file_id is not None and link is not None:
        errors.setdefault("file", "resource_both")
    if errors:
        raise ValidationFailed(details={"fields": errors})
    await _check_file(session, file_id)
    r.title, r.description, r.subject = title.strip(), description.strip(), subject.strip()
    r.kind = ResourceKind(kind)
    if file_id is not None:
        r.file_id, r.link = file_id, None
    elif link is not None:
        r.file_id, r.link = None, link
    resubmitted = not moderator and r.status == ResourceStatus.rejected
    if resubmitted:
        r.status = ResourceStatus.pending
    r.updated_at = utcnow()
    await session.flush()
    await _set_grades_tags(session, r, grades, tags)
    await reindex(session, r)
    if resubmitted:
        await notify_pending(session, r, user)
    return r


async def publish_resource(session: AsyncSession, user: User | None, resource_id: int) -> Resource:
    require_login(user)
    r = await _resource(session, resource_id)
    actor = await _moderator_or_hide(session, user, r)
    if r.status != ResourceStatus.published:
        now = utcnow()
        r.status = ResourceStatus.published
        r.published_at = r.decided_at = now
        r.decided_by_id = actor.id
        r.reject_reason = ""
        await session.flush()
        await notify_decided(session, r, actor)
    await reindex(session, r)
    return r


async def reject_resource(
    session: AsyncSession, user: User | None, resource_id: int, reason: str
) -> Resource:
    """Reject a proposal, or withdraw a published resource, with a reason the author sees."""
    require_login(user)
    r = await _resource(session, resource_id)
    actor = await _moderator_or_hide(session, user, r)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(details={"fields": {"reason": "missing"}})
    r.status = ResourceStatus.rejected
    r.reject_reason = reason[:2000]
    r.decided_at = utcnow()
    r.decided_by_id = actor.id
    await session.flush()
    await reindex(session, r)
    await notify_decided(session, r, actor)
    return r


async def delete_resource(session: AsyncSession, user: User | None, resource_id: int) -> int:
    """Delete (author while unpublished, methodist always); returns the association's id."""
    user = require_login(user)
    r = await readable_resource(session, user, resource_id)
    if not await can_moderate(session, user, r.association_id) and not may_author_edit(r, user):
        raise Forbidden()
    association_id = r.association_id
    await remove_entry(session, "resource", r.id)
    await session.delete(r)
    await session.flush()
    return association_id


async def _moderator_or_hide(session: AsyncSession, user: User | None, r: Resource) -> User:
    """The methodist/admin; others get 404 for what they cannot see and 403 otherwise."""
    if not await _can_see(session, user, r):
        raise NotFound()
    if user is None or not await can_moderate(session, user, r.association_id):
        raise Forbidden()
    return user
