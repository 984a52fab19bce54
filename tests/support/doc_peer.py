"""A shared-document client in Python: a pycrdt Doc synchronised over the room's Socket.IO
connection with the same messages the browser sends (``doc.open`` / ``doc.sync``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from pycrdt import Decoder, Doc, XmlElement, XmlFragment, XmlText, write_message

from server.domain.meeting.doc_text import document_markdown
from tests.support.sio import RoomClient


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sync_msg(kind: int, payload: bytes) -> str:
    return b64(bytes([0, kind]) + write_message(payload))


def parse(data: str) -> tuple[int, bytes]:
    raw = base64.b64decode(data)
    assert raw[0] == 0
    payload = Decoder(raw[2:]).read_message()
    assert payload is not None
    return raw[1], payload


class DocPeer:
    def __init__(self, client: RoomClient, doc_id: int) -> None:
        self.client = client
        self.doc_id = doc_id
        self.doc: Doc = Doc()
        self.fragment = self.doc.get("prosemirror", type=XmlFragment)
        self.received = 0
        self.awareness: list[str] = []
        self.open_ack: dict[str, Any] = {}
        client.sio.on("doc.sync", self._on_sync)
        client.sio.on("doc.awareness", self._on_awareness)

    async def _on_sync(self, data: dict[str, Any]) -> None:
        if data["doc_id"] != self.doc_id:
            return
        kind, payload = parse(data["data"])
        assert kind == 2
        self.doc.apply_update(payload)
        self.received += 1

    async def _on_awareness(self, data: dict[str, Any]) -> None:
        if data["doc_id"] == self.doc_id:
            self.awareness.append(data["data"])

    async def reopen(self) -> dict[str, Any]:
        """Drop the local copy and open afresh (what the browser does after a rejection)."""
        self.doc = Doc()
        self.fragment = self.doc.get("prosemirror", type=XmlFragment)
        return await self.open()

    async def open(self) -> dict[str, Any]:
        ack = await self.client.ok("doc.open", {"doc_id": self.doc_id})
        self.open_ack = ack
        step1, step2 = ack["sync"]
        kind, state = parse(step2)
        assert kind == 1
        self.doc.apply_update(state)
        kind, server_sv = parse(step1)
        assert kind == 0
        # Our step 2: whatever the server lacks (nothing for a fresh doc: an empty update).
        await self.client.ok(
            "doc.sync", {"doc_id": self.doc_id, "data": sync_msg(1, self.doc.get_update(server_sv))}
        )
        return ack

    async def edit(self, change: Callable[[XmlFragment], Any]) -> dict[str, Any]:
        """Apply ``change`` locally and send the resulting update; return the ack."""
        before = self.doc.get_state()
        change(self.fragment)
        update = self.doc.get_update(before)
        return await self.client.emit_ack("doc.sync", {"doc_id": self.doc_id, "data": sync_msg(2, update)})

    async def add_paragraph(self, text: str) -> dict[str, Any]:
        return await self.edit(lambda f: f.children.append(XmlElement("paragraph", contents=[XmlText(text)])))

    def paragraphs(self) -> list[str]:
        out = []
        for child in self.fragment.children:
            if isinstance(child, XmlElement):
                out.append("".join(str(t) for t in child.children))
        return out

    @property
    def markdown(self) -> str:
        return document_markdown(self.doc)
