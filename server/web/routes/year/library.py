"""HTTP routes of the «Документы» section: the page, new versions of the regulation (upload
or text), and the downloads of every version (members only)."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models.library import LibraryKind
from server.domain.protocol import render_docx, render_pdf
from server.domain.year.library_pages import (
    RegulationFileInput,
    RegulationTextInput,
    add_regulation_file,
    add_regulation_text,
    check_regulation_editor,
    library_page,
    regulation_blocks,
    version_file,
)
from server.errors import NotFound
from server.files import FileRejected, file_response, read_upload_form
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

_db = request_database


def _code(error_type: str) -> str:
    if error_type in ("missing", "string_too_short"):
        return "required"
    if error_type == "string_too_long":
        return "too_long"
    return "invalid"


def _errors(request: Request, fields: dict[str, str]) -> dict[str, str]:
    locale = request_locale(request)
    return {k: translate(f"library.field.{_code(v)}", locale) for k, v in fields.items()}


async def _page(
    request: Request,
    association_id: int,
    *,
    status: int = 200,
    text_form: dict[str, str] | None = None,
    text_errors: dict[str, str] | None = None,
    file_errors: dict[str, str] | None = None,
) -> Response:
    async with _db(request).read() as s:
        page = await library_page(s, current_user(request), association_id)
    locale = request_locale(request)
    return render(
        request,
        "year/library/index.html",
        {
            "page": page,
            "association": page.association,
            "kinds": LibraryKind,
            "text_form": text_form or {"text": page.regulation_text, "note": ""},
            "text_errors": text_errors or {},
            "file_errors": file_errors or {},
            "error_message": translate("error.validation_failed", locale),
            "flash": take_flash(request),
        },
        status,
    )


async def library_index(request: Request) -> Response:
    return await _page(request, request.path_params["id"])


async def regulation_text(request: Request) -> Response:
    aid = request.path_params["id"]
    user = current_user(request)
    values, _ = await read_form(request)
    async with _db(request).read() as s:
        association = await check_regulation_editor(s, user, aid)
    try:
        data = RegulationTextInput.model_validate(values)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) if e["loc"] else "text": str(e["type"]) for e in exc.errors()}
        shown = {k: v if isinstance(v := values.get(k, ""), str) else "" for k in ("text", "note")}
        return await _page(request, aid, status=422, text_form=shown, text_errors=_errors(request, fields))
    blocks = regulation_blocks(association, data.text)
    docx = await asyncio.to_thread(render_docx, blocks)
    pdf = await asyncio.to_thread(render_pdf, blocks, title="Положение о СМО")
    async with _db(request).transaction() as s:
        version = await add_regulation_text(
            s, request.app.state.settings, user, aid, data, docx=docx, pdf=pdf
        )
    put_flash(
        request, "ok", translate("library.flash.saved", request_locale(request), version=version.version)
    )
    return RedirectResponse(f"/associations/{aid}/library#regulation", status_code=303)


async def regulation_upload(request: Request) -> Response:
    aid = request.path_params["id"]
    user = current_user(request)
    settings = request.app.state.settings
    values, _, uploads = await read_upload_form(
        request, None, file_fields={"file"}, max_bytes=settings.upload_max_bytes
    )
    async with _db(request).read() as s:  # permission first: an outsider gets 403, not the form
        await check_regulation_editor(s, user, aid)
    locale = request_locale(request)
    try:
        form = RegulationFileInput.model_validate(values)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) if e["loc"] else "note": str(e["type"]) for e in exc.errors()}
        return await _page(request, aid, status=422, file_errors=_errors(request, fields))
    upload = uploads.get("file")
    if upload is None:
        return await _page(
            request, aid, status=422, file_errors={"file": translate("library.field.no_file", locale)}
        )
    try:
        async with _db(request).transaction() as s:
            version = await add_regulation_file(s, settings, user, aid, upload, form.note)
    except FileRejected:
        return await _page(
            request, aid, status=415, file_errors={"file": translate("library.field.file_type", locale)}
        )
    put_flash(request, "ok", translate("library.flash.saved", locale, version=version.version))
    return RedirectResponse(f"/associations/{aid}/library#regulation", status_code=303)


async def version_download(request: Request) -> Response:
    which = request.path_params["which"]
    if which not in ("file", "pdf"):
        raise NotFound()
    async with _db(request).read() as s:
        stored = await version_file(
            s, current_user(request), request.path_params["id"], request.path_params["vid"], which
        )
    return file_response(request.app.state.settings, stored)


routes = [
    Route("/associations/{id:int}/library", library_index),
    Route("/associations/{id:int}/library/regulation/text", regulation_text, methods=["POST"]),
    Route("/associations/{id:int}/library/regulation/upload", regulation_upload, methods=["POST"]),
    Route("/associations/{id:int}/library/versions/{vid:int}/{which}", version_download),
]
