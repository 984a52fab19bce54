"""One error hierarchy: a stable machine code, an HTTP status, Russian and English messages.

Rendered in one place for HTML and JSON (server/web/error_handlers.py) and one place for
Socket.IO acknowledgements (realtime/acks.py). An expected failure is never a 500.
"""

from __future__ import annotations

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


def validation_error_from_pydantic(exc: Any) -> ValidationFailed:
    """Turn a pydantic ValidationError into our typed error (field -> short reason)."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "_"
        fields.setdefault(loc, str(err.get("type", "invalid")))
    return ValidationFailed(details={"fields": fields})
