"""Renderings of the protocol: plain text, HTML (app page), DOCX, PDF.

All four draw the same blocks (``layout.protocol_blocks``). Every piece of text is escaped
in HTML; DOCX and PDF never interpret text as markup.
"""

from __future__ import annotations

import base64
import io
from html import escape

from server.domain.protocol.layout import Block, protocol_blocks
from server.domain.protocol.model import Protocol
from server.domain.protocol.text import clean_block, printable

REQUISITE_WIDTH = 43
SIGNATURE_WIDTH = 15
SIGN_LINE = "____________"
FONT_STACK = '"Times New Roman", "Liberation Serif", "DejaVu Serif", serif'


def _blocks(p: Protocol | list[Block]) -> list[Block]:
    """The blocks to draw, every text made printable (server/domain/protocol/text.py)."""
    blocks = p if isinstance(p, list) else protocol_blocks(p)
    return [clean_block(b) for b in blocks]


# --- plain text (the golden tests compare this) ----------------------------------------------
def render_text(protocol: Protocol | list[Block]) -> str:
    lines: list[str] = []

    def blank() -> None:
        if lines and lines[-1] != "":
            lines.append("")

    for b in _blocks(protocol):
        if b.kind in ("gap", "break"):
            blank()
        elif b.kind == "requisites":
            lines.append(f"{b.text.ljust(REQUISITE_WIDTH - 1)} {b.right}".rstrip())
        elif b.kind == "signature":
            lines.append(f"{b.text.ljust(SIGNATURE_WIDTH)}{SIGN_LINE}  {b.right}".rstrip())
        elif b.kind == "attachment_mark":
            lines += [b.text, b.right]
        elif b.kind == "table":
            lines += [" | ".join(row) for row in b.rows]
        elif b.kind == "image":
            lines.append(f"[{b.text}]" if b.text else "[…]")
        else:
            lines.append(b.text)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


# --- HTML -------------------------------------------------------------------------------------
CSS = f"""
@page {{ size: A4; margin: 20mm 10mm 20mm 20mm; }}
.protocol {{ font-family: {FONT_STACK}; font-size: 14pt; line-height: 1.25; }}
.protocol p {{ margin: 0; white-space: pre-wrap; }}
.protocol .gap {{ height: 0.8em; }}
.protocol .c {{ text-align: center; font-weight: bold; font-size: 14pt; margin: 0; }}
.protocol .req {{ width: 100%; border-collapse: collapse; }}
.protocol .req td {{ padding: 0; }}
.protocol .req td.r, .protocol .mark {{ text-align: right; }}
.protocol .sig td {{ padding: 0.4em 1em 0 0; }}
.protocol .grid {{ border-collapse: collapse; font-size: 11pt; width: 100%; }}
.protocol .grid td, .protocol .grid th {{ border: 1px solid #000; padding: 2px 4px; vertical-align: top; }}
.protocol .pb {{ break-before: page; }}
.protocol .fig {{ margin: 0.5em 0; text-align: center; }}
.protocol .fig figcaption {{ font-size: 11pt; }}
"""


def render_html(protocol: Protocol | list[Block], *, document: bool = True, title: str = "Протокол") -> str:
    """The protocol as HTML; ``document=False`` gives the fragment for the app page."""
    out = ['<div class="protocol">']
    signatures: list[Block] = []

    def flush_signatures() -> None:
        if signatures:
            rows = "".join(
                f"<tr><td>{escape(s.text)}</td><td>{SIGN_LINE}</td><td>{escape(s.right)}</td></tr>"
                for s in signatures
            )
            out.append(f'<table class="sig">{rows}</table>')
            signatures.clear()

    for b in _blocks(protocol):
        if b.kind == "signature":  # consecutive signatures share one table
            signatures.append(b)
            continue
        flush_signatures()
        if b.kind == "gap":
            out.append('<div class="gap"></div>')
        elif b.kind == "break":
            out.append('<div class="pb"></div>')
        elif b.kind == "heading":
            out.append(f'<h2 class="c">{escape(b.text)}</h2>')
        elif b.kind == "requisites":
            out.append(
                f'<table class="req"><tr><td>{escape(b.text)}</td><td class="r">{escape(b.right)}</td></tr></table>'
            )
        elif b.kind == "attachment_mark":
            out.append(f'<p class="mark">{escape(b.text)}<br>{escape(b.right)}</p>')
        elif b.kind == "image":
            data = base64.b64encode(b.image).decode()
            out.append(
                f'<figure class="fig"><img src="data:image/png;base64,{data}" alt="{escape(b.text)}" '
                f'style="max-width:{b.width_mm:g}mm;width:100%"><figcaption>{escape(b.text)}</figcaption></figure>'
            )
        elif b.kind == "table":
            head, *table_rows = b.rows
            cells = "".join(f"<th>{escape(c)}</th>" for c in head)
            body_html = "".join(
                "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in table_rows
            )
            out.append(
                f'<table class="grid"><thead><tr>{cells}</tr></thead><tbody>{body_html}</tbody></table>'
            )
        else:
            text = f"<b>{escape(b.text)}</b>" if b.bold else escape(b.text)
            out.append(f"<p>{text}</p>")
    flush_signatures()
    out.append("</div>")
    body = "\n".join(out)
    if not document:
        return body
    return (
        f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


# --- PDF (ReportLab) --------------------------------------------------------------------------
def render_pdf(protocol: Protocol | list[Block], *, title: str = "Протокол") -> bytes:
    from server.domain.protocol.pdf_render import build_pdf

    return build_pdf(_blocks(protocol), title=printable(title))


# --- DOCX (python-docx) -----------------------------------------------------------------------
def render_docx(protocol: Protocol | list[Block]) -> bytes:
    from server.domain.protocol.docx_render import build_docx

    buffer = io.BytesIO()
    build_docx(_blocks(protocol)).save(buffer)
    return buffer.getvalue()
