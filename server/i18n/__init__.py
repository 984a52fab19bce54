"""Message catalogues, Russian first. The same JSON files are served to the browser."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("ru", "en")
DIR = Path(__file__).parent


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All keys of a locale: one JSON file per area under ``server/i18n/<locale>/<group>/``
    (``core.json`` at the locale's root)."""
    merged: dict[str, str] = {}
    for path in sorted((DIR / locale).rglob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translate(key: str, locale: str = "ru", **params: Any) -> str:
    if locale not in LOCALES:
        locale = "ru"
    text = catalogue(locale).get(key) or catalogue("ru").get(key) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text
