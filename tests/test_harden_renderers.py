"""Control characters in text never break a document renderer (issue 15, item 9): the
regulation, protocols, questionnaire reports (blocks -> DOCX/PDF), shared documents (DOCX) and
certificates (PDF) drop what XML 1.0 and ReportLab cannot carry."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx
import pypdf
from sqlalchemy import select

from server.db.models import Meeting, MeetingDocument, Role
from server.db.models.library import LibraryVersion
from server.domain.meeting.doc_export import ReadableDocument, export_docx
from server.domain.meeting.doc_text import Block as DocBlock
from server.domain.protocol import render_docx, render_pdf
from server.domain.protocol.layout import Block
from server.domain.year.certificates import render_certificate
from server.domain.year.competitions import CertificateData
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

NASTY = "Пункт\x00 1\x01\x02\x08\x0b\x0c\x0e\x1f\x7f конец\ufffe\uffff\ud800"
CLEAN = "Пункт 1 конец"


def docx_text(data: bytes) -> str:
    d = docx.Document(io.BytesIO(data))
    return "\n".join(p.text for p in d.paragraphs) + "\n".join(
        c.text for t in d.tables for r in t.rows for c in r.cells
    )


def test_block_renderers_drop_control_characters() -> None:
    blocks = [
        Block("title", NASTY),
        Block("text", NASTY, bold=True),
        Block("table", rows=(("А", NASTY), (NASTY, "б"))),
        Block("signature", NASTY, right=NASTY),
    ]
    text = docx_text(render_docx(blocks))
    assert CLEAN in text and "\x00" not in text
    pdf = pypdf.PdfReader(io.BytesIO(render_pdf(blocks, title=NASTY)))
    assert "Пункт" in pdf.pages[0].extract_text()


def test_shared_document_and_certificate_drop_control_characters() -> None:
    meeting = Meeting(title=NASTY)
    document = MeetingDocument(title=NASTY)
    blocks = [DocBlock("heading", [(NASTY, {})], level=1), DocBlock("paragraph", [(NASTY, {"strong": {}})])]
    assert CLEAN in docx_text(export_docx(meeting, ReadableDocument(document, blocks)))
    cert = CertificateData(
        number=NASTY,
        full_name=NASTY,
        school=NASTY,
        competition_title=NASTY,
        association_name=NASTY,
        founder_name=NASTY,
        place=1,
        degree=1,
        issued=datetime(2026, 5, 20, tzinfo=UTC),
        methodist_name=NASTY,
    )
    pdf = pypdf.PdfReader(io.BytesIO(render_certificate(cert)))
    assert "Пункт" in pdf.pages[0].extract_text()


async def test_regulation_text_with_control_characters_is_saved(server: LiveServer) -> None:
    db = server.runtime.db
    a = await make_association(db)
    user = await make_user(db, "reg-methodist@example.org")
    await add_member(db, a.id, user.id, Role.methodist)
    c = await logged_in_client(server, "reg-methodist@example.org")
    try:
        # A NUL is refused at the edge (no browser sends one; PostgreSQL cannot store it) and
        # saves nothing; the other control characters of a pasted text are kept and rendered.
        r = await c.submit(f"/associations/{a.id}/library/regulation/text", {"text": "Текст\x00"})
        assert r.status_code == 422, r.status_code
        async with db.read() as s:
            assert (await s.scalars(select(LibraryVersion))).first() is None
        text = "1. Общие положения\x0b\x01\n" + NASTY.replace("\ud800", "").replace("\x00", "")
        r = await c.submit(f"/associations/{a.id}/library/regulation/text", {"text": text})
        assert r.status_code == 303, (r.status_code, r.text[:300])
        async with db.read() as s:
            version = (await s.scalars(select(LibraryVersion).order_by(LibraryVersion.id.desc()))).first()
        assert version is not None
        page = await c.get(f"/associations/{a.id}/library")
        assert page.status_code == 200
        r = await c.get(f"/associations/{a.id}/library/versions/{version.id}/file")
        assert r.status_code == 200
        text = docx_text(r.content)  # (line breaks such as \x0b split the regulation's lines)
        assert "1. Общие положения" in text and "Пункт 1" in text and "конец" in text
    finally:
        await c.aclose()
