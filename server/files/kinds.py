"""What a file is, decided from its first bytes (never from the name or the browser's claim)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileKind:
    name: str  # short code: "pdf", "docx", ...
    content_type: str
    extension: str


PDF = FileKind("pdf", "application/pdf", ".pdf")
DOCX = FileKind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = FileKind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
PPTX = FileKind("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx")
ODT = FileKind("odt", "application/vnd.oasis.opendocument.text", ".odt")
ODS = FileKind("ods", "application/vnd.oasis.opendocument.spreadsheet", ".ods")
ODP = FileKind("odp", "application/vnd.oasis.opendocument.presentation", ".odp")
ZIP = FileKind("zip", "application/zip", ".zip")
PNG = FileKind("png", "image/png", ".png")
JPEG = FileKind("jpeg", "image/jpeg", ".jpg")
GIF = FileKind("gif", "image/gif", ".gif")
WEBP = FileKind("webp", "image/webp", ".webp")
MP4 = FileKind("mp4", "video/mp4", ".mp4")
MP3 = FileKind("mp3", "audio/mpeg", ".mp3")
TEXT = FileKind("text", "text/plain; charset=utf-8", ".txt")

IMAGES = frozenset({PNG, JPEG, GIF, WEBP})
# What teachers share: documents, presentations, spreadsheets, images, audio/video, archives.
DOCUMENTS = frozenset({PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP, ZIP, PNG, JPEG, GIF, WEBP, MP4, MP3, TEXT})

_OOXML = {"word/": DOCX, "xl/": XLSX, "ppt/": PPTX}
_ODF = {
    b"application/vnd.oasis.opendocument.text": ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": ODS,
    b"application/vnd.oasis.opendocument.presentation": ODP,
}


# Zip bombs: sniffing reads at most MIMETYPE_MAX bytes of one member, and an archive whose
# members claim to inflate past these bounds is refused (no document we accept does).
MIMETYPE_MAX = 128
MAX_ENTRIES = 20_000
MAX_INFLATED = 2 * 1024**3  # all members together
MAX_RATIO = 200  # a member's inflated / compressed size, for members over RATIO_FROM bytes
RATIO_FROM = 16 * 1024 * 1024


def _bomb(infos: list[zipfile.ZipInfo]) -> bool:
    if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_INFLATED:
        return True
    return any(i.file_size > RATIO_FROM and i.file_size > MAX_RATIO * max(i.compress_size, 1) for i in infos)


def _zip_kind(data: bytes) -> FileKind | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if _bomb(infos):
                return None
            names = [i.filename for i in infos]
            if "mimetype" in names:
                info = z.getinfo("mimetype")
                if info.file_size <= MIMETYPE_MAX:
                    with z.open(info) as member:  # bounded: the declared size may lie
                        kind = _ODF.get(member.read(MIMETYPE_MAX).strip())
                    if kind:
                        return kind
            if "[Content_Types].xml" in names:
                for prefix, kind in _OOXML.items():
                    if any(n.startswith(prefix) for n in names):
                        return kind
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        KeyError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ):
        return None
    return ZIP


def _is_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sample's end is still text.
        return exc.start >= len(data[:65536]) - 3
    return True


def sniff(data: bytes) -> FileKind | None:
    """The file's kind from its content, or None when it is none we know."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp":
        return MP4
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MP3
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if _is_text(data):
        return TEXT
    return None
