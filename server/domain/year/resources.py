"""The resource base (clauses 3.4, 6.1): members propose files or links, the methodist
publishes or rejects them with a reason; published resources are searched in Russian.

Visibility (decided for the whole installation, in the regulation's spirit of sharing):
- a *published* resource is visible to every signed-in user of the installation (its search
  entry has no association, so the shared search shows it to all signed-in readers);
- a *pending* or *rejected* resource is visible only to its author, the association's
  methodists and administrators — to everyone else it does not exist (404), it is never in the
  search index, and its file is never served.

Proposing needs membership of the association (any role); moderation needs the methodist (or an
administrator). The author edits while pending (or rejected: editing a rejected resource sends
it back for moderation); the methodist edits at any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Membership, Role, StoredFile, User
from server.db.models.notifications import NotificationKind
from server.db.models.resources import Resource, ResourceGrade, ResourceKind, ResourceStatus, ResourceTag
from server.db.types import utcnow
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import (
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.community.notifications import notify
from server.domain.year.activity import activity_metric
from server.errors import Forbidden, NotFound, ValidationFailed
from server.search import index_entry, matching_ids, remove_entry, stem_words
from server.settings import Settings

MAX_ID = 2**31 - 1
GRADES = range(1, 12)
MAX_TAGS = 10
MAX_TAG_CHARS = 50
MAX_TITLE = 300
MAX_DESCRIPTION = 10_000
MAX_SUBJECT = 200
MAX_LINK = 1000
LIST_LIMIT = 200

# Russian names of the kinds (also in the i18n catalogues, for the pages); used in the index.
KIND_NAMES_RU: dict[ResourceKind, str] = {
    ResourceKind.methodical: "методическая разработка",
    ResourceKind.lesson_notes: "конспект урока",
    ResourceKind.presentation: "презентация",
    ResourceKind.work_program: "рабочая программа",
    ResourceKind.didactic: "дидактический материал",
    ResourceKind.video: "видео",
    ResourceKind.other: "другое",
}


@dataclass(frozen=True, slots=True)
class ResourcesSummary:
    """Resources published within a period (for the annual analysis)."""

    published: int
    by_type: dict[str, int]  # ResourceKind value -> count


@dataclass(slots=True)
class ResourceItem:
    resource: Resource
    grades: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    author: User | None = None
    file: StoredFile | None = None


@dataclass(slots=True)
class ResourceView:
    item: ResourceItem
    association: Association
    is_member: bool
    can_edit: bool
    can_moderate: bool
    can_delete: bool


@dataclass(frozen=True, slots=True)
class ResourceFilters:
    q: str = ""
    subject: str = ""
    grade: int | None = None
    kind: ResourceKind | None = None
    tag: str = ""


@dataclass(slots=True)
class ResourceIndexPage:
    association: Association
    is_member: bool
    can_moderate: bool
    published: list[ResourceItem]
    pending: list[ResourceItem]  # for moderators: the queue
    mine: list[ResourceItem]  # the reader's own unpublished proposals
    subjects: list[str]
    tags: list[str]


# ---------------------------------------------------------------- validation


def normalize_tags(raw: Sequence[str] | str) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, lower-cased, unique, in order."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        tag = " ".join(str(item).split()).lower()
        if tag and tag not in out:
            out.append(tag)
    return out


def _check(
    *,
    title: str,
    description: str,
    subject: str,
    grades: Sequence[int],
    kind: str,
    tags: Sequence[str],
    link: str | None,
) -> dict[str, str]:
    """Field -> error code for everything wrong (the domain's own guard; forms check first)."""
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "missing"
    elif len(title) > MAX_TITLE:
        errors["title"] = "string_too_long"
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = "string_too_long"
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = "string_too_long"
    if any(g not in GRADES for g in grades):
        errors["grades"] = "resource_grade"
    if kind not in ResourceKind.__members__:
        errors["kind"] = "enum"
    if len(tags) > MAX_TAGS:
        errors["tags"] = "resource_too_many_tags"
    elif any(len(t) > MAX_TAG_CHARS for t in tags):
        errors["tags"] = "resource_tag_too_long"
    if link is not None and not is_web_link(link):
        errors["link"] = "resource_link"
    return errors


def is_web_link(link: str) -> bool:
    """An absolute http(s) URL with a host, no spaces or control characters."""
    if not link or len(link) > MAX_LINK or any(c.isspace() or ord(c) < 32 for c in link):
        return False
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


# ---------------------------------------------------------------- permissions


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


def _may_author_edit(r: Resource, user: User) -> bool:
    return r.author_id == user.id and r.status in (ResourceStatus.pending, ResourceStatus.rejected)


# ---------------------------------------------------------------- index & notifications


def _index_body(r: Resource, tags: Sequence[str]) -> str:
    return "\n".join(x for x in (r.description, r.subject, KIND_NAMES_RU[r.kind], " ".join(tags)) if x)


async def _tags_of(session: AsyncSession, resource_id: int) -> list[str]:
    return list(
        (await session.scalars(select(ResourceTag.tag).where(ResourceTag.resource_id == resource_id))).all()
    )


async def _reindex(session: AsyncSession, r: Resource) -> None:
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


async def _notify_pending(session: AsyncSession, r: Resource, actor: User) -> None:
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


async def _notify_decided(session: AsyncSession, r: Resource, actor: User) -> None:
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


# ---------------------------------------------------------------- actions


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
    errors = _check(
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
        await _reindex(session, r)
    else:
        await _notify_pending(session, r, user)
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
    if not moderator and not _may_author_edit(r, user):
        raise Forbidden()
    tags = normalize_tags(tags)
    link = link.strip() if link else None
    errors = _check(
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
    await _reindex(session, r)
    if resubmitted:
        await _notify_pending(session, r, user)
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
        await _notify_decided(session, r, actor)
    await _reindex(session, r)
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
    await _reindex(session, r)
    await _notify_decided(session, r, actor)
    return r


async def delete_resource(session: AsyncSession, user: User | None, resource_id: int) -> int:
    """Delete (author while unpublished, methodist always); returns the association's id."""
    user = require_login(user)
    r = await readable_resource(session, user, resource_id)
    if not await can_moderate(session, user, r.association_id) and not _may_author_edit(r, user):
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


# ---------------------------------------------------------------- reading


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
    editable = moderator or _may_author_edit(r, user)
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


# ---------------------------------------------------------------- analysis & activity


async def resources_summary(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> ResourcesSummary:
    """Resources of the association published within [start, end) and still published."""
    rows = (
        await session.execute(
            select(Resource.kind, func.count(Resource.id))
            .where(
                Resource.association_id == association_id,
                Resource.status == ResourceStatus.published,
                Resource.published_at >= start,
                Resource.published_at < end,
            )
            .group_by(Resource.kind)
        )
    ).all()
    by_type = {ResourceKind(kind).value: int(n) for kind, n in rows}
    return ResourcesSummary(published=sum(by_type.values()), by_type=by_type)


@activity_metric("resources_published", label_key="resources.activity.published", weight=3, order=60)
async def resources_published_metric(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    """Per author: resources published within [start, end) (and still published)."""
    rows = (
        await session.execute(
            select(Resource.author_id, func.count(Resource.id))
            .where(
                Resource.association_id == association_id,
                Resource.status == ResourceStatus.published,
                Resource.author_id.is_not(None),
                Resource.published_at >= start,
                Resource.published_at < end,
            )
            .group_by(Resource.author_id)
        )
    ).all()
    return {int(uid): float(n) for uid, n in rows if uid is not None}
