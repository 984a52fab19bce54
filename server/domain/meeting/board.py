"""The whiteboard («Доска»): a meeting document of kind ``board``.

It is stored, synchronised, limited and snapshotted like the text documents
(server/domain/meeting/documents.py, realtime/docs/); only its Yjs content differs. The board's
Yjs document holds three root maps, written by the browser's Excalidraw binding
(static/js/room/board.js):

- ``elements``: element id -> the Excalidraw element's JSON (with its ``version`` and
  ``versionNonce``; the browsers reconcile by them) plus ``page``, the id of its page;
- ``pages``: page id -> {title, order}; the first page (``"1"``) exists without an entry;
- ``files``: file id -> {id, mimeType, dataURL, created}: the pictures (images and formulas),
  immutable once written.

Every update is applied to the room's shadow copy through :func:`checked_apply`, which
inspects what it changed in these maps: an element that is not an element, a picture that is
not a PNG/JPEG/GIF/WebP/SVG data URL (or whose header is unreadable), larger than
:data:`MAX_IMAGE_BYTES` or :data:`MAX_IMAGE_PIXELS` or rewriting an existing picture gets a
typed error and the board stays as it was.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from pycrdt import Doc, Map

from server.errors import AppError

ELEMENTS, PAGES, FILES = "elements", "pages", "files"
FIRST_PAGE = "1"
BOARD_TITLE = "Доска"

# Setting-like limits (bytes). A Socket.IO message is at most 1 000 000 bytes
# (realtime/server.py) and carries the update in base64: 640 KiB of update is ~ 874 000 chars.
MAX_UPDATE_BYTES = 640 * 1024
MAX_BOARD_BYTES = 8 * 1024 * 1024
MAX_IMAGE_BYTES = 384 * 1024  # one picture, decoded
MAX_IMAGE_PIXELS = 4096 * 4096  # and its size once drawn (a small file can unpack huge)
MAX_POINTS = 20_000
MAX_TEXT = 20_000
MAX_PAGES = 50

ELEMENT_TYPES = frozenset(
    {
        "rectangle", "diamond", "ellipse", "arrow", "line", "freedraw", "text", "image",
        "frame", "magicframe", "embeddable", "iframe", "selection",
    }
)  # fmt: skip
IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "image/svg+xml": (),
}
_DATA_URL = re.compile(r"data:(image/(?:png|jpeg|gif|webp|svg\+xml));base64,([A-Za-z0-9+/]*={0,2})\Z")
_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")


class BoardElementMalformed(AppError):
    code, status = "board_element_malformed", 400


class BoardImageMalformed(AppError):
    code, status = "board_image_malformed", 400


class BoardImageTooLarge(AppError):
    code, status = "board_image_too_large", 413


BAD_INPUT = (BoardElementMalformed, BoardImageMalformed, BoardImageTooLarge)


# --- checking what an update changes ----------------------------------------------------------
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e7


def check_element(key: str, value: Any) -> None:
    if not isinstance(value, dict) or not _ID.match(key) or value.get("id") != key:
        raise BoardElementMalformed()
    if value.get("type") not in ELEMENT_TYPES or not _number(value.get("version")):
        raise BoardElementMalformed()
    if not isinstance(value.get("page", FIRST_PAGE), str):
        raise BoardElementMalformed()
    for name in ("x", "y", "width", "height"):
        if name in value and not _number(value[name]):
            raise BoardElementMalformed()
    points = value.get("points")
    if points is not None and (not isinstance(points, list) or len(points) > MAX_POINTS):
        raise BoardElementMalformed()
    text = value.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise BoardElementMalformed()


def image_bytes(data_url: Any) -> tuple[str, bytes]:
    """The MIME type and bytes of a picture's data URL, or a typed error."""
    if not isinstance(data_url, str):
        raise BoardImageMalformed()
    if len(data_url) > MAX_IMAGE_BYTES * 4 // 3 + 64:
        raise BoardImageTooLarge(limit=MAX_IMAGE_BYTES)
    match = _DATA_URL.match(data_url)
    if match is None:
        raise BoardImageMalformed()
    try:
        raw = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise BoardImageMalformed() from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise BoardImageTooLarge(limit=MAX_IMAGE_BYTES)
    mime = match.group(1)
    magic = IMAGE_MAGIC[mime]
    if magic and not any(raw.startswith(m) for m in magic):
        raise BoardImageMalformed()
    if mime == "image/svg+xml":
        if b"<svg" not in raw[:4096]:
            raise BoardImageMalformed()
    elif not 0 < raster_pixels(raw) <= MAX_IMAGE_PIXELS:
        raise BoardImageMalformed()
    return mime, raw


def raster_pixels(raw: bytes) -> int:
    """Width x height from the picture's header (nothing is decoded), 0 if unreadable."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 0
    return width * height


def check_file(key: str, value: Any, action: str) -> None:
    if action != "add" or not isinstance(value, dict) or not _ID.match(key) or value.get("id") != key:
        raise BoardImageMalformed()  # pictures are written once and never changed
    mime, _ = image_bytes(value.get("dataURL"))
    if value.get("mimeType") != mime:
        raise BoardImageMalformed()


def check_page(key: str, value: Any, action: str) -> None:
    if action == "delete":
        return
    if not isinstance(value, dict) or not _ID.match(key) or key == FIRST_PAGE:
        raise BoardElementMalformed()
    title = value.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= 100 or not _number(value.get("order", 0)):
        raise BoardElementMalformed()


@dataclass
class _Changes:
    items: list[tuple[str, str, str, Any]] = field(default_factory=list)  # (map, key, action, value)

    def collect(self, name: str) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            for key, change in event.keys.items():
                self.items.append((name, key, change.get("action", ""), change.get("newValue")))

        return on_event


def checked_apply(doc: Doc, update: bytes, apply: Callable[[Doc, bytes], None]) -> None:
    """``apply(doc, update)``, then refuse it (typed) if it wrote anything that is not a board.
    ``doc`` is a shadow copy: on an error the caller throws it away, so nothing is kept."""
    changes = _Changes()
    maps = {name: doc.get(name, type=Map) for name in (ELEMENTS, PAGES, FILES)}
    subs = [(m, m.observe(changes.collect(name))) for name, m in maps.items()]
    try:
        apply(doc, update)
    finally:
        for m, sub in subs:
            m.unobserve(sub)
    for name, key, action, value in changes.items:
        if name == FILES:
            check_file(key, value, action)
        elif name == PAGES:
            check_page(key, value, action)
        elif action != "delete":
            check_element(key, value)
    if len(maps[PAGES]) > MAX_PAGES:
        raise BoardElementMalformed()


# --- reading a board --------------------------------------------------------------------------
@dataclass
class Page:
    id: str
    title: str
    elements: list[dict[str, Any]]


# The element fields a drawing needs: the snapshot keeps these, the renderers read them.
KEPT = (
    "id", "type", "x", "y", "width", "height", "angle", "strokeColor", "backgroundColor",
    "fillStyle", "strokeWidth", "strokeStyle", "opacity", "points", "text", "fontSize",
    "fontFamily", "textAlign", "verticalAlign", "fileId", "containerId", "index", "roundness",
    "startArrowhead", "endArrowhead", "link", "customData",
)  # fmt: skip


def _plain(value: Any) -> Any:
    """pycrdt values as plain JSON (numbers stay numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def read_pages(doc: Doc) -> list[Page]:
    """The board's pages in order, each with its visible elements in drawing order."""
    titles: dict[str, tuple[float, str]] = {FIRST_PAGE: (float("-inf"), "Страница 1")}
    for key, value in doc.get(PAGES, type=Map).items():
        if isinstance(value, dict) and isinstance(value.get("title"), str):
            order = value.get("order", 0)
            titles[str(key)] = (float(order) if _number(order) else 0.0, value["title"])
    pages = {
        pid: Page(pid, title, [])
        for pid, (_, title) in sorted(titles.items(), key=lambda kv: (kv[1][0], kv[0]))
    }
    for key, value in doc.get(ELEMENTS, type=Map).items():
        if not isinstance(value, dict) or value.get("isDeleted") or value.get("type") not in ELEMENT_TYPES:
            continue
        element = {k: _plain(value[k]) for k in KEPT if k in value}
        element["id"] = str(key)
        page = value.get("page")
        pages[page if isinstance(page, str) and page in pages else FIRST_PAGE].elements.append(element)
    for page in pages.values():
        page.elements.sort(key=lambda e: (str(e.get("index") or ""), e["id"]))
    return list(pages.values())


def read_files(doc: Doc) -> dict[str, str]:
    """file id -> data URL of every stored picture."""
    out: dict[str, str] = {}
    for key, value in doc.get(FILES, type=Map).items():
        if isinstance(value, dict) and isinstance(value.get("dataURL"), str):
            out[str(key)] = value["dataURL"]
    return out


def describe(doc: Doc) -> dict[str, Any]:
    """The JSON description of a board kept in its ``doc.snapshot`` events: every page with its
    elements (pictures by file id; the pictures themselves stay in the board's storage, where
    they never change)."""
    return {"pages": [{"id": p.id, "title": p.title, "elements": p.elements} for p in read_pages(doc)]}


def pages_of(description: dict[str, Any]) -> list[Page]:
    """The pages of a snapshot's description (tolerant of anything malformed in it)."""
    out: list[Page] = []
    for raw in description.get("pages") or []:
        if isinstance(raw, dict):
            elements = [e for e in raw.get("elements") or [] if isinstance(e, dict)]
            out.append(Page(str(raw.get("id", "")), str(raw.get("title", "")), elements))
    return out


def summary(description: dict[str, Any]) -> str:
    """A short text of a board for the record: its pages and what is written on them."""
    lines: list[str] = []
    for page in pages_of(description):
        texts = [
            " ".join(str(e["text"]).split())
            for e in page.elements
            if e.get("type") == "text" and isinstance(e.get("text"), str) and e["text"].strip()
        ]
        formulas = [
            str(e["customData"]["tex"])
            for e in page.elements
            if isinstance(e.get("customData"), dict) and isinstance(e["customData"].get("tex"), str)
        ]
        lines.append(f"{page.title}: элементов — {len(page.elements)}")
        lines += [f"— {t}" for t in texts]
        lines += [f"— формула: {f}" for f in formulas]
    return "\n".join(lines)


def is_empty(description: dict[str, Any]) -> bool:
    return not any(p.elements for p in pages_of(description))
