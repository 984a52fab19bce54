"""The DOCX rendering: A4, margins 20/10/20/20 mm (left/right/top/bottom, ГОСТ Р 7.0.97-2016),
Times New Roman 14, headings centred, the date and number on the left with the place on the
right of one requisites line, attachments from a new page with their mark at the top right.

Paragraphs and table rows are built as WordprocessingML elements directly: python-docx's
object API costs ~0.3 ms per run, too slow for a 300-row attendance list and 3,000 chat
lines; the document skeleton (styles, page setup, table style) still comes from python-docx.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from server.domain.protocol.layout import Block
from server.domain.protocol.pdf_render import column_widths

FONT = "Times New Roman"
SIGN_LINE = "____________"
TABLE_FONT_HALF_POINTS = 22  # 11 pt
_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _style(document: Any) -> None:
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.line_spacing = 1.0


def _page(document: Any) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(20), Mm(10)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)


def _el(tag: str, **attrs: str) -> Any:
    element = OxmlElement(tag)
    for name, value in attrs.items():
        element.set(qn(f"w:{name}"), value)
    return element


def _run(text: str, *, bold: bool = False, half_points: int | None = None) -> Any:
    run = _el("w:r")
    if bold or half_points:
        props = _el("w:rPr")
        if bold:
            props.append(_el("w:b"))
        if half_points:
            props.append(_el("w:sz", val=str(half_points)))
        run.append(props)
    for n, part in enumerate(text.split("\n")):
        if n:
            run.append(_el("w:br"))
        t = _el("w:t")
        t.set(_SPACE, "preserve")
        t.text = part
        run.append(t)
    return run


def _para(text: str, *, bold: bool = False, align: str | None = None, half_points: int | None = None) -> Any:
    p = _el("w:p")
    if align:
        props = _el("w:pPr")
        props.append(_el("w:jc", val=align))
        p.append(props)
    if text:
        p.append(_run(text, bold=bold, half_points=half_points))
    return p


TEXT_WIDTH_MM = 180  # A4 minus the 20 + 10 mm margins


def _grid(document: Any, rows: Sequence[tuple[str, ...]]) -> None:
    """A bordered table: the header row through python-docx, the body rows as copies of a template.
    Fixed column widths sized so that no word is broken (the PDF's rule, same metrics)."""
    table = document.add_table(rows=1, cols=len(rows[0]))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = column_widths(rows, Mm(TEXT_WIDTH_MM).pt)
    for column, points in zip(table.columns, widths, strict=True):
        column.width = Pt(points)
        for cell in column.cells:
            cell.width = Pt(points)
    header = table.rows[0]._tr
    for cell, value in zip(header.iterchildren(qn("w:tc")), rows[0], strict=True):
        cell.find(qn("w:p")).append(_run(value, bold=True, half_points=TABLE_FONT_HALF_POINTS))
    template = copy.deepcopy(header)
    for cell in template.iterchildren(qn("w:tc")):
        run = cell.find(qn("w:p")).find(qn("w:r"))
        run.find(qn("w:rPr")).remove(run.find(qn("w:rPr")).find(qn("w:b")))
    for values in rows[1:]:
        tr = copy.deepcopy(template)
        for cell, value in zip(tr.iterchildren(qn("w:tc")), values, strict=True):
            cell.find(qn("w:p")).find(qn("w:r")).find(qn("w:t")).text = value
        table._tbl.append(tr)


def _keep_with_next(p: Any) -> None:
    props = p.find(qn("w:pPr"))
    if props is None:
        props = _el("w:pPr")
        p.insert(0, props)
    if props.find(qn("w:keepNext")) is None:
        props.insert(0, _el("w:keepNext"))


def build_docx(blocks: Sequence[Block]) -> Any:
    document = Document()
    _style(document)
    _page(document)
    section_properties = document.element.body.sectPr  # body content goes before it

    def add(p: Any) -> None:
        section_properties.addprevious(p)

    for b in blocks:
        if b.kind == "gap":
            add(_para(""))
        elif b.kind == "break":
            p = _el("w:p")
            run = _el("w:r")
            run.append(_el("w:br", type="page"))
            p.append(run)
            add(p)
        elif b.kind == "heading":
            add(_para(b.text, bold=True, align="center"))
        elif b.kind == "requisites":
            table = document.add_table(rows=1, cols=2)
            left, right = table.rows[0].cells
            left.paragraphs[0]._p.append(_run(b.text))
            right.paragraphs[0]._p.append(_run(b.right))
            right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif b.kind == "signature":
            # The signatures keep with the paragraphs before them (never alone on a page).
            for previous in list(section_properties.itersiblings(preceding=True))[:2]:
                if previous.tag == qn("w:p"):
                    _keep_with_next(previous)
            paragraph = document.add_paragraph()
            paragraph.paragraph_format.keep_with_next = True
            stops = paragraph.paragraph_format.tab_stops
            stops.add_tab_stop(Mm(55), WD_TAB_ALIGNMENT.LEFT)
            stops.add_tab_stop(Mm(180), WD_TAB_ALIGNMENT.RIGHT)
            paragraph.add_run(f"{b.text}\t{SIGN_LINE}\t{b.right}")
        elif b.kind == "attachment_mark":
            add(_para(b.text, align="right"))
            add(_para(b.right, align="right"))
        elif b.kind == "table":
            _grid(document, b.rows)
        elif b.kind == "image":
            document.add_picture(io.BytesIO(b.image), width=Mm(min(b.width_mm, 180)))
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            if b.text:
                add(_para(b.text, align="center", half_points=22))
        else:
            add(_para(b.text, bold=b.bold))
    return document
