"""Reading a meeting's documents after (or during) the meeting, and exporting them.

Members of the association and administrators read them (like the meeting page); the text
comes from storage, so every process returns the same. DOCX is built with python-docx from
the same blocks as the Markdown (server/domain/meeting/doc_text.py).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from docx import Document as DocxDocument
from docx.shared import Pt
from pycrdt import Doc
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, User
from server.db.models.documents import DocumentKind, MeetingDocument
from server.domain.accounts.permissions import can_join_meeting, require_login
from server.domain.meeting import board, documents
from server.domain.meeting.doc_text import Block, blocks_markdown, document_blocks
from server.domain.protocol.text import printable
from server.errors import Forbidden, NotFound


@dataclass
class ReadableDocument:
    document: MeetingDocument
    blocks: list[Block]
    pages: list[board.Page] = field(default_factory=list)  # a board's pages
    files: dict[str, str] = field(default_factory=dict)  # a board's pictures

    @property
    def is_board(self) -> bool:
        return self.document.kind == DocumentKind.board

    @property
    def markdown(self) -> str:
        if self.is_board:
            return board.summary({"pages": [vars(p) for p in self.pages]})
        return blocks_markdown(self.blocks)


async def _meeting_for_reader(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    require_login(user)
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound()
    if not await can_join_meeting(session, user, meeting):
        raise Forbidden()
    return meeting


async def readable_documents(
    session: AsyncSession, user: User | None, meeting_id: int
) -> tuple[Meeting, list[ReadableDocument]]:
    meeting = await _meeting_for_reader(session, user, meeting_id)
    out = []
    for d in await documents.list_documents(session, meeting_id):
        doc, _ = await documents.load_doc(session, d.id)
        out.append(_readable(d, doc))
    return meeting, out


def _readable(row: MeetingDocument, doc: Doc) -> ReadableDocument:
    if row.kind == DocumentKind.board:
        return ReadableDocument(row, [], board.read_pages(doc), board.read_files(doc))
    return ReadableDocument(row, document_blocks(doc))


async def readable_document(
    session: AsyncSession, user: User | None, meeting_id: int, document_id: int
) -> tuple[Meeting, ReadableDocument]:
    meeting = await _meeting_for_reader(session, user, meeting_id)
    row = await documents.get_document(session, meeting_id, document_id)
    doc, _ = await documents.load_doc(session, row.id)
    return meeting, _readable(row, doc)


def export_markdown(meeting: Meeting, item: ReadableDocument) -> str:
    return f"# {item.document.title}\n\n_{meeting.title}_\n\n{item.markdown}"


def export_docx(meeting: Meeting, item: ReadableDocument) -> bytes:
    docx = DocxDocument()
    style = docx.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    docx.add_heading(printable(item.document.title), level=1)
    docx.add_paragraph().add_run(printable(meeting.title)).italic = True
    for block in item.blocks:
        if block.kind == "heading":
            paragraph = docx.add_heading(level=min(block.level + 1, 9))
        elif block.kind in ("bullet", "ordered"):
            base = "List Bullet" if block.kind == "bullet" else "List Number"
            name = base if block.level == 0 else f"{base} {min(block.level + 1, 3)}"
            paragraph = docx.add_paragraph(style=name)
        elif block.kind == "quote":
            paragraph = docx.add_paragraph(style="Quote")
        elif block.kind == "rule":
            docx.add_paragraph("—" * 10)
            continue
        else:
            paragraph = docx.add_paragraph()
        for text, marks in block.runs:
            run = paragraph.add_run(printable(text))
            run.bold = "strong" in marks or None
            run.italic = "em" in marks or None
            if "code" in marks or block.kind == "code":
                run.font.name = "Courier New"
            link = marks.get("link")
            if isinstance(link, dict) and link.get("href"):
                run.underline = True
                paragraph.add_run(printable(f" ({link['href']})"))
    out = io.BytesIO()
    docx.save(out)
    return out.getvalue()


def file_name(item: ReadableDocument, suffix: str) -> str:
    """A readable file name (Cyrillic kept; only characters unsafe in file names replaced)."""
    base = re.sub(r'[\\/:*?"<>|\s]+', "_", item.document.title).strip("_.")[:80] or "document"
    return f"{base}.{suffix}"
