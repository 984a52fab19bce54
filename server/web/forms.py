"""Reading inbound payloads at the edge: CSRF, size limits, pydantic schemas."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from server.errors import BadRequest, PayloadTooLarge, refuse_nul, validation_error_from_pydantic
from server.web.auth import check_csrf

M = TypeVar("M", bound=BaseModel)
MAX_FORM_BYTES = 256 * 1024


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, schema: type[M] | None = None) -> tuple[dict[str, Any], M | None]:
    """Parse an urlencoded form, check its CSRF token, validate it against ``schema``.

    Returns the raw values (to refill the form) and the model (``None`` without a schema).
    Raises CsrfFailed, PayloadTooLarge or ValidationFailed (with ``details['fields']``).
    """
    from urllib.parse import parse_qsl

    ctype = request.headers.get("content-type", "")
    if "multipart/form-data" in ctype:
        form = await request.form(max_files=0, max_fields=200, max_part_size=MAX_FORM_BYTES)
        items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    else:
        raw = await _body(request, MAX_FORM_BYTES)
        try:
            items = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest() from exc
    check_csrf(request, dict(items).get("csrf_token"))
    for key, value in items:  # every value of a repeated field, too
        refuse_nul({key: value})
    values: dict[str, Any] = {}
    for key, value in items:
        if key == "csrf_token":
            continue
        if key.endswith("[]"):
            values.setdefault(key[:-2], []).append(value)
        else:
            values[key] = value
    if schema is None:
        return values, None
    try:
        return values, schema.model_validate(values)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc) from exc


async def read_json(request: Request, schema: type[M], *, csrf: bool = True) -> M:
    """Parse a JSON body (CSRF token in the ``X-CSRF-Token`` header) into ``schema``."""
    if csrf:
        check_csrf(request, request.headers.get("x-csrf-token"))
    raw = await _body(request, MAX_FORM_BYTES)
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("malformed_json") from exc
    refuse_nul(data)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc) from exc


def field_messages(locale: str, fields: dict[str, str], area: str) -> dict[str, str]:
    """field -> the human message for its error code (``ValidationFailed.details['fields']``):
    ``<area>.field.<code>`` when the catalogue has it, else the shared ``field.<code>``, else
    ``<area>.field.invalid``. Nested
    fields ("grades.2") report on their form field ("grades"); the first problem wins."""
    from server.i18n import catalogue, translate

    known = catalogue("ru")
    out: dict[str, str] = {}
    for name, code in fields.items():
        key = next(
            (k for k in (f"{area}.field.{code}", f"field.{code}") if k in known), f"{area}.field.invalid"
        )
        out.setdefault(name.split(".")[0], translate(key, locale))
    return out
