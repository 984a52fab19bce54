"""The documents section over HTTP on both databases: the regulation uploaded (type checked
by content) or edited as text, each save a new version; downloads with safe headers for
members only; approved protocols listed; the role matrix."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx
import httpx
import pypdf
from sqlalchemy import func, select

from server.db.models import Role
from server.db.models.library import LibraryVersion
from server.db.models.protocols import MeetingProtocol, ProtocolStatus
from server.domain.protocol import render_docx
from server.domain.protocol.layout import Block
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_meeting, make_user
from tests.support.live import LiveServer

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


async def seed(server: LiveServer) -> tuple[int, int]:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей математики")
    b = await make_association(db, name="СМО учителей истории")
    for role in ("methodist", "member", "mo_head", "admin", "outsider"):
        user = await make_user(db, f"{role}@example.org", is_admin=role == "admin", last_name=role.title())
        if role in ("methodist", "member", "mo_head"):
            await add_member(db, a.id, user.id, Role(role))
        elif role == "outsider":
            await add_member(db, b.id, user.id, Role.methodist)
    return a.id, b.id


async def versions(server: LiveServer) -> list[LibraryVersion]:
    async with server.runtime.db.read() as s:
        return list(await s.scalars(select(LibraryVersion).order_by(LibraryVersion.version)))


async def upload(c: WebClient, aid: int, name: str, data: bytes, note: str = "") -> httpx.Response:
    return await c.post(
        f"/associations/{aid}/library/regulation/upload",
        data={"csrf_token": await c.csrf(), "note": note},
        files={"file": (name, data, "application/pdf")},
    )


async def test_regulation_versions_and_downloads(server: LiveServer) -> None:
    aid, other = await seed(server)
    c = await logged_in_client(server, "methodist@example.org")
    try:
        page = await c.get(f"/associations/{aid}/library")
        assert page.status_code == 200
        assert "Положение ещё не добавлено." in page.text and "Утверждённых протоколов пока нет." in page.text

        # Version 1: an uploaded PDF.
        r = await upload(c, aid, "Положение о СМО.pdf", PDF_BYTES, note="Утверждено приказом № 12")
        assert r.status_code == 303
        # An .exe renamed .pdf is refused by its content: 415, Russian message, nothing stored.
        r = await upload(c, aid, "Положение.pdf", EXE_BYTES)
        assert r.status_code == 415
        assert "Можно загрузить только файл DOCX или PDF." in r.text
        # A DOCX is accepted, an image is not (the regulation is a document).
        r = await upload(c, aid, "scan.png", b"\x89PNG\r\n\x1a\n" + b"0" * 40)
        assert r.status_code == 415
        r = await c.post(
            f"/associations/{aid}/library/regulation/upload",
            data={"csrf_token": await c.csrf()},
        )
        assert r.status_code == 422 and "Выберите файл." in r.text
        assert [v.version for v in await versions(server)] == [1]

        # Version 2: edited as text (rendered to DOCX and PDF too).
        text = "1. Общие положения\n1.1. Сетевое методическое объединение — виртуальное сообщество педагогов.\n\n2. Цели и задачи"
        r = await c.submit(
            f"/associations/{aid}/library/regulation/text", {"text": text, "note": "Новая редакция"}
        )
        assert r.status_code == 303
        r = await c.submit(f"/associations/{aid}/library/regulation/text", {"text": "   "})
        assert r.status_code == 422 and "Заполните это поле." in r.text
        r = await c.submit(f"/associations/{aid}/library/regulation/text", {"text": "т", "note": "н" * 501})
        assert r.status_code == 422 and "Слишком длинный текст." in r.text
        vs = await versions(server)
        assert [v.version for v in vs] == [1, 2]
        assert vs[1].text == text and vs[0].text == ""

        page = await c.get(f"/associations/{aid}/library")
        assert "Действующая редакция: версия 2" in page.text
        assert "виртуальное сообщество педагогов" in page.text
        assert "Утверждено приказом № 12" in page.text and "Новая редакция" in page.text
        assert "Methodist" in page.text  # who saved each version
    finally:
        await c.aclose()

    # A member downloads every version with safe headers.
    c = await logged_in_client(server, "member@example.org")
    try:
        page = await c.get(f"/associations/{aid}/library")
        assert page.status_code == 200
        assert "Загрузить файл положения" not in page.text and "Сохранить новую версию" not in page.text
        r = await c.get(f"/associations/{aid}/library/versions/{vs[0].id}/file")
        assert r.status_code == 200 and r.content == PDF_BYTES
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        cd = r.headers["content-disposition"]
        assert cd.startswith("attachment;") and "filename*=UTF-8''" in cd and ".pdf" in cd
        assert (await c.get(f"/associations/{aid}/library/versions/{vs[0].id}/pdf")).status_code == 404
        r = await c.get(f"/associations/{aid}/library/versions/{vs[1].id}/file")
        assert r.status_code == 200 and r.headers["content-disposition"].endswith(".docx")
        body = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
        assert "ПОЛОЖЕНИЕ" in body and "1.1. Сетевое методическое объединение" in body
        r = await c.get(f"/associations/{aid}/library/versions/{vs[1].id}/pdf")
        pdf_text = " ".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
        assert "Общие положения" in " ".join(pdf_text.split())
        assert (await c.get(f"/associations/{aid}/library/versions/{vs[1].id}/other")).status_code == 404
        assert (await c.get(f"/associations/{aid}/library/versions/999999/file")).status_code == 404
        # Read-only for members: no new versions.
        r = await c.submit(f"/associations/{aid}/library/regulation/text", {"text": "Моя редакция"})
        assert r.status_code == 403
        r = await upload(c, aid, "x.pdf", PDF_BYTES)
        assert r.status_code == 403
    finally:
        await c.aclose()

    # A member of another association: nothing, not even through its own association's path.
    c = await logged_in_client(server, "outsider@example.org")
    try:
        assert (await c.get(f"/associations/{aid}/library")).status_code == 403
        assert (await c.get(f"/associations/{aid}/library/versions/{vs[0].id}/file")).status_code == 403
        assert (await c.get(f"/associations/{other}/library/versions/{vs[0].id}/file")).status_code == 404
        r = await c.submit(f"/associations/{aid}/library/regulation/text", {"text": "Чужая редакция"})
        assert r.status_code == 403
        assert (await c.get(f"/associations/{other}/library")).status_code == 200
    finally:
        await c.aclose()

    # Guests are sent to log in.
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as guest:
        for url in (f"/associations/{aid}/library", f"/associations/{aid}/library/versions/{vs[0].id}/file"):
            r = await guest.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
        r = await guest.submit(f"/associations/{aid}/library/regulation/text", {"text": "Гость"})
        assert r.status_code == 303
    assert len(await versions(server)) == 2


async def test_roles_and_protocols(server: LiveServer) -> None:
    aid, _ = await seed(server)
    db = server.runtime.db
    approved = await make_meeting(
        db, aid, "Заседание о плане", starts_at=datetime(2026, 10, 5, 12, tzinfo=UTC)
    )
    draft = await make_meeting(
        db, aid, "Черновое заседание", starts_at=datetime(2026, 10, 20, 12, tzinfo=UTC)
    )
    async with db.transaction() as s:
        s.add(
            MeetingProtocol(
                meeting_id=approved.id,
                association_id=aid,
                status=ProtocolStatus.approved,
                school_year=2026,
                number=3,
                version=1,
            )
        )
        s.add(MeetingProtocol(meeting_id=draft.id, association_id=aid, status=ProtocolStatus.draft))
    async with db.read() as s:
        pid = await s.scalar(select(MeetingProtocol.id).where(MeetingProtocol.meeting_id == approved.id))

    # The school-MO head reads; the administrator (not a member) adds a version.
    c = await logged_in_client(server, "mo_head@example.org")
    try:
        page = await c.get(f"/associations/{aid}/library")
        assert page.status_code == 200
        assert f'href="/protocols/{pid}"' in page.text and "№ 3" in page.text and "05.10.2026" in page.text
        assert "Черновое заседание" not in page.text
        assert "Сохранить новую версию" not in page.text
        r = await c.submit(f"/associations/{aid}/library/regulation/text", {"text": "Редакция"})
        assert r.status_code == 403
    finally:
        await c.aclose()
    c = await logged_in_client(server, "admin@example.org")
    try:
        page = await c.get(f"/associations/{aid}/library")
        assert page.status_code == 200 and "Сохранить новую версию" in page.text
        data = render_docx([Block("heading", "ПОЛОЖЕНИЕ"), Block("text", "Текст из файла")])
        r = await c.post(
            f"/associations/{aid}/library/regulation/upload",
            data={"csrf_token": await c.csrf()},
            files={"file": ("Положение.docx", data, "application/octet-stream")},
        )
        assert r.status_code == 303
    finally:
        await c.aclose()
    async with db.read() as s:
        assert await s.scalar(select(func.count(LibraryVersion.id))) == 1
    assert (await versions(server))[0].file_id is not None
