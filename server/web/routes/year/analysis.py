"""HTTP routes: the annual analysis (clause 7.2) — the page, the methodist's conclusions and
tasks, seeding next year's plan, DOCX/PDF downloads and publishing into the documents section."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.domain.protocol import render_docx, render_pdf
from server.domain.protocol.mailing import DOCX_TYPE, PDF_TYPE
from server.domain.year.analysis import (
    MAX_CONCLUSIONS,
    MAX_TASKS_TEXT,
    analysis_for_export,
    analysis_page,
    file_stem,
    publish_analysis,
    require_editor,
    save_texts,
    transfer_tasks,
)
from server.domain.year.analysis_layout import document_blocks, page_html, title_of
from server.domain.year.stats import available_years, default_year
from server.errors import ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

Year = Annotated[int, Field(ge=2000, le=2100)]


class YearForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    year: Year


class TextsForm(YearForm):
    # The domain checks the limits too and reports them per field; these only bound the input.
    conclusions: Annotated[str, StringConstraints(max_length=MAX_CONCLUSIONS * 2)] = ""
    next_tasks: Annotated[str, StringConstraints(max_length=MAX_TASKS_TEXT * 2)] = ""


_db = request_database


def _url(aid: int, year: int) -> str:
    return f"/associations/{aid}/analysis?year={year}"


async def _page(
    request: Request,
    year: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    aid = request.path_params["id"]
    locale = request_locale(request)
    async with _db(request).read() as s:
        page = await analysis_page(s, current_user(request), aid, year)
        years = await available_years(s, aid)
    record = page.data.record if page.data else None
    shown = values or {
        "conclusions": record.conclusions if record else "",
        "next_tasks": record.next_tasks if record else "",
    }
    return render(
        request,
        "year/analysis/index.html",
        {
            "page": page,
            "association": page.association,
            "years": years if year in years else sorted({*years, year}, reverse=True),
            "html": page_html(page.data) if page.data else "",
            "values": shown,
            "errors": {k: translate(f"analysis.field.{v}", locale) for k, v in (errors or {}).items()},
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def analysis_index(request: Request) -> Response:
    return await _page(request, default_year(request.query_params.get("year")))


def _disposition(stem: str, ext: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}.{ext}\"; filename*=UTF-8''{quote(f'{stem}.{ext}', safe='')}"


async def analysis_docx(request: Request) -> Response:
    year = default_year(request.query_params.get("year"))
    async with _db(request).read() as s:
        data = await analysis_for_export(s, current_user(request), request.path_params["id"], year)
    blocks = await asyncio.to_thread(document_blocks, data)
    headers = {"Content-Disposition": _disposition(file_stem(year), "docx", f"analysis-{year}")}
    return Response(render_docx(blocks), media_type=DOCX_TYPE, headers=headers)


async def analysis_pdf(request: Request) -> Response:
    year = default_year(request.query_params.get("year"))
    async with _db(request).read() as s:
        data = await analysis_for_export(s, current_user(request), request.path_params["id"], year)
    blocks = await asyncio.to_thread(document_blocks, data)
    pdf = await asyncio.to_thread(render_pdf, blocks, title=title_of(data))
    headers = {"Content-Disposition": _disposition(file_stem(year), "pdf", f"analysis-{year}")}
    return Response(pdf, media_type=PDF_TYPE, headers=headers)


async def analysis_save(request: Request) -> Response:
    aid = request.path_params["id"]
    values, _ = await read_form(request)
    async with _db(request).read() as s:
        await require_editor(s, current_user(request), aid)  # rights before validation
    try:
        form = TextsForm.model_validate(values)
    except ValidationError as exc:
        codes = {"conclusions": "conclusions_too_long", "next_tasks": "tasks_too_long"}
        fields = {str(e["loc"][0]): codes.get(str(e["loc"][0]), "invalid") for e in exc.errors() if e["loc"]}
        year = default_year(str(values.get("year", "")))
        return await _page(request, year, values=values, errors=fields, status=422)
    try:
        async with _db(request).transaction() as s:
            await save_texts(s, current_user(request), aid, form.year, form.conclusions, form.next_tasks)
    except ValidationFailed as exc:
        return await _page(
            request, form.year, values=values, errors=dict(exc.details.get("fields", {})), status=422
        )
    put_flash(request, "ok", translate("analysis.flash.saved", request_locale(request)))
    return RedirectResponse(_url(aid, form.year), status_code=303)


async def analysis_transfer(request: Request) -> Response:
    aid = request.path_params["id"]
    _, form = await read_form(request, YearForm)
    assert form is not None
    async with _db(request).transaction() as s:
        result = await transfer_tasks(s, current_user(request), aid, form.year)
    put_flash(
        request,
        "ok",
        translate(
            "analysis.flash.transferred", request_locale(request), added=result.added, skipped=result.skipped
        ),
    )
    return RedirectResponse(_url(aid, form.year), status_code=303)


async def analysis_publish(request: Request) -> Response:
    aid = request.path_params["id"]
    _, form = await read_form(request, YearForm)
    assert form is not None
    runtime = request.app.state.runtime
    async with _db(request).read() as s:
        data = await analysis_for_export(s, current_user(request), aid, form.year)
    blocks = await asyncio.to_thread(document_blocks, data)
    docx = render_docx(blocks)
    pdf = await asyncio.to_thread(render_pdf, blocks, title=title_of(data))
    async with _db(request).transaction() as s:
        version = await publish_analysis(
            s, runtime.settings, current_user(request), aid, form.year, docx=docx, pdf=pdf
        )
        number = version.version
    put_flash(request, "ok", translate("analysis.flash.published", request_locale(request), version=number))
    return RedirectResponse(_url(aid, form.year), status_code=303)


routes = [
    Route("/associations/{id:int}/analysis", analysis_index),
    Route("/associations/{id:int}/analysis.docx", analysis_docx),
    Route("/associations/{id:int}/analysis.pdf", analysis_pdf),
    Route("/associations/{id:int}/analysis/save", analysis_save, methods=["POST"]),
    Route("/associations/{id:int}/analysis/transfer", analysis_transfer, methods=["POST"]),
    Route("/associations/{id:int}/analysis/publish", analysis_publish, methods=["POST"]),
]
