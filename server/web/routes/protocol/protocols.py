"""HTTP routes: the protocol page, its downloads, and the workflow's forms (edit, review,
remarks, approval with mailing). Thin: validate, call one domain action, redirect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.domain.protocol import render_docx, render_html, render_pdf
from server.domain.protocol.mailing import (
    DOCX_TYPE,
    PDF_TYPE,
    approve_and_mail,
    edit_from_form,
    file_stem,
    mail_latest_version,
    protocol_page,
    readable_protocol,
    remark_protocol_id,
    review_for_days,
)
from server.domain.protocol.workflow import add_remark, resolve_remark
from server.errors import AppError, NotFound
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

# Errors of the input or the workflow's state re-render the page with a notice; permission
# and lookup errors go to the one error handler.
SHOWN_ON_PAGE = {400, 409, 413, 422}

Text = Annotated[str, StringConstraints(max_length=4000)]


class EditForm(RootModel[dict[Annotated[str, StringConstraints(max_length=80)], Text | list[Text]]]):
    pass


class ApproveForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # «I confirm the signatories although they were absent» (checked on the server too)
    confirm_absent: bool = False


class ReviewForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    days: int = Field(ge=1, le=60)


class RemarkForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ResolveForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resolution: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


_db = request_database


def _flash(request: Request, kind: str, key: str) -> None:
    put_flash(request, kind, translate(key, request_locale(request)))


async def _page(request: Request, protocol_id: int, status: int = 200) -> Response:
    async with _db(request).read() as s:
        data = await protocol_page(s, current_user(request), protocol_id)
    return render(
        request,
        "protocol/protocols/detail.html",
        {
            "p": data,
            "row": data.row,
            "html": render_html(data.model, document=False),
            "flash": take_flash(request),
            "saved": request.query_params.get("saved") == "1",
        },
        status,
    )


async def protocol_detail(request: Request) -> Response:
    return await _page(request, request.path_params["id"])


def _disposition(stem: str, ext: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}.{ext}\"; filename*=UTF-8''{quote(f'{stem}.{ext}', safe='')}"


async def protocol_docx(request: Request) -> Response:
    pid = request.path_params["id"]
    async with _db(request).read() as s:
        row, model = await readable_protocol(s, current_user(request), pid)
    data = render_docx(model)
    headers = {"Content-Disposition": _disposition(file_stem(row, model), "docx", f"protocol-{pid}")}
    return Response(data, media_type=DOCX_TYPE, headers=headers)


async def protocol_pdf(request: Request) -> Response:
    pid = request.path_params["id"]
    async with _db(request).read() as s:
        row, model = await readable_protocol(s, current_user(request), pid)
    data = await asyncio.to_thread(render_pdf, model)
    headers = {"Content-Disposition": _disposition(file_stem(row, model), "pdf", f"protocol-{pid}")}
    return Response(data, media_type=PDF_TYPE, headers=headers)


async def _act(
    request: Request, pid: int, action: Awaitable[None], ok_key: str, anchor: str = ""
) -> Response:
    """Run a form's action; a typed input/state error re-renders the page with a notice."""
    try:
        await action
    except AppError as exc:
        if exc.status not in SHOWN_ON_PAGE:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _page(request, pid, exc.status)
    if ok_key:
        _flash(request, "ok", ok_key)
    return RedirectResponse(f"/protocols/{pid}{anchor}", status_code=303)


async def protocol_edit(request: Request) -> Response:
    pid = request.path_params["id"]

    async def run() -> None:
        _, form = await read_form(request, EditForm)
        assert form is not None
        async with _db(request).transaction() as s:
            await edit_from_form(s, current_user(request), pid, form.root)

    return await _act(request, pid, run(), "protocol_pages.flash.saved", "?saved=1#protocol-edit")


async def protocol_review(request: Request) -> Response:
    pid = request.path_params["id"]

    async def run() -> None:
        _, form = await read_form(request, ReviewForm)
        assert form is not None
        async with _db(request).transaction() as s:
            await review_for_days(s, current_user(request), pid, form.days)

    return await _act(request, pid, run(), "protocol_pages.flash.review")


async def protocol_remark(request: Request) -> Response:
    pid = request.path_params["id"]

    async def run() -> None:
        _, form = await read_form(request, RemarkForm)
        assert form is not None
        async with _db(request).transaction() as s:
            await add_remark(s, current_user(request), pid, form.text)

    return await _act(request, pid, run(), "protocol_pages.flash.remark")


async def protocol_resolve(request: Request) -> Response:
    pid, rid = request.path_params["id"], request.path_params["rid"]

    async def run() -> None:
        _, form = await read_form(request, ResolveForm)
        assert form is not None
        async with _db(request).transaction() as s:
            if await remark_protocol_id(s, rid) != pid:
                raise NotFound()
            await resolve_remark(s, current_user(request), rid, form.resolution)

    return await _act(request, pid, run(), "protocol_pages.flash.resolved")


async def protocol_approve(request: Request) -> Response:
    pid = request.path_params["id"]
    locale = request_locale(request)

    async def run() -> None:
        _, form = await read_form(request, ApproveForm)
        assert form is not None
        version, letters = await approve_and_mail(
            request.app.state.runtime, current_user(request), pid, confirm_absent=form.confirm_absent
        )
        put_flash(
            request,
            "ok",
            translate("protocol_pages.flash.approved_count", locale, number=version.number, letters=letters),
        )

    return await _act(request, pid, run(), "")


async def protocol_mail(request: Request) -> Response:
    pid = request.path_params["id"]

    async def run() -> None:
        await read_form(request)
        await mail_latest_version(request.app.state.runtime, current_user(request), pid)

    return await _act(request, pid, run(), "protocol_pages.flash.mailed")


routes = [
    Route("/protocols/{id:int}", protocol_detail),
    Route("/protocols/{id:int}.docx", protocol_docx),
    Route("/protocols/{id:int}.pdf", protocol_pdf),
    Route("/protocols/{id:int}/edit", protocol_edit, methods=["POST"]),
    Route("/protocols/{id:int}/review", protocol_review, methods=["POST"]),
    Route("/protocols/{id:int}/remarks", protocol_remark, methods=["POST"]),
    Route("/protocols/{id:int}/remarks/{rid:int}/resolve", protocol_resolve, methods=["POST"]),
    Route("/protocols/{id:int}/approve", protocol_approve, methods=["POST"]),
    Route("/protocols/{id:int}/mail", protocol_mail, methods=["POST"]),
]
