"""Meeting preparation: limits, typed errors and the material input."""

from __future__ import annotations

import logging
from datetime import time
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from server.errors import AppError

log = logging.getLogger("smo.preparation")

ICS_TYPE_REQUEST = "text/calendar; charset=utf-8; method=REQUEST"
ICS_TYPE_CANCEL = "text/calendar; charset=utf-8; method=CANCEL"
MAX_MATERIALS = 50
TOMORROW_AT = time(9, 0)  # Moscow time, the day before the meeting


class RegistrationClosed(AppError):
    """Registration is open only while the meeting is scheduled."""

    code, status = "registration_closed", 409


class LetterClosed(AppError):
    """The letter goes out only for a scheduled meeting."""

    code, status = "letter_closed", 409


class MaterialsClosed(AppError):
    code, status = "materials_closed", 409


class TooManyMaterials(AppError):
    code, status = "too_many_materials", 409


class NotAfterMeeting(AppError):
    """A material goes to the resource base after the meeting."""

    code, status = "material_not_after_meeting", 409


class AlreadyInResources(AppError):
    code, status = "material_in_resources", 409


# --- input -------------------------------------------------------------------------------------
def check_url(value: str) -> str:
    """An absolute http(s) address with a host, no spaces or control characters."""
    if not value:
        return value
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("bad_url")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError("bad_url") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("bad_url")
    return value


class MaterialInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    url: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(check_url)
    ] = ""
