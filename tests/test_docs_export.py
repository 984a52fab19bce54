"""Documents after the meeting: the readable page, Markdown and DOCX exports, doc.snapshot."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from docx import Document
from pycrdt import XmlElement, XmlFragment, XmlText
from sqlalchemy import select

from server.db.models import MeetingEvent
from server.domain.meeting import documents
from tests.support.client import WebClient
from tests.support.doc_peer import DocPeer
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import user_cookie


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="exp")
    yield cast
    await cast.close_all(server.runtime.sio)


def rich(f: XmlFragment) -> None:
    f.children.append(XmlElement("heading", {"level": "2"}, [XmlText("Решение")]))
    p = f.children.append(XmlElement("paragraph", contents=[XmlText("Принять ")]))
    text = p.children[0]
    assert isinstance(text, XmlText)
    text.insert(len(text), "план", {"strong": {}})
    text.insert(len(text), " <script>alert(1)</script>", {"em": {}})
    f.children.append(
        XmlElement(
            "bullet_list",
            contents=[
                XmlElement("list_item", contents=[XmlElement("paragraph", contents=[XmlText("пункт")])])
            ],
        )
    )


def web(cast: Cast, role: str) -> WebClient:
    c = WebClient(base_url=cast.url, follow_redirects=False, timeout=20)
    c.cookies.set("smo_session", user_cookie(cast.secret, cast.ids[role]))
    return c


async def test_exports_and_readable_page(server: LiveServer, cast: Cast) -> None:
    c, _ = await cast.joined("methodist")
    docs = (await c.ok("doc.list"))["documents"]
    peer = DocPeer(c, docs[0]["id"])
    await peer.open()
    assert (await peer.edit(rich))["ok"] is True
    base = f"/meetings/{cast.meeting.id}/documents"
    async with web(cast, "member") as member:
        md = await member.get(f"{base}/{peer.doc_id}.md")
        assert md.status_code == 200, md.text
        assert md.headers["content-type"].startswith("text/markdown")
        assert "filename*=UTF-8''" in md.headers["content-disposition"]
        assert md.text.startswith("# Заметки заседания\n")
        assert "## Решение\n\nПринять **план***" in md.text and "- пункт" in md.text
        dx = await member.get(f"{base}/{peer.doc_id}.docx")
        assert dx.status_code == 200
        paragraphs = [p.text for p in Document(io.BytesIO(dx.content)).paragraphs]
        assert "Решение" in paragraphs and "пункт" in paragraphs
        assert any(p.startswith("Принять план") for p in paragraphs)
        page = await member.get(base)
        assert page.status_code == 200
        assert "<strong>план</strong>" in page.text
        assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
        for d in docs:
            assert f"{base}/{d['id']}.docx" in page.text
        assert (await member.get(f"{base}/{10**6}.md")).status_code == 404
    async with web(cast, "outsider") as outsider:
        assert (await outsider.get(f"{base}/{peer.doc_id}.md")).status_code == 403
        assert (await outsider.get(base)).status_code == 403
    async with WebClient(base_url=cast.url, follow_redirects=False, timeout=20) as anonymous:
        assert (await anonymous.get(f"{base}/{peer.doc_id}.docx")).status_code in (302, 303, 401)


async def test_snapshot_documents_for_an_agenda_item(server: LiveServer, cast: Cast) -> None:
    c, _ = await cast.joined("methodist")
    docs = (await c.ok("doc.list"))["documents"]
    notes, decision, other_item = (DocPeer(c, d["id"]) for d in docs)
    for p in (notes, decision, other_item):
        await p.open()
    await notes.add_paragraph("Заметка")
    await decision.add_paragraph("Решили по первому вопросу")
    await other_item.add_paragraph("Второй вопрос")
    async with server.runtime.db.transaction() as s:
        events = await documents.snapshot_documents(
            s, cast.meeting.id, "agenda_item_ended", agenda_item_id=docs[1]["agenda_item_id"]
        )
    assert [e.payload["doc_id"] for e in events] == [notes.doc_id, decision.doc_id]
    assert events[1].payload == {
        "doc_id": decision.doc_id,
        "title": docs[1]["title"],
        "text": "Решили по первому вопросу\n",
        "agenda_item_id": docs[1]["agenda_item_id"],
        "kind": None,  # a board's snapshot says "board" and describes its pages in "board"
        "board": None,
        "reason": "agenda_item_ended",
    }
    async with server.runtime.db.read() as s:
        stored = list(await s.scalars(select(MeetingEvent).where(MeetingEvent.type == "doc.snapshot")))
    assert len(stored) == 2


async def test_agenda_item_and_meeting_end_capture_the_documents(server: LiveServer, cast: Cast) -> None:
    c, _ = await cast.joined("methodist")
    await c.ok("meeting.start")
    docs = (await c.ok("doc.list"))["documents"]
    notes, decision = DocPeer(c, docs[0]["id"]), DocPeer(c, docs[1]["id"])
    await notes.open()
    await decision.open()
    item_id = docs[1]["agenda_item_id"]
    await c.ok("agenda.start", {"item_id": item_id})
    await decision.add_paragraph("Утвердить план работы СМО")
    await notes.add_paragraph("Обсуждали план")
    await c.ok("agenda.end")
    ended = await c.wait_event(lambda e: e["type"] == "agenda.item.ended")
    snap = await c.wait_event(
        lambda e: e["type"] == "doc.snapshot" and e["payload"]["doc_id"] == decision.doc_id
    )
    assert snap["seq"] > ended["seq"]
    assert snap["payload"]["text"] == "Утвердить план работы СМО\n"
    assert snap["payload"]["reason"] == "agenda_item_ended"
    await c.ok("meeting.end")
    await c.wait_event(lambda e: e["type"] == "doc.snapshot" and e["payload"]["reason"] == "meeting_ended")
    final = [e for e in c.of_type("doc.snapshot") if e["payload"]["reason"] == "meeting_ended"]
    assert {e["payload"]["doc_id"] for e in final} == {notes.doc_id, decision.doc_id}
    # After the end the documents are read-only for everyone.
    assert (await decision.add_paragraph("после конца"))["error"]["code"] == "doc_read_only"
