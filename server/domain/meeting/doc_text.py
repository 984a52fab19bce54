"""Reading a shared document's rich text on the server.

The browser edits with ProseMirror bound to Yjs by y-prosemirror: the document is the
XmlFragment ``prosemirror`` whose elements are the schema's nodes (``paragraph``, ``heading``
with ``level``, ``bullet_list`` / ``ordered_list`` of ``list_item``, ``blockquote``,
``code_block``, ``horizontal_rule``, ``hard_break``) and whose XmlText carries the marks
(``strong``, ``em``, ``code``, ``link`` with ``href``) as formatting attributes. This module
flattens that tree into blocks of formatted runs, the one model behind the Markdown text of
``doc.snapshot`` events and the Markdown and DOCX exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

FRAGMENT = "prosemirror"
Run = tuple[str, dict[str, Any]]  # text, marks (name -> attributes)


@dataclass
class Block:
    kind: str  # heading | paragraph | bullet | ordered | quote | code | rule
    runs: list[Run] = field(default_factory=list)
    level: int = 0  # heading level, or list depth (0 = top)
    number: int = 0  # position in an ordered list

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.runs)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _runs(node: XmlElement) -> list[Run]:
    runs: list[Run] = []
    for child in node.children:
        if isinstance(child, XmlText):
            for value, attrs in child.diff():
                if isinstance(value, str):
                    marks = {str(k).split("--")[0]: (v or {}) for k, v in (attrs or {}).items()}
                    runs.append((value, marks))
        elif isinstance(child, XmlElement):
            if child.tag == "hard_break":
                runs.append(("\n", {}))
            elif child.tag == "image":
                runs.append((str(child.attributes.get("alt") or ""), {}))
            else:
                runs.extend(_runs(child))
    return runs


def _walk(
    node: XmlFragment | XmlElement,
    out: list[Block],
    *,
    list_kind: str = "",
    depth: int = -1,
    quote: bool = False,
) -> None:
    number = 0
    for child in node.children:
        if not isinstance(child, XmlElement):
            if isinstance(child, XmlText) and str(child).strip():
                out.append(Block("paragraph", [(str(child), {})]))
            continue
        tag = child.tag or ""
        if tag == "heading":
            out.append(
                Block("heading", _runs(child), level=max(1, min(6, _int(child.attributes.get("level"), 1))))
            )
        elif tag in ("paragraph", "code_block"):
            kind = "code" if tag == "code_block" else ("quote" if quote else "paragraph")
            out.append(Block(kind, _runs(child)))
        elif tag == "horizontal_rule":
            out.append(Block("rule"))
        elif tag == "blockquote":
            _walk(child, out, list_kind=list_kind, depth=depth, quote=True)
        elif tag in ("bullet_list", "ordered_list"):
            start = _int(child.attributes.get("order"), 1) if tag == "ordered_list" else 1
            _walk_list(child, out, "ordered" if tag == "ordered_list" else "bullet", depth + 1, start)
        elif tag == "list_item":
            number += 1
            _walk_item(child, out, list_kind or "bullet", max(depth, 0), number)
        else:
            _walk(child, out, list_kind=list_kind, depth=depth, quote=quote)


def _walk_list(node: XmlElement, out: list[Block], kind: str, depth: int, start: int) -> None:
    number = start - 1
    for child in node.children:
        if isinstance(child, XmlElement) and child.tag == "list_item":
            number += 1
            _walk_item(child, out, kind, depth, number)


def _walk_item(item: XmlElement, out: list[Block], kind: str, depth: int, number: int) -> None:
    first = True
    for child in item.children:
        if not isinstance(child, XmlElement):
            continue
        if child.tag in ("bullet_list", "ordered_list"):
            start = _int(child.attributes.get("order"), 1) if child.tag == "ordered_list" else 1
            _walk_list(child, out, "ordered" if child.tag == "ordered_list" else "bullet", depth + 1, start)
        elif first:
            out.append(Block(kind, _runs(child), level=depth, number=number))
            first = False
        else:
            out.append(Block("paragraph", _runs(child), level=depth + 1))


def document_blocks(doc: Doc) -> list[Block]:
    out: list[Block] = []
    _walk(doc.get(FRAGMENT, type=XmlFragment), out)
    return out


def _md_escape(text: str) -> str:
    for ch in ("\\", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _md_runs(runs: list[Run]) -> str:
    parts = []
    for text, marks in runs:
        if "code" in marks:
            piece = f"`{text}`"
        else:
            piece = _md_escape(text)
            if "strong" in marks and text.strip():
                piece = f"**{piece}**"
            if "em" in marks and text.strip():
                piece = f"*{piece}*"
        link = marks.get("link")
        if isinstance(link, dict) and link.get("href"):
            piece = f"[{piece}]({link['href']})"
        parts.append(piece)
    return "".join(parts).replace("\n", "  \n")


def blocks_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    prev = ""
    for b in blocks:
        indent = "   " * b.level if b.kind in ("bullet", "ordered", "paragraph") else ""
        if b.kind == "heading":
            line = "#" * b.level + " " + _md_runs(b.runs)
        elif b.kind == "bullet":
            line = f"{indent}- {_md_runs(b.runs)}"
        elif b.kind == "ordered":
            line = f"{indent}{b.number}. {_md_runs(b.runs)}"
        elif b.kind == "quote":
            line = "> " + _md_runs(b.runs)
        elif b.kind == "code":
            line = "```\n" + b.text + "\n```"
        elif b.kind == "rule":
            line = "---"
        else:
            line = indent + _md_runs(b.runs)
        listy = b.kind in ("bullet", "ordered")
        if lines and not (listy and prev in ("bullet", "ordered")):
            lines.append("")
        lines.append(line)
        prev = b.kind
    return "\n".join(lines).strip() + ("\n" if lines else "")


def document_markdown(doc: Doc) -> str:
    """The document as Markdown (the text of ``doc.snapshot`` events and the .md export)."""
    return blocks_markdown(document_blocks(doc))
