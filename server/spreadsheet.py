"""Cells for CSV and XLSX exports: text a person typed never becomes a spreadsheet formula.

Every export (poll results, registrations, questionnaire answers, activity statistics, the
administrators' overview) writes its cells through :func:`safe_cell` / :func:`safe_row`: a
text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (OWASP «CSV injection»), so Excel and LibreOffice show it as text. Numbers, and
texts that are plain numbers («-1,5»), are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is a text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def csv_text(rows: Iterable[Iterable[Any]], *, delimiter: str = ";") -> str:
    """The rows as CSV with a BOM (Excel then reads UTF-8), every cell through :func:`safe_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(safe_row(row))
    return "\ufeff" + buffer.getvalue()
