"""Questionnaire pages: results with charts, the CSV export, the needs report (DOCX, PDF,
publishing) and top needs into the plan."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.charts import bar_chart
from server.db.models.questionnaires import QuestionKind
from server.domain.year import questionnaires as dq
from server.domain.year.plans import current_school_year, school_year_label
from server.errors import Conflict, ValidationFailed
from server.i18n import translate
from server.spreadsheet import csv_text
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.routes.year.questionnaires.forms import DOCX_TYPE, PDF_TYPE, PlanForm, error_codes, flash
from server.web.templating import render


def _chart(qr: dq.QuestionResult) -> Markup | None:
    if qr.question.kind == QuestionKind.text or not qr.options or qr.answered == 0:
        return None
    labels = [o.label for o in qr.options]
    svg = bar_chart(
        labels,
        [o.count for o in qr.options],
        fmt="svg",
        horizontal=qr.question.kind != QuestionKind.scale,
    )
    # bar_chart escapes its labels (server/charts.py): the SVG is safe to inline.
    return Markup(svg.decode("utf-8"))


async def questionnaire_results(request: Request) -> Response:
    qid = request.path_params["id"]
    async with request_database(request).read() as s:
        r = await dq.results(s, current_user(request), qid)
    charts = await asyncio.to_thread(lambda: [_chart(qr) for qr in r.questions])
    year = current_school_year()
    top = [line.label for line in (r.topics.lines if r.topics else []) if line.count > 0][: dq.TOP_NEEDS]
    return render(
        request,
        "year/questionnaires/results.html",
        {
            "r": r,
            "q": r.q,
            "association": r.association,
            "items": list(zip(r.questions, charts, strict=True)),
            "years": [(year, school_year_label(year)), (year + 1, school_year_label(year + 1))],
            "top": top,
            "flash": take_flash(request),
        },
    )


def _disposition(stem: str, ext: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}.{ext}\"; filename*=UTF-8''{quote(f'{stem}.{ext}', safe='')}"


async def results_csv(request: Request) -> Response:
    qid = request.path_params["id"]
    async with request_database(request).read() as s:
        q, rows = await dq.export_rows(s, current_user(request), qid)
    headers = {"Content-Disposition": _disposition(f"Анкета {q.id} — ответы", "csv", f"questionnaire-{q.id}")}
    return Response(csv_text(rows).encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


async def _report(request: Request) -> dq.ReportFiles:
    async with request_database(request).read() as s:
        r, methodist = await dq.report_results(s, current_user(request), request.path_params["id"])
    return await asyncio.to_thread(dq.render_report, r, methodist)


async def report_docx(request: Request) -> Response:
    files = await _report(request)
    qid = request.path_params["id"]
    headers = {"Content-Disposition": _disposition(files.stem, "docx", f"needs-report-{qid}")}
    return Response(files.docx, media_type=DOCX_TYPE, headers=headers)


async def report_pdf(request: Request) -> Response:
    files = await _report(request)
    qid = request.path_params["id"]
    headers = {"Content-Disposition": _disposition(files.stem, "pdf", f"needs-report-{qid}")}
    return Response(files.pdf, media_type=PDF_TYPE, headers=headers)


async def report_publish(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)
    files = await _report(request)
    async with request_database(request).transaction() as s:
        version = await dq.publish_report(
            s, request.app.state.runtime.settings, current_user(request), qid, files
        )
    flash(request, "ok", "questionnaires.flash.report_published", version=version.version)
    return RedirectResponse(f"/questionnaires/{qid}/results", status_code=303)


async def needs_plan(request: Request) -> Response:
    qid = request.path_params["id"]
    values, _ = await read_form(request)
    try:
        form = PlanForm.model_validate(values)
        async with request_database(request).transaction() as s:
            added, skipped = await dq.needs_to_plan(
                s, current_user(request), qid, form.labels, form.school_year
            )
    except (ValidationError, ValidationFailed) as exc:
        loc = request_locale(request)
        codes = error_codes(exc)
        put_flash(
            request, "error", "; ".join(translate(f"questionnaires.field.{c}", loc) for c in codes.values())
        )
        async with request_database(request).read() as s:
            await dq.needs_questionnaire(s, current_user(request), qid)  # rights before the page
        return RedirectResponse(f"/questionnaires/{qid}/results#plan", status_code=303)
    except IntegrityError as exc:  # two first clicks created the year's plan at once
        raise Conflict() from exc
    flash(request, "ok", "questionnaires.flash.plan", added=added, skipped=skipped)
    return RedirectResponse(f"/questionnaires/{qid}/results#plan", status_code=303)
