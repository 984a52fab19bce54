"""HTTP routes: the association's announcements (list, posting with attachments, one
announcement, its files, deletion). Thin: validate, call one domain action, redirect."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models import Association, User
from server.domain.accounts.permissions import require_methodist
from server.domain.community import announcements as domain
from server.domain.community import search_index  # noqa: F401  (registers the meeting search hook)
from server.errors import AppError, validation_error_from_pydantic
from server.files import file_response, read_upload_form
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.panels import panel
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render
from server.workers import wake_outbox

FILE_FIELDS = ("file1", "file2", "file3")
SHOWN_ON_FORM = {413, 415, 422}


class AnnouncementForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]


_db = request_database


@panel("home", "community/announcements/_home_panel.html", order=20)
async def home_panel(session: AsyncSession, user: User | None, subject: object) -> dict[str, object] | None:
    if user is None:
        return None
    items = await domain.latest_for_user(session, user)
    return {"items": items} if items else None


@panel("association", "community/announcements/_assoc_panel.html", order=10)
async def association_panel(
    session: AsyncSession, user: User | None, association: Association
) -> dict[str, object] | None:
    items = await domain.latest_of_association(session, user, association.id)
    return None if items is None else {"association": association, "items": items}


def _page_no(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 else 1


def _field_errors(request: Request, exc: AppError) -> dict[str, str]:
    locale = request_locale(request)
    if exc.status == 422:
        return {
            k.split(".")[0]: translate(f"announcements.field.{k.split('.')[0]}", locale)
            for k in exc.details.get("fields", {})
        }
    field = str(exc.details.get("field", "file1"))
    return {field: exc.message(locale)}


async def _list_page(
    request: Request,
    association_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        data = await domain.list_announcements(
            s, current_user(request), association_id, page=_page_no(request)
        )
    locale = request_locale(request)
    return render(
        request,
        "community/announcements/list.html",
        {
            "data": data,
            "association": data.association,
            "values": values or {},
            "errors": errors or {},
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "file_fields": FILE_FIELDS,
            "flash": take_flash(request),
        },
        status,
    )


async def announcements_list(request: Request) -> Response:
    association_id = request.path_params["id"]
    if request.method == "GET":
        return await _list_page(request, association_id)
    runtime = request.app.state.runtime
    async with _db(request).read() as s:  # rights first: a non-methodist gets 403, not 422
        await require_methodist(s, current_user(request), association_id)
    values: dict[str, Any] = {}
    try:
        values, _, uploads = await read_upload_form(
            request, None, file_fields=FILE_FIELDS, max_bytes=runtime.settings.upload_max_bytes
        )
        form = AnnouncementForm.model_validate(values)
    except ValidationError as exc:
        err = validation_error_from_pydantic(exc)
        return await _list_page(
            request, association_id, values=values, errors=_field_errors(request, err), status=422
        )
    except AppError as exc:
        if exc.status not in SHOWN_ON_FORM:
            raise
        return await _list_page(
            request, association_id, values=values, errors=_field_errors(request, exc), status=exc.status
        )
    try:
        async with _db(request).transaction() as s:
            row = await domain.post_announcement(
                s,
                runtime.settings,
                current_user(request),
                association_id,
                title=form.title,
                text=form.text,
                uploads=[uploads[f] for f in FILE_FIELDS if f in uploads],
            )
    except AppError as exc:
        if exc.status not in SHOWN_ON_FORM:
            raise
        return await _list_page(
            request, association_id, values=values, errors=_field_errors(request, exc), status=exc.status
        )
    wake_outbox(runtime)
    put_flash(request, "ok", translate("announcements.flash.posted", request_locale(request)))
    return RedirectResponse(f"/announcements/{row.id}", status_code=303)


async def announcement_detail(request: Request) -> Response:
    async with _db(request).read() as s:
        association, view, can_manage = await domain.announcement_view(
            s, current_user(request), request.path_params["id"]
        )
    return render(
        request,
        "community/announcements/detail.html",
        {
            "association": association,
            "a": view,
            "can_manage": can_manage,
            "flash": take_flash(request),
        },
    )


async def announcement_file(request: Request) -> Response:
    async with _db(request).read() as s:
        stored = await domain.attachment(
            s, current_user(request), request.path_params["id"], request.path_params["fid"]
        )
    return file_response(request.app.state.runtime.settings, stored)


async def announcement_delete(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        association_id = await domain.delete_announcement(s, current_user(request), request.path_params["id"])
    put_flash(request, "ok", translate("announcements.flash.deleted", request_locale(request)))
    return RedirectResponse(f"/associations/{association_id}/announcements", status_code=303)


routes = [
    Route("/associations/{id:int}/announcements", announcements_list, methods=["GET", "POST"]),
    Route("/announcements/{id:int}", announcement_detail),
    Route("/announcements/{id:int}/files/{fid:int}", announcement_file),
    Route("/announcements/{id:int}/delete", announcement_delete, methods=["POST"]),
]
