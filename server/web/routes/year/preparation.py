"""HTTP routes of meeting preparation (clause 5.1): the preparation page, materials (upload,
links, download, «в базу ресурсов»), the information letter, registration and its CSV; and
the two panels of the meeting page (materials + registration; the methodist's letter box)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models import Meeting, MeetingStatus, User
from server.domain.accounts.permissions import can_join_meeting, is_meeting_moderator
from server.domain.protocol.russian import date_requisite
from server.domain.year import preparation as prep
from server.errors import AppError, PayloadTooLarge, ValidationFailed, validation_error_from_pydantic
from server.files import FileRejected, file_response, read_upload_form
from server.files.store import SAFE_HEADERS, content_disposition
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.error_handlers import error_response, wants_json
from server.web.forms import read_form
from server.web.panels import panel
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render
from server.workers import wake_outbox

# Field error codes of the material form -> message keys.
_FIELD_CODES = {
    "string_too_short": "required",
    "missing": "required",
    "string_too_long": "too_long",
}


_db = request_database


def _flash(request: Request, kind: str, key: str, **params: Any) -> None:
    put_flash(request, kind, translate(key, request_locale(request), **params))


def _back(meeting_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/meetings/{meeting_id}{anchor}", status_code=303)


# --- the preparation page -------------------------------------------------------------------------
async def _page(
    request: Request,
    meeting_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        data = await prep.preparation_page(s, current_user(request), meeting_id)
    locale = request_locale(request)
    messages = {k: translate(f"preparation.field.{v}", locale) for k, v in (errors or {}).items()}
    return render(
        request,
        "year/preparation/page.html",
        {
            "p": data,
            "m": data.meeting,
            "association": data.association,
            "values": {k: v for k, v in (values or {}).items() if isinstance(v, str)},
            "errors": messages,
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def preparation_page(request: Request) -> Response:
    return await _page(request, request.path_params["id"])


# --- materials ---------------------------------------------------------------------------------
def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, code in (exc.details.get("fields") or {}).items():
        key = str(name).split(".")[0]
        if key == "url":
            fields[key] = "both" if code == "both" else "bad_url"
        elif key == "file":
            fields[key] = str(code)
        else:
            fields[key] = _FIELD_CODES.get(str(code), "required")
    return fields


async def material_add(request: Request) -> Response:
    meeting_id = request.path_params["id"]
    settings = request.app.state.settings
    values: dict[str, Any] = {}
    try:
        values, _, uploads = await read_upload_form(
            request, None, file_fields={"file"}, max_bytes=settings.upload_max_bytes
        )
        try:
            data = prep.MaterialInput.model_validate(values)
        except ValidationError as exc:
            raise validation_error_from_pydantic(exc) from exc
        async with _db(request).transaction() as s:
            await prep.add_material(s, settings, current_user(request), meeting_id, data, uploads.get("file"))
    except ValidationFailed as exc:
        if wants_json(request):
            return error_response(request, exc)
        return await _page(request, meeting_id, values=values, errors=_field_errors(exc), status=422)
    except (FileRejected, PayloadTooLarge) as exc:
        if wants_json(request):
            return error_response(request, exc)
        code = "file_type" if isinstance(exc, FileRejected) else "too_large"
        return await _page(request, meeting_id, values=values, errors={"file": code}, status=exc.status)
    _flash(request, "ok", "preparation.flash.material_added")
    return RedirectResponse(f"/meetings/{meeting_id}/preparation#materials", status_code=303)


async def material_delete(request: Request) -> Response:
    await _read_empty_form(request)
    meeting_id = request.path_params["id"]
    async with _db(request).transaction() as s:
        await prep.remove_material(s, current_user(request), meeting_id, request.path_params["mid"])
    _flash(request, "ok", "preparation.flash.material_removed")
    return RedirectResponse(f"/meetings/{meeting_id}/preparation#materials", status_code=303)


async def material_download(request: Request) -> Response:
    async with _db(request).read() as s:
        stored = await prep.material_file(
            s, current_user(request), request.path_params["id"], request.path_params["mid"]
        )
    return file_response(request.app.state.settings, stored)


async def material_resource(request: Request) -> Response:
    await _read_empty_form(request)
    meeting_id = request.path_params["id"]
    async with _db(request).transaction() as s:
        await prep.material_to_resource(
            s, request.app.state.settings, current_user(request), meeting_id, request.path_params["mid"]
        )
    _flash(request, "ok", "preparation.flash.material_to_resource")
    return RedirectResponse(f"/meetings/{meeting_id}/preparation#materials", status_code=303)


async def _read_empty_form(request: Request) -> None:
    await read_form(request)


# --- the letter and registration ------------------------------------------------------------------
async def _state_action(request: Request, meeting_id: int, run: Any, anchor: str) -> Response | None:
    """Run an action; a 409 (wrong meeting state) becomes a notice on the meeting page."""
    try:
        await run()
    except AppError as exc:
        if exc.status != 409 or wants_json(request):
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return _back(meeting_id, anchor)
    return None


async def letter_send(request: Request) -> Response:
    await _read_empty_form(request)
    meeting_id = request.path_params["id"]
    sent: list[int] = []

    async def run() -> None:
        async with _db(request).transaction() as s:
            letter = await prep.send_letter(s, current_user(request), meeting_id)
            sent.append(len(letter.recipients) if letter else 0)

    failed = await _state_action(request, meeting_id, run, "#preparation")
    if failed is not None:
        return failed
    wake_outbox(request.app.state.runtime)
    if sent[0]:
        _flash(request, "ok", "preparation.flash.letter_sent", n=sent[0])
    else:
        _flash(request, "ok", "preparation.flash.letter_nobody")
    return _back(meeting_id, "#preparation")


async def register(request: Request) -> Response:
    await _read_empty_form(request)
    meeting_id = request.path_params["id"]

    async def run() -> None:
        async with _db(request).transaction() as s:
            await prep.register(s, current_user(request), meeting_id)

    failed = await _state_action(request, meeting_id, run, "#registration")
    if failed is not None:
        return failed
    _flash(request, "ok", "preparation.flash.registered")
    return _back(meeting_id, "#registration")


async def unregister(request: Request) -> Response:
    await _read_empty_form(request)
    meeting_id = request.path_params["id"]

    async def run() -> None:
        async with _db(request).transaction() as s:
            await prep.unregister(s, current_user(request), meeting_id)

    failed = await _state_action(request, meeting_id, run, "#registration")
    if failed is not None:
        return failed
    _flash(request, "ok", "preparation.flash.unregistered")
    return _back(meeting_id, "#registration")


async def registrations_csv(request: Request) -> Response:
    meeting_id = request.path_params["id"]
    async with _db(request).read() as s:
        meeting, rows = await prep.registrations(s, current_user(request), meeting_id)
    name = f"Регистрация на заседание {date_requisite(meeting.starts_at)}.csv"
    headers = dict(SAFE_HEADERS)
    headers["Content-Disposition"] = content_disposition(name)
    return Response(prep.registrations_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


# --- panels on the meeting page -------------------------------------------------------------------
@panel("meeting", "year/preparation/_meeting_panel.html", order=10)
async def materials_panel(
    session: AsyncSession, user: User | None, meeting: Meeting
) -> dict[str, Any] | None:
    """Members (and administrators): the materials and the register button."""
    if user is None or not await can_join_meeting(session, user, meeting):
        return None
    return {
        "meeting": meeting,
        "materials": await prep.materials_of(session, meeting.id),
        "registered": await prep.is_registered(session, user, meeting.id),
        "can_register": meeting.status == MeetingStatus.scheduled,
        "count": await prep.registration_count(session, meeting.id),
    }


@panel("meeting_aside", "year/preparation/_aside_panel.html", order=10)
async def manage_panel(session: AsyncSession, user: User | None, meeting: Meeting) -> dict[str, Any] | None:
    """Moderators by office: the preparation page; methodists and administrators: the letter."""
    if user is None or not await is_meeting_moderator(session, user, meeting):
        return None
    is_methodist = await prep.is_methodist_of(session, user, meeting.association_id)
    letters = await prep.letters_of(session, meeting.id)
    return {
        "meeting": meeting,
        "is_methodist": is_methodist,
        "last_letter": letters[-1] if letters else None,
        "unsent": len(await prep.unsent_members(session, meeting)) if is_methodist else 0,
        "count": await prep.registration_count(session, meeting.id),
    }


routes = [
    Route("/meetings/{id:int}/preparation", preparation_page),
    Route("/meetings/{id:int}/materials", material_add, methods=["POST"]),
    Route("/meetings/{id:int}/materials/{mid:int}", material_download),
    Route("/meetings/{id:int}/materials/{mid:int}/delete", material_delete, methods=["POST"]),
    Route("/meetings/{id:int}/materials/{mid:int}/resource", material_resource, methods=["POST"]),
    Route("/meetings/{id:int}/letter", letter_send, methods=["POST"]),
    Route("/meetings/{id:int}/register", register, methods=["POST"]),
    Route("/meetings/{id:int}/unregister", unregister, methods=["POST"]),
    Route("/meetings/{id:int}/registrations.csv", registrations_csv),
]
