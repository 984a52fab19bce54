"""Shared documents over the real server: Python (pycrdt) clients, permissions, bad input."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator

import pytest
from pycrdt import XmlElement, XmlText
from sqlalchemy import func, select

from server.db.models import DocSnapshot, DocUpdate
from server.domain.meeting import documents
from tests.support.doc_peer import DocPeer, sync_msg
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def stored_text(server: LiveServer, doc_id: int) -> str:
    async with server.runtime.db.read() as s:
        return await documents.document_text(s, doc_id)


async def peer(cast: Cast, role: str, doc_id: int | None = None) -> tuple[DocPeer, list[dict]]:
    c, _ = await cast.joined(role)
    docs = (await c.ok("doc.list"))["documents"]
    p = DocPeer(c, doc_id or docs[0]["id"])
    await p.open()
    return p, docs


async def test_default_documents_and_two_clients_converge(server: LiveServer, cast: Cast) -> None:
    a, docs = await peer(cast, "methodist")
    assert [d["kind"] for d in docs] == ["notes", "decision", "decision"]
    assert docs[0]["title"] == "Заметки заседания"
    assert docs[1]["title"].startswith("Проект решения: 1. ")
    assert all(d["can_edit"] for d in docs)
    b, docs_b = await peer(cast, "member")
    assert [d["id"] for d in docs_b] == [d["id"] for d in docs]  # created once

    async def type_into(p: DocPeer, who: str) -> None:
        for i in range(15):
            ack = await p.add_paragraph(f"{who} {i}")
            assert ack["ok"] is True, ack

    await asyncio.gather(type_into(a, "А"), type_into(b, "Б"))
    await wait_for(lambda: len(a.paragraphs()) == 30 and len(b.paragraphs()) == 30, 10, what="convergence")
    assert a.paragraphs() == b.paragraphs()
    assert sorted(a.paragraphs()) == sorted([f"А {i}" for i in range(15)] + [f"Б {i}" for i in range(15)])
    assert await stored_text(server, a.doc_id) == a.markdown
    # A late opener gets everything in the open acknowledgement.
    c = await peer(cast, "mo_head", a.doc_id)
    assert c[0].paragraphs() == a.paragraphs()


async def test_read_only_participants_and_edit_policy(server: LiveServer, cast: Cast) -> None:
    host, _ = await peer(cast, "methodist")
    await host.add_paragraph("Повестка утверждена")
    guest, _ = await peer(cast, "guest", host.doc_id)
    assert guest.open_ack["can_edit"] is False
    ack = await guest.add_paragraph("гость пишет")
    assert ack["ok"] is False and ack["error"]["code"] == "doc_read_only"
    member, _ = await peer(cast, "member", host.doc_id)
    assert member.open_ack["can_edit"] is True
    # moderators only
    await host.client.ok("doc.policy", {"doc_id": host.doc_id, "edit_policy": "moderators"})
    ack = await member.add_paragraph("участник пишет")
    assert ack["error"]["code"] == "doc_read_only"
    # named: the guest may now edit, the member still may not
    await host.client.ok(
        "doc.policy", {"doc_id": host.doc_id, "edit_policy": "named", "editors": [cast.key("guest")]}
    )
    # The guest's copy still holds the rejected paragraph: its next change is out of sync.
    ack = await guest.add_paragraph("гостю разрешили")
    assert ack["error"]["code"] == "doc_out_of_sync"
    await guest.reopen()
    assert guest.open_ack["can_edit"] is True
    assert (await guest.add_paragraph("гостю разрешили"))["ok"] is True
    await member.reopen()
    assert (await member.add_paragraph("всё ещё нельзя"))["error"]["code"] == "doc_read_only"
    # only moderators change the policy
    code = await member.client.error("doc.policy", {"doc_id": host.doc_id, "edit_policy": "everyone"})
    assert code == "forbidden"
    await wait_for(
        lambda: host.paragraphs() == ["Повестка утверждена", "гостю разрешили"],
        3,
        what=f"sync {host.paragraphs()} {guest.paragraphs()}",
    )
    text = await stored_text(server, host.doc_id)
    assert "гость пишет" not in text and "участник пишет" not in text and "гостю разрешили" in text
    # a document of another meeting is not found
    assert await host.client.error("doc.open", {"doc_id": 10**6}) == "doc_not_found"


async def test_malformed_and_oversized_updates_change_nothing(server: LiveServer, cast: Cast) -> None:
    host, _ = await peer(cast, "methodist")
    member, _ = await peer(cast, "member", host.doc_id)
    await host.add_paragraph("Исходный текст")
    await wait_for(lambda: member.paragraphs() == ["Исходный текст"], 10, what="sync")
    before = await stored_text(server, host.doc_id)
    bad = [
        "не base64 !!!",
        base64.b64encode(b"\x07\x02\x03abc").decode(),  # unknown message type
        base64.b64encode(b"\x00\x02\x10abc").decode(),  # length beyond the end
        sync_msg(2, b"garbage-not-an-update"),
        sync_msg(2, os.urandom(200)),
    ]
    for data in bad:
        code = await member.client.error("doc.sync", {"doc_id": host.doc_id, "data": data})
        assert code == "doc_update_malformed", data
    big = sync_msg(2, b"\x01" * (documents.MAX_UPDATE_BYTES + 100))
    assert (
        await member.client.error("doc.sync", {"doc_id": host.doc_id, "data": big}) == "doc_update_too_large"
    )
    assert await stored_text(server, host.doc_id) == before
    # The document keeps working for everyone.
    assert (await member.add_paragraph("после мусора"))["ok"] is True
    await wait_for(lambda: host.paragraphs() == ["Исходный текст", "после мусора"], 10, what="sync")
    # Garbage again and again: the sender is cooled down, the others are not.
    # (The limiter's window is fixed: a window boundary may restart the count once.)
    codes = []
    while "rate_limited" not in codes and len(codes) < 30:
        codes.append(
            await member.client.error("doc.sync", {"doc_id": host.doc_id, "data": sync_msg(2, b"xx")})
        )
    assert codes[-1] == "rate_limited" and set(codes[:-1]) == {"doc_update_malformed"}
    assert (await member.add_paragraph("заблокирован"))["error"]["code"] == "rate_limited"
    assert (await host.add_paragraph("ведущий пишет дальше"))["ok"] is True


async def test_document_size_limit(server: LiveServer, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 3000)
    host, _ = await peer(cast, "methodist")
    codes = []
    for i in range(10):
        ack = await host.add_paragraph(f"{i} " + "текст " * 60)
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert "doc_too_large" in codes
    first = codes.index("doc_too_large")
    assert all(c == "ok" for c in codes[:first])
    text = await stored_text(server, host.doc_id)
    assert text.count("текст") == 60 * first


async def test_compaction_keeps_the_document(
    server: LiveServer, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "COMPACT_EVERY", 5)
    host, _ = await peer(cast, "methodist")
    for i in range(12):
        await host.add_paragraph(f"строка {i}")
        await host.edit(lambda f: f.children[0].children[0].insert(0, "*"))
    async with server.runtime.db.read() as s:
        snap = await s.get(DocSnapshot, host.doc_id)
        left = await s.scalar(
            select(func.count()).select_from(DocUpdate).where(DocUpdate.document_id == host.doc_id)
        )
    assert snap is not None and snap.seq >= 20 and left < 5
    # A process that never held the document loads it from the snapshot and the tail.
    server.runtime.services["documents"].clear()
    other, _ = await peer(cast, "member", host.doc_id)
    assert other.paragraphs() == host.paragraphs()
    assert other.paragraphs()[0] == "*" * 12 + "строка 0"


async def test_manual_snapshot_event(server: LiveServer, cast: Cast) -> None:
    host, _ = await peer(cast, "methodist")
    await host.edit(lambda f: f.children.append(XmlElement("heading", {"level": "2"}, [XmlText("Решение")])))
    await host.add_paragraph("Принять план работы.")
    ack = await host.client.ok("doc.snapshot")
    assert len(ack["seqs"]) == 1
    event = await host.client.wait_event(lambda e: e["type"] == "doc.snapshot")
    assert event["payload"]["doc_id"] == host.doc_id
    assert event["payload"]["text"] == "## Решение\n\nПринять план работы.\n"
    assert event["payload"]["reason"] == "manual"


async def test_awareness_is_relayed_with_the_real_name(server: LiveServer, cast: Cast) -> None:
    import json

    from pycrdt import Decoder, Encoder, write_message

    host, _ = await peer(cast, "methodist")
    member, _ = await peer(cast, "member", host.doc_id)
    enc = Encoder()
    enc.write_var_uint(1)
    enc.write_var_uint(12345)
    enc.write_var_uint(1)
    enc.write_var_string(json.dumps({"user": {"name": "Самозванец", "color": "#123456"}, "cursor": None}))
    data = base64.b64encode(bytes([1]) + write_message(enc.to_bytes())).decode()
    await member.client.ok("doc.awareness", {"doc_id": host.doc_id, "data": data})

    def relayed() -> bytes | None:
        # (skip other awareness traffic, e.g. a sweep announcing a closed connection's removal)
        for item in host.awareness:
            message = Decoder(base64.b64decode(item)[1:]).read_message()
            if message is not None and Decoder(message).read_var_uint() == 1:
                d = Decoder(message)
                d.read_var_uint()
                if d.read_var_uint() == 12345:
                    return message
        return None

    update = await wait_for(relayed, 10, what="awareness relayed")
    d = Decoder(update)
    assert d.read_var_uint() == 1 and d.read_var_uint() == 12345 and d.read_var_uint() == 1
    state = json.loads(d.read_var_string())
    assert state["user"] == {"name": "А.П. Петрова", "color": "#123456"}  # not «Самозванец»
    # A late opener gets the current states in the open acknowledgement.
    late, _ = await peer(cast, "mo_head", host.doc_id)
    assert late.open_ack["awareness"]
    garbage = base64.b64encode(bytes([1]) + write_message(b"\x05\x01")).decode()
    assert (
        await member.client.error("doc.awareness", {"doc_id": host.doc_id, "data": garbage})
        == "doc_update_malformed"
    )


async def test_cursor_of_a_closed_connection_is_removed(server: LiveServer, cast: Cast) -> None:
    import json

    from pycrdt import Decoder, Encoder, write_message

    host, _ = await peer(cast, "methodist")
    member, _ = await peer(cast, "member", host.doc_id)
    enc = Encoder()
    enc.write_var_uint(1)
    enc.write_var_uint(777)
    enc.write_var_uint(3)
    enc.write_var_string(json.dumps({"user": {"name": "x", "color": "#000"}}))
    data = base64.b64encode(bytes([1]) + write_message(enc.to_bytes())).decode()
    await member.client.ok("doc.awareness", {"doc_id": host.doc_id, "data": data})
    await wait_for(lambda: len(host.awareness) == 1, 10, what="awareness relayed")
    await member.client.close()  # no doc.close: the tab just went away

    def removal() -> bool:
        for item in host.awareness[1:]:
            update = Decoder(base64.b64decode(item)[1:]).read_message()
            d = Decoder(update or b"")
            if d.read_var_uint() == 1 and d.read_var_uint() == 777:
                d.read_var_uint()
                return d.read_var_string() == "null"
        return False

    await wait_for(removal, 15, what="cursor removed")
