"""Announcements (clause 2.2): the methodist posts news to the association; every member gets
a notification (and an e-mail per their settings), sees it on the association's pages and on
the dashboard, and finds it in the search.

Text is stored as plain text; ``linkify`` renders it escaped with http(s) links made
clickable (the server-side twin of the room chat's ``linkify`` in static/js/room/dom.js).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Membership, Role, StoredFile, User
from server.db.models.announcements import Announcement, AnnouncementFile
from server.db.models.notifications import NotificationKind
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import membership_role, require_member, require_methodist
from server.domain.community.notifications import notify
from server.errors import NotFound
from server.files import DOCUMENTS, Upload, save_upload
from server.search import index_entry, remove_entry
from server.settings import Settings

PAGE_SIZE = 20
MAX_FILES = 5
SEARCH_KIND = "announcement"

_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = re.compile(r"[.,;:!?)\]}»\"']+$")


def linkify(text: str | None) -> Markup:
    """Plain text → escaped HTML with clickable http(s) links; line breaks kept as <br>."""
    if not text:
        return Markup("")
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        raw = match.group(0)
        trail = _TRAILING.search(raw)
        if trail:
            raw = raw[: trail.start()]
        parts = urlsplit(raw)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            continue
        start = match.start()
        out.append(str(escape(text[last:start])))
        href = escape(raw)
        out.append(f'<a href="{href}" rel="noopener noreferrer nofollow" target="_blank">{href}</a>')
        last = start + len(raw)
    out.append(str(escape(text[last:])))
    return Markup("".join(out).replace("\r\n", "\n").replace("\n", "<br>\n"))


@dataclass
class AnnouncementView:
    row: Announcement
    author: str
    files: list[StoredFile] = field(default_factory=list)


@dataclass
class AnnouncementList:
    association: Association
    items: list[AnnouncementView]
    can_post: bool
    page: int
    pages: int


async def _views(session: AsyncSession, rows: Sequence[Announcement]) -> list[AnnouncementView]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    files: dict[int, list[StoredFile]] = {i: [] for i in ids}
    for link, stored in await session.execute(
        select(AnnouncementFile, StoredFile)
        .join(StoredFile, StoredFile.id == AnnouncementFile.file_id)
        .where(AnnouncementFile.announcement_id.in_(ids))
        .order_by(AnnouncementFile.position, AnnouncementFile.id)
    ):
        files[link.announcement_id].append(stored)
    author_ids = {r.author_id for r in rows if r.author_id}
    names = (
        {u.id: u.short_name for u in await session.scalars(select(User).where(User.id.in_(author_ids)))}
        if author_ids
        else {}
    )
    return [AnnouncementView(r, names.get(r.author_id or 0, ""), files[r.id]) for r in rows]


async def list_announcements(
    session: AsyncSession, user: User | None, association_id: int, *, page: int = 1
) -> AnnouncementList:
    association = await get_association(session, association_id)
    role = await require_member(session, user, association_id)
    assert user is not None
    total = int(
        await session.scalar(
            select(func.count(Announcement.id)).where(Announcement.association_id == association_id)
        )
        or 0
    )
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(max(1, page), pages)
    rows = list(
        await session.scalars(
            select(Announcement)
            .where(Announcement.association_id == association_id)
            .order_by(Announcement.created_at.desc(), Announcement.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    can_post = user.is_admin or (role is not None and role.value == "methodist")
    return AnnouncementList(association, await _views(session, rows), can_post, page, pages)


async def _readable(session: AsyncSession, user: User | None, announcement_id: int) -> Announcement:
    row = await session.get(Announcement, announcement_id) if 0 < announcement_id < 2**31 else None
    if row is None:
        raise NotFound()
    await require_member(session, user, row.association_id)
    return row


async def announcement_view(
    session: AsyncSession, user: User | None, announcement_id: int
) -> tuple[Association, AnnouncementView, bool]:
    row = await _readable(session, user, announcement_id)
    association = await get_association(session, row.association_id)
    assert user is not None
    can_manage = user.is_admin or await membership_role(session, user, row.association_id) == Role.methodist
    return association, (await _views(session, [row]))[0], can_manage


async def attachment(
    session: AsyncSession, user: User | None, announcement_id: int, file_id: int
) -> StoredFile:
    """An attachment, for members of the announcement's association and administrators."""
    await _readable(session, user, announcement_id)
    stored = await session.scalar(
        select(StoredFile)
        .join(AnnouncementFile, AnnouncementFile.file_id == StoredFile.id)
        .where(AnnouncementFile.announcement_id == announcement_id, StoredFile.id == file_id)
    )
    if stored is None:
        raise NotFound()
    return stored


async def post_announcement(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    *,
    title: str,
    text: str,
    uploads: Sequence[Upload] = (),
) -> Announcement:
    """Publish an announcement: files checked and stored, members notified, search indexed."""
    association = await get_association(session, association_id)
    author = await require_methodist(session, user, association_id)
    row = Announcement(association_id=association_id, author_id=author.id, title=title, text=text)
    session.add(row)
    await session.flush()
    for position, upload in enumerate(uploads[:MAX_FILES], start=1):
        stored = await save_upload(
            session, settings, upload, allowed=DOCUMENTS, user=author, field=f"file{position}"
        )
        session.add(AnnouncementFile(announcement_id=row.id, file_id=stored.id, position=position))
    await session.flush()
    members = await session.scalars(
        select(Membership.user_id).where(
            Membership.association_id == association_id, Membership.user_id != author.id
        )
    )
    await notify(
        session,
        list(members),
        NotificationKind.announcement,
        dedupe_key=f"announcement:{row.id}",
        title=f"{association.name}: {title}",
        body=text[:2000],
        url=f"/announcements/{row.id}",
        association_id=association_id,
    )
    await index_entry(
        session,
        kind=SEARCH_KIND,
        object_id=row.id,
        association_id=association_id,
        title=title,
        body=text,
        url=f"/announcements/{row.id}",
    )
    return row


async def delete_announcement(session: AsyncSession, user: User | None, announcement_id: int) -> int:
    """Remove an announcement (methodist); returns its association's id."""
    row = await session.get(Announcement, announcement_id) if 0 < announcement_id < 2**31 else None
    if row is None:
        raise NotFound()
    await require_methodist(session, user, row.association_id)
    association_id = row.association_id
    await remove_entry(session, SEARCH_KIND, row.id)
    await session.execute(delete(AnnouncementFile).where(AnnouncementFile.announcement_id == row.id))
    await session.delete(row)
    await session.flush()
    return association_id


async def latest_for_user(
    session: AsyncSession, user: User, limit: int = 5
) -> list[tuple[Announcement, str]]:
    """The newest announcements of the user's associations, with the association's name."""
    rows = await session.execute(
        select(Announcement, Association.name)
        .join(Association, Association.id == Announcement.association_id)
        .join(Membership, Membership.association_id == Announcement.association_id)
        .where(Membership.user_id == user.id)
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(limit)
    )
    return [(a, name) for a, name in rows]


async def latest_of_association(
    session: AsyncSession, user: User | None, association_id: int, limit: int = 3
) -> list[Announcement] | None:
    """The association's newest announcements for its page; None when the reader is no member."""
    if user is None or (not user.is_admin and await membership_role(session, user, association_id) is None):
        return None
    return list(
        await session.scalars(
            select(Announcement)
            .where(Announcement.association_id == association_id)
            .order_by(Announcement.created_at.desc(), Announcement.id.desc())
            .limit(limit)
        )
    )
