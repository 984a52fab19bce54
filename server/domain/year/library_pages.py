"""The «Документы» section (clauses 7.1–7.5) as members see it: the regulation with its
versions (uploaded or edited as text), the yearly plans, annual analyses and needs reports
(published by their features through ``server.domain.year.library.publish_version``), and the
approved meeting protocols (which keep their own versions on /protocols/{id}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, Role, StoredFile, User
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.protocols import MeetingProtocol
from server.domain.accounts.associations import MAX_ID, get_association
from server.domain.accounts.permissions import require_login, require_member, require_methodist
from server.domain.protocol.layout import Block
from server.domain.protocol.text import printable
from server.domain.year.library import publish_version
from server.errors import NotFound
from server.files import Upload, save_upload
from server.files.kinds import DOCX, PDF
from server.settings import Settings

REGULATION_TITLE = "Положение о сетевом методическом объединении"
REGULATION_KINDS = frozenset({DOCX, PDF})
# The order of the groups on the page (clause 7): regulation, analysis, plan, protocols, needs.
GROUPS = (LibraryKind.analysis, LibraryKind.plan, LibraryKind.needs_report, LibraryKind.other)


class RegulationTextInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""

    @field_validator("text", "note", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        """Control characters are dropped (PostgreSQL refuses NUL; DOCX and PDF the others)."""
        return printable(value) if isinstance(value, str) else value


class RegulationFileInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


@dataclass
class VersionView:
    version: LibraryVersion
    author: User | None
    file: StoredFile | None
    pdf: StoredFile | None


@dataclass
class DocumentView:
    document: LibraryDocument
    versions: list[VersionView]  # newest first

    @property
    def latest(self) -> VersionView | None:
        return self.versions[0] if self.versions else None


@dataclass
class ProtocolEntry:
    protocol: MeetingProtocol
    meeting: Meeting


@dataclass
class LibraryPage:
    association: Association
    role: Role | None
    can_edit: bool
    regulation: DocumentView | None
    groups: dict[LibraryKind, list[DocumentView]] = field(default_factory=dict)
    protocols: list[ProtocolEntry] = field(default_factory=list)

    @property
    def regulation_text(self) -> str:
        """The latest text version's text (to prefill the editor)."""
        if self.regulation is None:
            return ""
        for v in self.regulation.versions:
            if v.version.text:
                return v.version.text
        return ""


async def _document_views(session: AsyncSession, docs: list[LibraryDocument]) -> list[DocumentView]:
    if not docs:
        return []
    versions = list(
        await session.scalars(
            select(LibraryVersion)
            .where(LibraryVersion.document_id.in_([d.id for d in docs]))
            .order_by(LibraryVersion.version.desc())
        )
    )
    user_ids = {v.created_by_id for v in versions if v.created_by_id is not None}
    file_ids = {i for v in versions for i in (v.file_id, v.pdf_file_id) if i is not None}
    users = (
        {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    files = (
        {f.id: f for f in await session.scalars(select(StoredFile).where(StoredFile.id.in_(file_ids)))}
        if file_ids
        else {}
    )
    by_doc: dict[int, list[VersionView]] = {d.id: [] for d in docs}
    for v in versions:
        by_doc[v.document_id].append(
            VersionView(
                v,
                users.get(v.created_by_id) if v.created_by_id else None,
                files.get(v.file_id) if v.file_id else None,
                files.get(v.pdf_file_id) if v.pdf_file_id else None,
            )
        )
    return [DocumentView(d, by_doc[d.id]) for d in docs]


async def library_page(session: AsyncSession, user: User | None, association_id: int) -> LibraryPage:
    """Members of the association and administrators read; methodists and administrators add
    versions of the regulation."""
    require_login(user)
    association = await get_association(session, association_id)
    role = await require_member(session, user, association_id)
    docs = list(
        await session.scalars(
            select(LibraryDocument)
            .where(LibraryDocument.association_id == association_id)
            .order_by(LibraryDocument.school_year.desc(), LibraryDocument.id)
        )
    )
    views = await _document_views(session, docs)
    regulation = next((v for v in views if v.document.kind == LibraryKind.regulation), None)
    groups = {kind: [v for v in views if v.document.kind == kind] for kind in GROUPS}
    protocols = [
        ProtocolEntry(p, m)
        for p, m in await session.execute(
            select(MeetingProtocol, Meeting)
            .join(Meeting, Meeting.id == MeetingProtocol.meeting_id)
            .where(MeetingProtocol.association_id == association_id, MeetingProtocol.version > 0)
            .order_by(Meeting.starts_at.desc(), MeetingProtocol.id.desc())
        )
    ]
    return LibraryPage(
        association=association,
        role=role,
        can_edit=bool(user and user.is_admin) or role == Role.methodist,
        regulation=regulation,
        groups=groups,
        protocols=protocols,
    )


def regulation_blocks(association: Association, text: str) -> list[Block]:
    """A regulation typed in the textarea, laid out as a document (for its DOCX and PDF)."""
    out = [Block("text", line) for line in (association.founder_name, association.name) if line]
    out += [Block("gap"), Block("heading", "ПОЛОЖЕНИЕ", bold=True)]
    out += [Block("heading", f"о сетевом методическом объединении «{association.name}»", bold=True)]
    out.append(Block("gap"))
    for line in text.splitlines():
        out.append(Block("text", line.strip()) if line.strip() else Block("gap"))
    return out


async def check_regulation_editor(
    session: AsyncSession, user: User | None, association_id: int
) -> Association:
    require_login(user)
    association = await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    return association


async def add_regulation_text(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    data: RegulationTextInput,
    *,
    docx: bytes,
    pdf: bytes,
) -> LibraryVersion:
    """A new version of the regulation from the edited text (with its DOCX and PDF renderings)."""
    await check_regulation_editor(session, user, association_id)
    return await publish_version(
        session,
        settings,
        association_id=association_id,
        kind=LibraryKind.regulation,
        school_year=None,
        title=REGULATION_TITLE,
        user=user,
        text=data.text,
        docx=docx,
        pdf=pdf,
        filename_stem="Положение о СМО",
        note=data.note,
    )


async def add_regulation_file(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    upload: Upload,
    note: str = "",
) -> LibraryVersion:
    """A new version of the regulation from an uploaded DOCX or PDF (type checked by content)."""
    await check_regulation_editor(session, user, association_id)
    stored = await save_upload(session, settings, upload, allowed=REGULATION_KINDS, user=user)
    return await publish_version(
        session,
        settings,
        association_id=association_id,
        kind=LibraryKind.regulation,
        school_year=None,
        title=REGULATION_TITLE,
        user=user,
        file_id=stored.id,
        note=note,
    )


async def version_file(
    session: AsyncSession, user: User | None, association_id: int, version_id: int, which: str
) -> StoredFile:
    """A version's file (``which``: "file" = the DOCX or the upload, "pdf"), for members only."""
    require_login(user)
    await get_association(session, association_id)
    await require_member(session, user, association_id)
    version = await session.get(LibraryVersion, version_id) if 0 < version_id <= MAX_ID else None
    doc = await session.get(LibraryDocument, version.document_id) if version is not None else None
    if version is None or doc is None or doc.association_id != association_id:
        raise NotFound()
    file_id = version.pdf_file_id if which == "pdf" else version.file_id
    stored = await session.get(StoredFile, file_id) if file_id is not None else None
    if stored is None:
        raise NotFound()
    return stored
