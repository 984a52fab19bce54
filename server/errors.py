"""One error hierarchy: a stable machine code, an HTTP status, Russian and English messages.

Rendered in one place for HTML and JSON (server/web/error_handlers.py) and one place for
Socket.IO acknowledgements (realtime/acks.py). An expected failure is never a 500.
"""

from __future__ import annotations

import errno
from typing import Any

from server.i18n import translate


class AppError(Exception):
    code = "internal"
    status = 500

    def __init__(
        self,
        code: str | None = None,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.params = params
        super().__init__(self.code)

    def message(self, locale: str = "ru") -> str:
        return translate(f"error.{self.code}", locale, **self.params)

    def to_dict(self, locale: str = "ru") -> dict[str, Any]:
        """The wire form, the same over HTTP JSON and Socket.IO acknowledgements."""
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message(locale),
            "message_ru": self.message("ru"),
            "message_en": self.message("en"),
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(AppError):
    code, status = "bad_request", 400


class ValidationFailed(AppError):
    """Inbound payload does not match its schema; ``details['fields']`` maps field -> code."""

    code, status = "validation_failed", 422


class Unauthenticated(AppError):
    code, status = "unauthenticated", 401


class Forbidden(AppError):
    code, status = "forbidden", 403


class CsrfFailed(AppError):
    code, status = "csrf_failed", 403


class NotFound(AppError):
    code, status = "not_found", 404


class Conflict(AppError):
    code, status = "conflict", 409


class PayloadTooLarge(AppError):
    code, status = "payload_too_large", 413


class RateLimited(AppError):
    code, status = "rate_limited", 429


class StorageFull(AppError):
    """The server could not write: its disk (or the database's) is full. Nothing was changed."""

    code, status = "storage_full", 507


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_TEXTS = ("database or disk is full", "no space left on device", "could not extend file")


def storage_full(exc: BaseException) -> StorageFull | None:
    """The typed error for an unexpected exception that is a full disk (OSError ENOSPC,
    SQLite's SQLITE_FULL, PostgreSQL's class 53 ``disk_full``), looking through the causes
    a driver wraps it in; None for anything else."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return StorageFull()
        if getattr(error, "sqlstate", None) == "53100" or getattr(error, "pgcode", None) == "53100":
            return StorageFull()
        if any(text in str(error).lower() for text in _FULL_TEXTS):
            return StorageFull()
        todo += [error.__cause__, error.__context__, getattr(error, "orig", None)]
    return None


def nul_field(data: Any, path: str = "") -> str | None:
    """The first field (dotted path) whose key or text holds a NUL character, or None. No
    browser sends one in text, and PostgreSQL's text cannot store it: the edges refuse such a
    payload as ``validation_failed`` before anything reads it."""
    if isinstance(data, str):
        return (path or "_") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return where
            found = nul_field(value, where)
            if found is not None:
                return found
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            found = nul_field(value, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def refuse_nul(data: Any) -> None:
    field = nul_field(data)
    if field is not None:
        raise ValidationFailed(details={"fields": {field: "control_chars"}})


def validation_error_from_pydantic(exc: Any) -> ValidationFailed:
    """Turn a pydantic ValidationError into our typed error (field -> short reason)."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "_"
        fields.setdefault(loc, str(err.get("type", "invalid")))
    return ValidationFailed(details={"fields": fields})
