"""The HTML, DOCX and PDF renderings say exactly what the text rendering says."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pypdf
import pytest
from docx import Document
from docx.shared import Mm, Pt

from server.domain.protocol import assemble_protocol, render_docx, render_html, render_pdf, render_text
from server.domain.protocol.layout import Block
from server.domain.protocol.model import Protocol
from tests.support.logs import LogBuilder, meeting_info
from tests.test_protocol_golden import SCENARIOS

MARKUP = '<b>жирный</b> & <script>alert("x")</script>'
EDITS = {"item.101.summary": "Итоги диагностики " + MARKUP, "decision.2.responsible": "Б.П. Белов"}


def _words(text: str) -> list[str]:
    text = text.replace("____________", " ").replace("|", " ")
    return re.findall(r"\S+", text)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.skip = tag in ("style", "title")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.skip = False
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    parts = []
    for child in document.element.body.iterchildren():
        parts.append(" ".join(t.text or "" for t in child.iter() if t.tag.endswith("}t")))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    info, events, form = SCENARIOS["quorum"]()
    return assemble_protocol(info, events, form=form, edits=EDITS)


def test_html_has_the_text_content_and_escapes_edits(protocol: Protocol) -> None:
    html = render_html(protocol)
    assert "<script>" not in html and "<b>жирный" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    parser = _Text()
    parser.feed(html)
    assert _words("".join(parser.parts)) == _words(render_text(protocol))
    fragment = render_html(protocol, document=False)
    assert fragment.startswith('<div class="protocol">') and "<html" not in fragment


def test_docx_reads_back_with_the_same_content_and_page_setup(protocol: Protocol) -> None:
    data = render_docx(protocol)
    assert _words(_docx_text(data)) == _words(render_text(protocol))
    document = Document(io.BytesIO(data))
    section = document.sections[0]
    measured = (section.page_width, section.page_height, section.left_margin, section.right_margin)
    measured += (section.top_margin, section.bottom_margin)
    expected = (Mm(210), Mm(297), Mm(20), Mm(10), Mm(20), Mm(20))
    assert all(abs((m or 0) - e) < Mm(0.1) for m, e in zip(measured, expected, strict=True))
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(14)
    centred = [p.text for p in document.paragraphs if p.alignment is not None and p.alignment == 1]
    assert "ПРОТОКОЛ" in centred and "СПИСОК ПРИСУТСТВУЮЩИХ" in centred
    assert MARKUP in _docx_text(data)


def test_pdf_text_has_the_same_content_in_cyrillic(protocol: Protocol) -> None:
    data = render_pdf(protocol)
    reader = pypdf.PdfReader(io.BytesIO(data))
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "ПРОТОКОЛ" in text and "СЛУШАЛИ" in text
    # Lines may wrap anywhere (even inside «</script>»): compare with the whitespace removed.
    assert "".join(_words(text)) == "".join(_words(render_text(protocol)))
    assert "".join(MARKUP.split()) in "".join(text.split())
    # Margins 20 mm left/top/bottom: every line starts inside them, the body at the left one.
    starts: list[tuple[float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            matrix = pypdf.mult(tm, cm)
            starts.append((matrix[4], matrix[5]))

    for page in reader.pages:
        page.extract_text(visitor_text=visit)
    margin = 20 * 72 / 25.4
    assert abs(min(x for x, _ in starts) - margin) < 0.5
    assert all(x < 595 - 10 * 72 / 25.4 and margin <= y <= 842 - margin for x, y in starts)
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = {str(fonts[key].get_object()["/BaseFont"]).split("+")[-1] for key in fonts}
    assert embedded & {"LiberationSerif", "DejaVuSerif"}  # a Cyrillic serif TTF is embedded


@pytest.mark.parametrize("name", ["nobody", "bad_log", "unanimous_short", "guest"])
def test_every_rendering_works_on_odd_protocols(name: str) -> None:
    info, events, form = SCENARIOS[name]()
    protocol = assemble_protocol(info, events, form=form)
    words = _words(render_text(protocol))
    assert _words(_docx_text(render_docx(protocol))) == words
    parser = _Text()
    parser.feed(render_html(protocol))
    assert _words("".join(parser.parts)) == words


def test_control_characters_in_chat_do_not_break_docx_or_pdf() -> None:
    info = meeting_info(2)
    b = LogBuilder().begin()
    for x in info.members:
        b.join(x)
    b.at(1).chat(info.members[1], "строка\x0bс\x00управляющими\nсимволами").at(5).end()
    protocol = assemble_protocol(info, b.events, form="short")
    assert "строкасуправляющими" in _docx_text(render_docx(protocol))
    assert b"%PDF" in render_pdf(protocol)[:8]


def test_pdf_survives_cells_and_words_longer_than_a_page() -> None:
    huge = "Ы" * 6000
    header = ("№", "Фамилия, имя, отчество", "Организация", "Подключение", "Отключение", "Время", "Учтён")
    blocks = [
        Block("text", huge),
        Block("requisites", huge, right=huge),
        Block("table", rows=(header, ("1", huge, "орг " * 800, "—", "—", "0 мин.", "нет"))),
        Block("signature", "Председатель", right=huge),
    ]
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(blocks)))  # no LayoutError: rows split
    text = "".join("".join(page.extract_text() for page in reader.pages).split())
    assert len(reader.pages) > 1 and text.count("Ы") == 5 * len(huge)  # nothing lost


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_pdf_signatures_keep_with_the_text_and_headers_keep_their_words(name: str) -> None:
    """Every golden scenario: the page with the signatures also has the «Приложения» line; the
    attendance table's header words are whole (no «Подключе|ние»)."""
    info, events, form = SCENARIOS[name]()
    pages = _pages(render_pdf(assemble_protocol(info, events, form=form)))
    signed = [n for n, text in enumerate(pages) if "Секретарь ____________" in text.replace("\n", " ")]
    assert len(signed) == 1 and "Приложения:" in pages[signed[0]]
    header = next(text for text in pages if "СПИСОК ПРИСУТСТВУЮЩИХ" in text)
    if "Подключений к заседанию не было." in header:
        return
    words = set(header.split())
    for word in ("Фамилия,", "отчество", "Организация", "Время", "подключения", "Всего", "Учтён"):
        assert word in words, word


@pytest.mark.parametrize("filler", range(30, 46))
def test_pdf_signatures_never_stand_alone_on_a_page(filler: int) -> None:
    """Push the end of the text across the page boundary line by line: at every length the
    signatures share their page with the last paragraph."""
    blocks = [Block("text", f"{n}. Строка текста протокола для заполнения страницы.") for n in range(filler)]
    blocks += [
        Block("text", "Приложения: 1. Список присутствующих."),
        Block("gap"),
        Block("signature", "Председатель", right="А.С. Абрамова"),
        Block("signature", "Секретарь", right="Б.П. Белов"),
    ]
    pages = _pages(render_pdf(blocks))
    last = pages[-1]
    assert "Секретарь" in last and "Председатель" in last and "Приложения:" in last
