"""The whiteboard («Доска») over the real server: Python (pycrdt) board clients speaking the
browser's messages — the board document, edit rights, limits, malformed elements and pictures
(typed errors, the board intact), the snapshots at an item's and the meeting's end, the page's
SVG/PNG/PDF exports, the documents page and the protocol's attachment."""

from __future__ import annotations

import base64
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from typing import Any

import pypdf
import pytest
from PIL import Image
from pycrdt import Doc, Map

from server.db.models import Meeting
from server.domain.meeting import board, documents
from server.domain.protocol.layout import protocol_blocks
from server.domain.protocol.mailing import current_model
from server.domain.protocol.render import render_pdf
from server.domain.protocol.workflow import assemble_draft
from tests.support.client import WebClient
from tests.support.doc_peer import parse, sync_msg
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient, user_cookie


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key, tag="brd")
    yield cast
    await cast.close_all(server.runtime.sio)


class BoardPeer:
    """A board client: the three root maps of static/js/room/board.js in a pycrdt Doc."""

    def __init__(self, client: RoomClient, doc_id: int) -> None:
        self.client, self.doc_id = client, doc_id
        self.fresh()
        client.sio.on("doc.sync", self._on_sync)

    def fresh(self) -> None:
        self.doc: Doc = Doc()
        self.elements = self.doc.get(board.ELEMENTS, type=Map)
        self.pages = self.doc.get(board.PAGES, type=Map)
        self.files = self.doc.get(board.FILES, type=Map)

    async def _on_sync(self, data: dict[str, Any]) -> None:
        if data["doc_id"] == self.doc_id:
            self.doc.apply_update(parse(data["data"])[1])

    async def open(self) -> dict[str, Any]:
        self.fresh()
        ack = await self.client.ok("doc.open", {"doc_id": self.doc_id})
        self.doc.apply_update(parse(ack["sync"][1])[1])
        return ack

    async def change(self, fn: Callable[[BoardPeer], Any]) -> dict[str, Any]:
        before = self.doc.get_state()
        with self.doc.transaction():
            fn(self)
        update = self.doc.get_update(before)
        return await self.client.emit_ack("doc.sync", {"doc_id": self.doc_id, "data": sync_msg(2, update)})

    async def draw(self, *elements: dict[str, Any]) -> dict[str, Any]:
        def put(p: BoardPeer) -> None:
            for e in elements:
                p.elements[e["id"]] = e

        return await self.change(put)


async def board_peer(cast: Cast, role: str) -> tuple[BoardPeer, dict[str, Any]]:
    c, _ = await cast.joined(role)
    got = await c.ok("board.get")
    p = BoardPeer(c, got["document"]["id"])
    await p.open()
    return p, got


def el(id: str, type: str, page: str = "1", **kw: Any) -> dict[str, Any]:
    base = {
        "id": id, "type": type, "x": 10, "y": 20, "width": 200, "height": 100, "angle": 0,
        "strokeColor": "#1e1e1e", "backgroundColor": "transparent", "strokeWidth": 2, "opacity": 100,
        "version": 1, "versionNonce": 7, "isDeleted": False, "index": "a0", "page": page,
    }  # fmt: skip
    return base | kw


def png(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def picture(file_id: str, data: bytes, mime: str = "image/png") -> dict[str, Any]:
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"id": file_id, "mimeType": mime, "dataURL": url, "created": 1}


async def stored(server: LiveServer, doc_id: int) -> dict[str, Any]:
    async with server.runtime.db.read() as s:
        ydoc, _ = await documents.load_doc(s, doc_id)
    return {"describe": board.describe(ydoc), "files": sorted(board.read_files(ydoc))}


async def test_board_rights_limits_and_bad_input(server: LiveServer, cast: Cast) -> None:
    host, got = await board_peer(cast, "methodist")
    assert got["document"]["kind"] == "board" and got["document"]["title"] == "Доска"
    assert got["can_edit"] is True
    assert (await host.client.ok("board.get"))["document"]["id"] == host.doc_id  # one board
    listed = (await host.client.ok("doc.list"))["documents"]
    assert [d["id"] for d in listed if d["kind"] == "board"] == [host.doc_id]

    member, _ = await board_peer(cast, "member")
    assert (await member.draw(el("r1", "rectangle")))["ok"] is True
    await wait_for(lambda: "r1" in host.elements, 10, what="the stroke reaches the host")
    assert (await host.draw(el("t1", "text", text="Цели урока", fontSize=28)))["ok"] is True
    await wait_for(lambda: "t1" in member.elements, 10, what="the text reaches the member")

    # Read-only for a guest; the moderators' policy, then named editors (as for documents).
    guest, got_guest = await board_peer(cast, "guest")
    assert got_guest["can_edit"] is False and guest.doc_id == host.doc_id
    assert (await guest.draw(el("g1", "ellipse")))["error"]["code"] == "doc_read_only"
    await host.client.ok("doc.policy", {"doc_id": host.doc_id, "edit_policy": "moderators"})
    await member.open()
    assert (await member.draw(el("m2", "ellipse")))["error"]["code"] == "doc_read_only"
    await host.client.ok(
        "doc.policy", {"doc_id": host.doc_id, "edit_policy": "named", "editors": [cast.key("member")]}
    )
    await member.open()
    assert (await member.draw(el("m3", "diamond")))["ok"] is True
    before = await stored(server, host.doc_id)
    assert {e["id"] for e in before["describe"]["pages"][0]["elements"]} == {"r1", "t1", "m3"}

    # A picture within the limit is kept.
    ok_pic = picture("f1", png(40, 30))
    assert (await host.change(lambda p: p.files.__setitem__("f1", ok_pic)))["ok"] is True
    assert (await host.draw(el("i1", "image", fileId="f1", width=40, height=30)))["ok"] is True
    before = await stored(server, host.doc_id)
    assert before["files"] == ["f1"]

    # Bad input: typed errors, the stored board unchanged. (The sender's copy has the rejected
    # change applied locally: like the browser, it opens the board afresh after each.)
    too_big = picture("f2", b"\x89PNG\r\n\x1a\n" + os.urandom(board.MAX_IMAGE_BYTES + 10))
    bad_cases: list[tuple[Callable[[BoardPeer], Any], str]] = [
        (lambda p: p.files.__setitem__("f2", too_big), "board_image_too_large"),
        (lambda p: p.files.__setitem__("f3", picture("f3", b"<html>not a png</html>")), "board_image_malformed"),
        (lambda p: p.files.__setitem__("f4", {**ok_pic, "id": "f4", "dataURL": "data:text/html,<b>x"}), "board_image_malformed"),
        (lambda p: p.files.__setitem__("f1", picture("f1", png(41, 30))), "board_image_malformed"),  # rewrite
        (lambda p: p.files.__setitem__("f5", picture("f5", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)), "board_image_malformed"),
        (lambda p: p.files.__setitem__("f6", picture("f6", png(5000, 4000))), "board_image_malformed"),  # unpacks huge
        (lambda p: p.elements.__setitem__("x1", "not an element"), "board_element_malformed"),
        (lambda p: p.elements.__setitem__("x2", el("x3", "rectangle")), "board_element_malformed"),
        (lambda p: p.elements.__setitem__("x4", el("x4", "script")), "board_element_malformed"),
        (lambda p: p.pages.__setitem__("1", {"title": "", "order": 0}), "board_element_malformed"),
    ]  # fmt: skip
    for change, code in bad_cases:
        ack = await host.change(change)
        assert ack["ok"] is False and ack["error"]["code"] == code, (code, ack)
        assert ack["error"]["message"]  # a readable message from the catalogue
        assert await stored(server, host.doc_id) == before
        await host.open()
    # Larger than a board update may be (but still one Socket.IO message): refused, typed.
    # (The member sends it: the methodist has used up the ten bad messages a minute allowed.)
    huge = el("h1", "text", text="я" * 10)
    huge["customData"] = {"blob": "x" * (board.MAX_UPDATE_BYTES + 20_000)}
    ack = await member.draw(huge)
    assert ack["error"]["code"] == "doc_update_too_large"
    assert await stored(server, host.doc_id) == before
    await member.open()
    # A text document keeps its own, smaller limit.
    notes_id = next(d["id"] for d in listed if d["kind"] == "notes")
    head, _ = await cast.joined("mo_head")
    text_peer = BoardPeer(head, notes_id)
    await text_peer.open()
    ack = await text_peer.draw(el("big", "text", text="ы" * 40_000))
    assert ack["error"]["code"] == "doc_update_too_large"
    # The board still works for everyone.
    await host.open()
    assert (await host.draw(el("r9", "rectangle", x=300)))["ok"] is True
    await wait_for(lambda: "r9" in member.elements, 10, what="drawing goes on after the errors")


def web(cast: Cast, role: str) -> WebClient:
    c = WebClient(base_url=cast.url, follow_redirects=False, timeout=30)
    c.cookies.set("smo_session", user_cookie(cast.secret, cast.ids[role]))
    return c


async def test_board_snapshots_exports_page_and_protocol(server: LiveServer, cast: Cast) -> None:
    host, _ = await board_peer(cast, "methodist")
    c = host.client
    await c.ok("meeting.start")
    listed = (await c.ok("doc.list"))["documents"]
    item_id = next(d["agenda_item_id"] for d in listed if d["kind"] == "decision")
    await c.ok("agenda.start", {"item_id": item_id})
    stroke = el(
        "s1", "freedraw", x=0, y=0, points=[[0, 0], [30, 40], [80, 10], [120, 60]], strokeColor="#e03131"
    )
    arrow = el("a1", "arrow", x=0, y=150, points=[[0, 0], [150, 0]], endArrowhead="arrow")
    note = el("n1", "rectangle", x=200, y=0, backgroundColor="#ffec99")
    words = el("t1", "text", x=210, y=10, text="План <script>alert(1)</script>\nи задачи", fontSize=20)
    assert (await host.draw(stroke, arrow, note, words))["ok"] is True

    def second_page(p: BoardPeer) -> None:
        p.pages["p2"] = {"title": "Страница 2", "order": 2}
        p.files["fx"] = picture("fx", png(60, 20, (0, 90, 200)))
        p.elements["e2"] = el("e2", "ellipse", page="p2", x=0, y=0)
        formula = el("i2", "image", page="p2", x=0, y=120, width=60, height=20, fileId="fx")
        p.elements["i2"] = formula | {"customData": {"tex": "\\frac{a}{b}"}}

    assert (await host.change(second_page))["ok"] is True
    await c.ok("agenda.end")
    snap = await c.wait_event(lambda e: e["type"] == "doc.snapshot" and e["payload"]["doc_id"] == host.doc_id)
    payload = snap["payload"]
    assert payload["kind"] == "board" and payload["reason"] == "agenda_item_ended"
    pages = payload["board"]["pages"]
    assert [p["title"] for p in pages] == ["Страница 1", "Страница 2"]
    assert {e["id"] for e in pages[0]["elements"]} == {"s1", "a1", "n1", "t1"}
    assert {e["id"] for e in pages[1]["elements"]} == {"e2", "i2"}
    assert "dataURL" not in str(payload)  # pictures stay in the board's storage
    assert "формула: \\frac{a}{b}" in payload["text"] and "и задачи" in payload["text"]

    # A stroke deleted (Excalidraw keeps it as deleted) leaves the final pages.
    assert (await host.draw(stroke | {"isDeleted": True, "version": 2}))["ok"] is True
    await c.ok("meeting.end")
    final = await c.wait_event(
        lambda e: (
            e["type"] == "doc.snapshot"
            and e["payload"]["doc_id"] == host.doc_id
            and e["payload"]["reason"] == "meeting_ended"
        )
    )
    assert {e["id"] for e in final["payload"]["board"]["pages"][0]["elements"]} == {"a1", "n1", "t1"}
    assert (await host.draw(el("late", "rectangle")))["error"]["code"] == "doc_read_only"

    base = f"/meetings/{cast.meeting.id}/documents/{host.doc_id}"
    async with web(cast, "member") as member:
        page = await member.get(f"/meetings/{cast.meeting.id}/documents")
        svg1 = await member.get(f"{base}/board/1.svg")
        png2 = await member.get(f"{base}/board/2.png")
        pdf = await member.get(f"{base}/board.pdf")
        missing = await member.get(f"{base}/board/3.svg")
    async with web(cast, "outsider") as outsider:
        refused = await outsider.get(f"{base}/board/1.svg")
    assert page.status_code == 200
    assert f'src="{base}/board/1.svg"' in page.text and f'src="{base}/board/2.svg"' in page.text
    assert svg1.status_code == 200 and svg1.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in svg1.headers["content-security-policy"]
    tree = ET.fromstring(svg1.text)  # well-formed: every text escaped
    texts = ["".join(t.itertext()) for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["План <script>alert(1)</script>и задачи"]
    assert "<script>" not in svg1.text
    assert len(list(tree.iter("{http://www.w3.org/2000/svg}polygon"))) == 1  # the sticky note
    assert png2.status_code == 200 and png2.content.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png2.content)).convert("RGB")
    assert (0, 90, 200) in {color for _, color in image.getcolors(maxcolors=1_000_000) or []}  # the picture
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2
    assert "и задачи" in reader.pages[0].extract_text()
    assert missing.status_code == 404 and refused.status_code in (403, 404)

    # The protocol: the final pages as an attachment with pictures.
    async with server.runtime.db.transaction() as s:
        row = await assemble_draft(s, cast.meeting.id)
        assert row is not None
        meeting = await s.get(Meeting, cast.meeting.id)
        assert meeting is not None
        model = await current_model(s, row, meeting)
    assert "Итоговые страницы доски «Доска»" in row.text
    blocks = protocol_blocks(model)
    images = [b for b in blocks if b.kind == "image"]
    assert [b.text for b in images] == ["Страница 1", "Страница 2"]
    formula_page = Image.open(io.BytesIO(images[1].image)).convert("RGB")
    assert (0, 90, 200) in {color for _, color in formula_page.getcolors(maxcolors=1_000_000) or []}
    assert render_pdf(model).startswith(b"%PDF")
