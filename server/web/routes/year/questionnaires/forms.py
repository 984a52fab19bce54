"""The questionnaire pages' edge: flash helpers, pydantic forms, error codes for the fields."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request

from server.db.models.questionnaires import QuestionKind
from server.domain.accounts.associations import MAX_ID
from server.domain.year import questionnaires as dq
from server.errors import ValidationFailed
from server.i18n import translate
from server.web.auth import request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash
from server.web.templating import LOCAL_TZ

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"


def flash(request: Request, kind: str, key: str, **params: Any) -> None:
    put_flash(request, kind, translate(key, request_locale(request), **params))


def field_messages(request: Request, errors: dict[str, str]) -> dict[str, str]:
    loc = request_locale(request)
    return {k: translate(f"questionnaires.field.{v}", loc) for k, v in errors.items()}


# --- forms -------------------------------------------------------------------------------------
def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_LOCAL = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})\s*$")


def _local_datetime(value: Any) -> Any:
    """«2026-12-01T10:00» (a datetime-local input, Moscow time) → an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    m = _LOCAL.match(str(value))
    if not m:
        raise ValueError("bad_date")
    y, mo, d, h, mi = (int(g) for g in m.groups())
    return datetime(y, mo, d, h, mi, tzinfo=LOCAL_TZ)


def _checkbox(value: Any) -> Any:
    """An unchecked box is absent; an empty value counts as unchecked too."""
    return False if value is None or (isinstance(value, str) and not value.strip()) else value


Checkbox = Annotated[bool, BeforeValidator(_checkbox)]
LocalDateTime = Annotated[datetime | None, BeforeValidator(_local_datetime), BeforeValidator(_empty_to_none)]
OptionalId = Annotated[Annotated[int, Field(gt=0, le=MAX_ID)] | None, BeforeValidator(_empty_to_none)]


class SettingsForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    anonymous: Checkbox = False
    opens_at: LocalDateTime = None
    closes_at: LocalDateTime = None
    meeting_id: OptionalId = None

    def to_input(self) -> dq.SettingsInput:
        return dq.SettingsInput(
            self.title, self.description, self.anonymous, self.opens_at, self.closes_at, self.meeting_id
        )


class QuestionForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: QuestionKind
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    required: Checkbox = False
    options: Annotated[str, StringConstraints(max_length=10000)] = ""
    allow_other: Checkbox = False

    def to_input(self) -> dq.QuestionInput:
        options = tuple(line.strip() for line in self.options.splitlines() if line.strip())
        return dq.QuestionInput(self.kind, self.text, self.required, options, self.allow_other)


class MoveForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    direction: Annotated[int, Field(ge=-1, le=1)]


class PlanForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    labels: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=100
    )
    school_year: Annotated[int, Field(ge=2000, le=2100)]


def error_codes(exc: ValidationError | ValidationFailed) -> dict[str, str]:
    """pydantic / domain errors → field → short code (translated by the page)."""
    if isinstance(exc, ValidationFailed):
        fields: dict[str, str] = exc.details.get("fields", {})
        return {k: _code(k, v) for k, v in fields.items()}
    out: dict[str, str] = {}
    for err in exc.errors():
        name = str(err.get("loc", ("_",))[0])
        out.setdefault(name, _code(name, str(err.get("type", "")), str(err.get("msg", ""))))
    return out


KNOWN = {
    "required",
    "too_long",
    "bad_choice",
    "bad_date",
    "closes_before_opens",
    "meeting_taken",
    "options_needed",
    "too_many_options",
    "option_too_long",
    "duplicate_options",
    "answer_required",
    "other_empty",
    "bad_scale",
    "nothing_chosen",
    "empty_response",
}


def _code(field: str, error_type: str, msg: str = "") -> str:
    if error_type in KNOWN:
        return error_type
    if error_type in ("missing", "string_too_short"):
        return "required"
    if error_type in ("string_too_long", "too_long"):
        return "too_long"
    if "bad_date" in msg or field in ("opens_at", "closes_at"):
        return "bad_date"
    return "bad_choice"


async def _parse(request: Request, schema: type[BaseModel]) -> tuple[dict[str, Any], Any, dict[str, str]]:
    """(raw values, model or None, field errors) — CSRF is checked first."""
    values, _ = await read_form(request)
    try:
        return values, schema.model_validate(values), {}
    except ValidationError as exc:
        return values, None, error_codes(exc)
