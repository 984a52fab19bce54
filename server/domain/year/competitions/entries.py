"""Entries: a member submits one entry (a file, a title, an annotation) while entries are open."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import User
from server.db.models.competitions import CompetitionEntry
from server.db.models.files import StoredFile
from server.db.types import utcnow
from server.domain.accounts.permissions import require_member
from server.domain.year.competitions.reading import is_organiser, load_competition, load_entry, load_juror_ids
from server.domain.year.competitions.rules import EntriesClosed, phase_of
from server.errors import Forbidden, NotFound, ValidationFailed
from server.files import DOCUMENTS, Upload, save_upload
from server.settings import Settings


async def submit_entry(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    competition_id: int,
    *,
    title: str,
    annotation: str,
    upload: Upload | None,
) -> CompetitionEntry:
    """Create the member's entry or change it (the file may be replaced) while entries are open."""
    c = await load_competition(session, competition_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    if phase_of(c) != "entries":
        raise EntriesClosed()
    entry = await session.scalar(
        select(CompetitionEntry).where(
            CompetitionEntry.competition_id == c.id, CompetitionEntry.user_id == user.id
        )
    )
    if entry is None and upload is None:
        raise ValidationFailed(details={"fields": {"file": "missing"}})
    stored = await save_upload(session, settings, upload, allowed=DOCUMENTS, user=user) if upload else None
    now = utcnow()
    if entry is None:
        assert stored is not None
        entry = CompetitionEntry(
            competition_id=c.id, user_id=user.id, title=title, annotation=annotation, file_id=stored.id,
            submitted_at=now, updated_at=now,
        )  # fmt: skip
        session.add(entry)
    else:
        entry.title, entry.annotation, entry.updated_at = title, annotation, now
        if stored is not None:
            entry.file_id = stored.id
    await session.flush()
    return entry


async def entry_file(session: AsyncSession, user: User | None, entry_id: int) -> StoredFile:
    """The entry's file: its author, the jury and the organiser; every member once published."""
    entry, c = await load_entry(session, entry_id)
    await require_member(session, user, c.association_id)
    assert user is not None
    allowed = (
        entry.user_id == user.id
        or c.results_published_at is not None
        or await is_organiser(session, user, c.association_id)
        or user.id in await load_juror_ids(session, c.id)
    )
    if not allowed:
        raise Forbidden()
    stored = await session.get(StoredFile, entry.file_id)
    if stored is None:
        raise NotFound()
    return stored
