"""The shared core of the association's year: Russian full-text search on both databases,
file sniffing and storage, notifications' dedupe, plan rows, charts."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from server.charts import bar_chart
from server.db.models import Notification, NotificationKind, PlanRowSource, StoredFile
from server.domain.community.notifications import notify
from server.domain.year.plans import add_plan_row
from server.errors import PayloadTooLarge
from server.files import DOCUMENTS, IMAGES, FileRejected, file_path, save_bytes, sniff
from server.files.store import clean_filename, content_disposition
from server.search import index_entry, matching_ids, remove_entry, search, stem_words
from server.settings import Settings
from tests.support.factories import make_association, make_user
from tests.support.live import LiveServer


def test_stems_join_word_forms() -> None:
    assert stem_words("урок")[0] == stem_words("уроки")[0] == stem_words("уроков")[0]
    assert stem_words("Ёлка ёлки") == stem_words("елка елки")


async def test_search_finds_word_forms_and_respects_associations(server: LiveServer) -> None:
    a = await make_association(server.runtime.db, name="A")
    b = await make_association(server.runtime.db, name="B")
    async with server.runtime.db.transaction() as s:
        await index_entry(
            s,
            kind="resource",
            object_id=1,
            association_id=a.id,
            title="Открытые уроки",
            body="Разработки уроков математики для 5 класса",
            url="/r/1",
        )
        await index_entry(
            s,
            kind="resource",
            object_id=2,
            association_id=b.id,
            title="Урок физики",
            body="Сценарий",
            url="/r/2",
        )
        await index_entry(
            s,
            kind="meeting",
            object_id=3,
            association_id=None,
            title="Общее заседание",
            body="О проведении урока",
            url="/m/3",
        )
        await index_entry(
            s, kind="resource", object_id=4, association_id=a.id, title="Олимпиада", body="задачи", url="/r/4"
        )
    async with server.runtime.db.read() as s:
        hits = await search(s, "урок", association_ids={a.id})
        assert {(h.kind, h.object_id) for h in hits} == {("resource", 1), ("meeting", 3)}
        assert {h.object_id for h in await search(s, "уроков", association_ids=None)} == {1, 2, 3}
        assert [h.object_id for h in await search(s, "урок", association_ids={a.id}, kinds={"resource"})] == [
            1
        ]
        assert await search(s, "   ", association_ids=None) == []
        assert await search(s, '"; DROP TABLE x; --', association_ids=None) == []
        rows = (await s.execute(matching_ids(s, "resource", "задача"))).all()
        assert [r.object_id for r in rows] == [4]
    async with server.runtime.db.transaction() as s:
        await index_entry(
            s,
            kind="resource",
            object_id=1,
            association_id=a.id,
            title="Олимпиадные задачи",
            body="",
            url="/r/1",
        )
        await remove_entry(s, "resource", 4)
    async with server.runtime.db.read() as s:
        assert {h.object_id for h in await search(s, "урок", association_ids={a.id})} == {3}
        assert [h.object_id for h in await search(s, "задачи", association_ids=None)] == [1]


def _docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def test_sniff_by_content() -> None:
    assert sniff(b"%PDF-1.7\n...").name == "pdf"  # type: ignore[union-attr]
    assert sniff(_docx_bytes()).name == "docx"  # type: ignore[union-attr]
    assert sniff(b"\x89PNG\r\n\x1a\n0000").name == "png"  # type: ignore[union-attr]
    assert sniff("Привет".encode()).name == "text"  # type: ignore[union-attr]
    assert sniff(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00") is None  # a Windows executable
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\x\\план.docx") == "план.docx"
    assert "filename*=UTF-8''%D0%BF%D0%BB%D0%B0%D0%BD.pdf" in content_disposition("план.pdf")


async def test_save_checks_type_and_size(server: LiveServer, tmp_path: Path) -> None:
    settings = Settings(
        env="test", var_dir=tmp_path, database_url="sqlite+aiosqlite://", upload_max_bytes=1000
    )
    async with server.runtime.db.transaction() as s:
        stored = await save_bytes(
            s, settings, b"%PDF-1.4 x", filename="../Отчёт.exe", allowed=DOCUMENTS, user=None
        )
        assert stored.original_name == "Отчёт.pdf"  # the extension follows the content
        assert file_path(settings, stored).read_bytes() == b"%PDF-1.4 x"
        assert tmp_path in file_path(settings, stored).parents
        with pytest.raises(FileRejected):
            await save_bytes(s, settings, b"%PDF-1.4 x", filename="a.pdf", allowed=IMAGES, user=None)
        with pytest.raises(PayloadTooLarge):
            await save_bytes(
                s, settings, b"%PDF" + b"x" * 1000, filename="a.pdf", allowed=DOCUMENTS, user=None
            )
    async with server.runtime.db.read() as s:
        assert await s.get(StoredFile, stored.id) is not None


async def test_notify_once_per_person_and_key(server: LiveServer) -> None:
    u1 = await make_user(server.runtime.db, email="n1@example.org")
    u2 = await make_user(server.runtime.db, email="n2@example.org")
    for _ in range(2):
        async with server.runtime.db.transaction() as s:
            await notify(
                s, [u1.id, u2.id, u1.id], NotificationKind.announcement, dedupe_key="a:1", title="Новость"
            )
    async with server.runtime.db.read() as s:
        from sqlalchemy import func, select

        assert await s.scalar(select(func.count()).select_from(Notification)) == 2


async def test_plan_rows_are_numbered(server: LiveServer) -> None:
    a = await make_association(server.runtime.db)
    async with server.runtime.db.transaction() as s:
        r1 = await add_plan_row(s, a.id, 2026, topic="Функциональная грамотность")
        r2 = await add_plan_row(s, a.id, 2026, topic="Цифровые ресурсы", source=PlanRowSource.needs)
        r3 = await add_plan_row(s, a.id, 2027, topic="Следующий год")
    assert (r1.position, r2.position, r3.position) == (1, 2, 1)
    assert r1.plan_id == r2.plan_id != r3.plan_id


def test_charts_escape_labels() -> None:
    svg = bar_chart(["<script>alert(1)</script>", "Октябрь"], [3, 4], title="Посещаемость").decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Октябрь" in svg
    assert bar_chart(["a"], [0], fmt="png").startswith(b"\x89PNG")


def test_documents_carry_chart_images() -> None:
    import docx  # python-docx
    from pypdf import PdfReader

    from server.domain.protocol import render_docx, render_html, render_pdf, render_text
    from server.domain.protocol.layout import Block

    png = bar_chart(["Сентябрь", "Октябрь"], [3, 4], fmt="png")
    blocks = [Block("heading", "АНАЛИЗ"), Block("image", "Рис. 1. Посещаемость", image=png, width_mm=120)]
    assert "[Рис. 1. Посещаемость]" in render_text(blocks)
    assert 'src="data:image/png;base64,' in render_html(blocks, title="Анализ")
    d = docx.Document(io.BytesIO(render_docx(blocks)))
    assert len(d.inline_shapes) == 1
    pdf = PdfReader(io.BytesIO(render_pdf(blocks, title="Анализ")))
    assert pdf.metadata is not None and pdf.metadata.title == "Анализ"
    assert len(pdf.pages[0].images) == 1
