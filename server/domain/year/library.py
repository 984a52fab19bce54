"""Publishing versions into the association's documentation (the «Документы» section).

    version = await publish_version(session, settings, association_id=a.id, kind=LibraryKind.plan,
                                    school_year=2026, title="План работы СМО на 2026/2027 учебный год",
                                    user=user, docx=docx_bytes, pdf=pdf_bytes, filename_stem="План работы 2026-2027")

Each call adds version N+1 of the (association, kind, school year) document; nothing is
overwritten. Flushed, not committed: call inside the action's transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import User
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.files import save_bytes
from server.files.kinds import DOCX, PDF
from server.settings import Settings


async def library_document(
    session: AsyncSession, association_id: int, kind: LibraryKind, school_year: int | None, title: str
) -> LibraryDocument:
    doc = await session.scalar(
        select(LibraryDocument).where(
            LibraryDocument.association_id == association_id,
            LibraryDocument.kind == kind,
            LibraryDocument.school_year.is_(None)
            if school_year is None
            else LibraryDocument.school_year == school_year,
        )
    )
    if doc is None:
        doc = LibraryDocument(association_id=association_id, kind=kind, school_year=school_year, title=title)
        session.add(doc)
        await session.flush()
    else:
        doc.title = title
    return doc


async def publish_version(
    session: AsyncSession,
    settings: Settings,
    *,
    association_id: int,
    kind: LibraryKind,
    school_year: int | None,
    title: str,
    user: User | None,
    docx: bytes | None = None,
    pdf: bytes | None = None,
    text: str = "",
    file_id: int | None = None,
    filename_stem: str = "",
    note: str = "",
) -> LibraryVersion:
    """Add the next version: generated DOCX/PDF bytes, an already stored upload, or a text."""
    doc = await library_document(session, association_id, kind, school_year, title)
    last = await session.scalar(
        select(func.max(LibraryVersion.version)).where(LibraryVersion.document_id == doc.id)
    )
    stem = filename_stem or title
    if docx is not None:
        file_id = (
            await save_bytes(session, settings, docx, filename=f"{stem}.docx", allowed={DOCX}, user=user)
        ).id
    pdf_id = None
    if pdf is not None:
        pdf_id = (
            await save_bytes(session, settings, pdf, filename=f"{stem}.pdf", allowed={PDF}, user=user)
        ).id
    version = LibraryVersion(
        document_id=doc.id,
        version=(last or 0) + 1,
        text=text,
        file_id=file_id,
        pdf_file_id=pdf_id,
        note=note[:500],
        created_by_id=user.id if user else None,
    )
    session.add(version)
    await session.flush()
    return version
