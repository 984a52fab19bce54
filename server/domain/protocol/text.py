"""The one text sanitiser of every document renderer (DOCX through python-docx/lxml, PDF
through ReportLab): characters XML 1.0 cannot carry (C0 controls except tab, line feed and
carriage return; DEL and C1 controls; lone surrogates; U+FFFE, U+FFFF) are dropped. Text a
person typed (a regulation, chat, a shared document, a name) may hold any of them."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` without the characters a document format cannot carry."""
    return UNSAFE.sub("", text) if UNSAFE.search(text) else text


def clean_block(block: Any) -> Any:
    """A protocol layout block (``server.domain.protocol.layout.Block``) with its texts made printable."""
    rows = block.rows
    if not (
        UNSAFE.search(block.text)
        or UNSAFE.search(block.right)
        or any(UNSAFE.search(c) for r in rows for c in r)
    ):
        return block
    return dataclasses.replace(
        block,
        text=printable(block.text),
        right=printable(block.right),
        rows=tuple(tuple(printable(c) for c in r) for r in rows),
    )
