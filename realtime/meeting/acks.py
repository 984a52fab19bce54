"""Acknowledgement bodies: the one place Socket.IO replies are shaped."""

from __future__ import annotations

from typing import Any

from server.errors import AppError


def ok(result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": True, **(result or {})}


def fail(error: AppError, locale: str = "ru") -> dict[str, Any]:
    return {"ok": False, "error": error.to_dict(locale)}
