"""The PDF rendering (ReportLab): A4, margins 20/10/20/20 mm (left/right/top/bottom),
Times-metric serif 14 pt (Liberation Serif, else DejaVu Serif), the same blocks and layout as
the HTML and DOCX renderings. All text is XML-escaped for ReportLab's paragraph mini-markup,
so edits and chat messages are never interpreted.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from server.domain.protocol.layout import Block

SIGN_LINE = "____________"
FONT_SIZE = 14
TABLE_FONT_SIZE = 11
_FONT_CANDIDATES = (
    (
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    ),
)
REGULAR, BOLD = "ProtocolSerif", "ProtocolSerif-Bold"
# Column shares of the attendance table: №, name, organisation, intervals, total, counted.
ATTENDANCE_SHARES = (0.06, 0.28, 0.25, 0.19, 0.13, 0.09)
CELL_PADDING = 6.0  # left + right, points


@functools.cache
def _fonts() -> tuple[str, str]:
    """Register the serif pair once per process; the TTF files come from Debian font packages."""
    for regular, bold in _FONT_CANDIDATES:
        if Path(regular).is_file() and Path(bold).is_file():
            pdfmetrics.registerFont(TTFont(REGULAR, regular))
            pdfmetrics.registerFont(TTFont(BOLD, bold))
            pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
            return REGULAR, BOLD
    raise RuntimeError("no Cyrillic serif TTF font: install fonts-liberation or fonts-dejavu-core")


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=FONT_SIZE, leading=FONT_SIZE * 1.25)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=TABLE_FONT_SIZE, leading=TABLE_FONT_SIZE * 1.2)
    return {
        "body": body,
        "bold": ParagraphStyle("bold", parent=body, fontName=bold),
        "heading": ParagraphStyle("heading", parent=body, fontName=bold, alignment=TA_CENTER),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "cell": cell,
        "head": ParagraphStyle("head", parent=cell, fontName=bold),
    }


def _p(text: str, style: str) -> Paragraph:
    return Paragraph(escape(text), _styles()[style])


_PLAIN = TableStyle(
    [
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
_SIGNATURES = TableStyle(
    [
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 14),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
    ]
)
_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.75, colors.black),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def column_widths(
    rows: Sequence[Sequence[str]], width: float, font_size: float = TABLE_FONT_SIZE
) -> list[float]:
    """Column widths (points) that never break a word: each column is at least as wide as its
    longest word (header in bold), the rest of the width shared out by the preferred shares."""
    regular, bold = _fonts()
    head = rows[0]
    n = len(head)
    shares = ATTENDANCE_SHARES if n == len(ATTENDANCE_SHARES) else (1 / n,) * n
    need = []
    for col in range(n):
        words = [(w, bold) for w in str(head[col]).split()]
        words += [(w, regular) for r in rows[1:] if col < len(r) for w in str(r[col]).split()]
        longest = max((pdfmetrics.stringWidth(w, f, font_size) for w, f in words), default=0.0)
        # a "word" wider than half the page (a pasted URL, garbage) is broken by the paragraph
        need.append(min(longest + CELL_PADDING + 1, width / 2))
    widths = [max(s * width, m) for s, m in zip(shares, need, strict=True)]
    excess = sum(widths) - width
    while excess > 0.5:  # take the excess back from the columns with room to spare
        spare = [w - m for w, m in zip(widths, need, strict=True)]
        room = sum(x for x in spare if x > 0)
        if room <= 0:
            break  # even the words alone do not fit: keep them whole, the table overflows less
        cut = min(excess, room)
        widths = [w - (cut * x / room if x > 0 else 0) for w, x in zip(widths, spare, strict=True)]
        excess -= cut
    return widths


def _grid(rows: Sequence[Sequence[str]], width: float) -> Table:
    head, *body = rows
    data = [[_p(c, "head") for c in head]] + [[_p(c, "cell") for c in r] for r in body]
    return Table(data, colWidths=column_widths(rows, width), repeatRows=1, splitInRow=1, style=_GRID)


def build_pdf(blocks: Sequence[Block], *, title: str = "Протокол") -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=10 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        lang="ru",
    )
    width = doc.width
    story: list[Flowable] = []
    signatures: list[Block] = []

    def flush_signatures() -> None:
        if signatures:
            rows = [[_p(s.text, "body"), _p(SIGN_LINE, "body"), _p(s.right, "body")] for s in signatures]
            table = Table(
                rows, colWidths=[0.3 * width, 0.25 * width, 0.45 * width], style=_SIGNATURES, splitInRow=1
            )
            # The signatures never stand alone on a page: they keep with the paragraph before them.
            tail: list[Flowable] = []
            while story and isinstance(story[-1], Spacer):
                tail.insert(0, story.pop())
            if story and not isinstance(story[-1], PageBreak):
                tail.insert(0, story.pop())
            story.append(KeepTogether([*tail, table]))
            signatures.clear()

    for b in blocks:
        if b.kind == "signature":  # consecutive signatures share one table
            signatures.append(b)
            continue
        flush_signatures()
        if b.kind == "gap":
            story.append(Spacer(1, FONT_SIZE * 0.8))
        elif b.kind == "break":
            story.append(PageBreak())
        elif b.kind == "heading":
            story.append(_p(b.text, "heading"))
        elif b.kind == "requisites":
            row = [[_p(b.text, "body"), _p(b.right, "right")]]
            story.append(Table(row, colWidths=[width / 2, width / 2], style=_PLAIN, splitInRow=1))
        elif b.kind == "attachment_mark":
            markup = f"{escape(b.text)}<br/>{escape(b.right)}"
            story.append(Paragraph(markup, _styles()["right"]))
        elif b.kind == "table":
            story.append(_grid(b.rows, width))
        elif b.kind == "image":
            reader = ImageReader(io.BytesIO(b.image))
            w_px, h_px = reader.getSize()
            w = min(b.width_mm * mm, width)
            story.append(Image(io.BytesIO(b.image), width=w, height=w * h_px / max(w_px, 1)))
            if b.text:
                story.append(_p(b.text, "cell"))
        else:
            story.append(_p(b.text, "bold" if b.bold else "body"))
    flush_signatures()
    doc.build(story)
    return buffer.getvalue()
