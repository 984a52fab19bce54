"""A board («Доска») in the protocol: its final pages as pictures in an attachment.

The board's ``doc.snapshot`` event describes its pages (elements only); the pictures on them
(images, formulas) stay in the board's storage, where a picture never changes once written
(server/domain/meeting/board.py). :func:`with_board_pictures` fills them in after the protocol
is assembled from the log; :func:`board_blocks` lays the pages out as PNG image blocks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.meeting import board, documents
from server.domain.meeting.board_render import page_png
from server.domain.protocol.model import Protocol, SharedDocument


async def with_board_pictures(session: AsyncSession, protocol: Protocol) -> Protocol:
    """The protocol with every board's pictures read from storage."""
    if not any(d.board is not None for d in protocol.documents):
        return protocol
    out: list[SharedDocument] = []
    for d in protocol.documents:
        if d.board is not None:
            wanted = {
                str(e.get("fileId"))
                for p in board.pages_of(d.board)
                for e in p.elements
                if e.get("type") == "image"
            }
            ydoc, _ = await documents.load_doc(session, d.doc_id)
            files = {k: v for k, v in board.read_files(ydoc).items() if k in wanted}
            d = dataclasses.replace(d, files=files)
        out.append(d)
    return dataclasses.replace(protocol, documents=tuple(out))


_CACHE: OrderedDict[str, bytes] = OrderedDict()  # fingerprint -> PNG (re-renders are frequent)
CACHE_SIZE = 32


def _png(page: board.Page, files: dict[str, str]) -> bytes:
    data = json.dumps([dataclasses.asdict(page), files], sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(data.encode()).hexdigest()
    png = _CACHE.get(key)
    if png is None:
        png = _CACHE[key] = page_png(page, files)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return png


def page_pictures(doc: SharedDocument) -> list[tuple[str, bytes]]:
    """(page title, PNG) of each page of a board that has anything on it."""
    out: list[tuple[str, bytes]] = []
    files = doc.files or {}
    for page in board.pages_of(doc.board or {}):
        if page.elements:
            used = {str(e.get("fileId")) for e in page.elements if e.get("type") == "image"}
            out.append((page.title, _png(page, {k: v for k, v in files.items() if k in used})))
    return out
