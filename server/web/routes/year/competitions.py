"""HTTP routes of competitions (конкурсы): the list and the call form, the competition page,
entries with files, the jury's scores, publishing the results, certificates (PDF)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.domain.protocol.russian import MOSCOW
from server.domain.year import competitions as comp
from server.domain.year.certificates import certificate_filename, render_certificate
from server.errors import AppError, ValidationFailed
from server.files import file_response, read_upload_form
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.error_handlers import error_response, wants_json
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

MAX_CRITERIA = 10
BLANK_CRITERIA = 5
SHOWN_ON_PAGE = {409, 413, 415, 422}


_db = request_database


def _flash(request: Request, kind: str, key: str) -> None:
    put_flash(request, kind, translate(key, request_locale(request)))


def _messages(request: Request, errors: dict[str, str]) -> dict[str, str]:
    locale = request_locale(request)
    return {k: translate(f"competitions.field.{v}", locale) for k, v in errors.items()}


# --- the call -------------------------------------------------------------------------------


def last_day(moment: datetime) -> str:
    """The inclusive last day of a period stored as its exclusive end (Moscow midnight)."""
    return (moment.astimezone(MOSCOW) - timedelta(seconds=1)).strftime("%d.%m.%Y")


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=MOSCOW)


def _text(
    values: dict[str, Any], key: str, limit: int, errors: dict[str, str], *, required: bool = False
) -> str:
    raw = values.get(key, "")
    text = raw.strip() if isinstance(raw, str) else ""
    if required and not text:
        errors[key] = "missing"
    elif len(text) > limit:
        errors[key] = "string_too_long"
    elif any(ord(ch) < 32 and ch not in "\r\n\t" for ch in text):
        errors[key] = "control_chars"
    return text


def parse_competition_form(values: dict[str, Any]) -> comp.CompetitionInput:
    """Validate the call's form; raises ValidationFailed with field -> reason."""
    errors: dict[str, str] = {}
    title = _text(values, "title", 300, errors, required=True)
    description = _text(values, "description", 10_000, errors)
    days: dict[str, date] = {}
    for key in ("entries_from", "entries_until", "judging_until"):
        raw = values.get(key, "")
        try:
            days[key] = date.fromisoformat(raw.strip() if isinstance(raw, str) else "")
        except ValueError:
            errors[key] = "date" if isinstance(raw, str) and raw.strip() else "missing"
    if "entries_from" in days and "entries_until" in days and days["entries_until"] < days["entries_from"]:
        errors["entries_until"] = "date_order"
    if "entries_until" in days and "judging_until" in days and days["judging_until"] < days["entries_until"]:
        errors["judging_until"] = "date_order"
    try:
        winners = int(str(values.get("winners_count", "3")))
        if not 1 <= winners <= 3:
            raise ValueError
    except ValueError:
        errors["winners_count"] = "winners_range"
        winners = 3
    criteria: list[comp.CriterionInput] = []
    for i in range(MAX_CRITERIA):
        name = _text(values, f"criterion-{i}-name", 300, errors)
        raw_max = values.get(f"criterion-{i}-max", "")
        raw_max = raw_max.strip() if isinstance(raw_max, str) else ""
        if not name and not raw_max:
            continue
        if not name:
            errors[f"criterion-{i}-name"] = "missing"
            continue
        try:
            max_score = int(raw_max)
            if not 1 <= max_score <= 100:
                raise ValueError
        except ValueError:
            errors[f"criterion-{i}-max"] = "max_range"
            continue
        criteria.append(comp.CriterionInput(name, max_score))
    if not criteria and not any(k.startswith("criterion-") for k in errors):
        errors["criteria"] = "criteria_missing"
    jury_raw = values.get("jury", [])
    jury: list[int] = []
    for v in jury_raw if isinstance(jury_raw, list) else [jury_raw]:
        try:
            jury.append(int(v))
        except (TypeError, ValueError):
            errors["jury"] = "jury_members"
    if not jury and "jury" not in errors:
        errors["jury"] = "jury_members"
    if errors:
        raise ValidationFailed(details={"fields": errors})
    return comp.CompetitionInput(
        title=title,
        description=description,
        entries_from=_day_start(days["entries_from"]),
        entries_until=_day_start(days["entries_until"] + timedelta(days=1)),
        judging_until=_day_start(days["judging_until"] + timedelta(days=1)),
        winners_count=winners,
        criteria=criteria,
        jury=jury,
    )


async def competitions_list(request: Request) -> Response:
    async with _db(request).read() as s:
        association, organiser, items = await comp.list_competitions(
            s, current_user(request), request.path_params["id"]
        )
    return render(
        request,
        "year/competitions/list.html",
        {
            "association": association,
            "organiser": organiser,
            "items": [(c, comp.phase_of(c)) for c in items],
            "last_day": last_day,
            "flash": take_flash(request),
        },
    )


async def _new_page(
    request: Request, values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    aid = request.path_params["id"]
    async with _db(request).read() as s:
        association, _, _ = await comp.list_competitions(s, current_user(request), aid)
        candidates = await comp.jury_candidates(s, current_user(request), aid)
    jury = values.get("jury", [])
    chosen = {str(v) for v in (jury if isinstance(jury, list) else [jury])}
    rows = max(
        BLANK_CRITERIA,
        1 + max((int(k.split("-")[1]) for k in values if k.startswith("criterion-")), default=-1),
    )
    return render(
        request,
        "year/competitions/new.html",
        {
            "association": association,
            "candidates": candidates,
            "values": values,
            "chosen": chosen,
            "criteria_rows": min(rows, MAX_CRITERIA),
            "errors": _messages(request, errors or {}),
            "error_message": translate("error.validation_failed", request_locale(request)) if errors else "",
        },
        status,
    )


async def competition_new(request: Request) -> Response:
    aid = request.path_params["id"]
    if request.method == "GET":
        today = datetime.now(MOSCOW).date()
        return await _new_page(
            request,
            {
                "entries_from": today.isoformat(),
                "entries_until": (today + timedelta(days=30)).isoformat(),
                "judging_until": (today + timedelta(days=44)).isoformat(),
                "winners_count": "3",
            },
        )
    values, _ = await read_form(request)
    try:
        data = parse_competition_form(values)
        async with _db(request).transaction() as s:
            c = await comp.create_competition(s, current_user(request), aid, data)
    except ValidationFailed as exc:
        if wants_json(request):
            return error_response(request, exc)
        return await _new_page(request, values, exc.details.get("fields", {}), 422)
    _flash(request, "ok", "competitions.flash.created")
    return RedirectResponse(f"/competitions/{c.id}", status_code=303)


# --- the competition page -------------------------------------------------------------------


async def _page(
    request: Request,
    cid: int,
    *,
    status: int = 200,
    entry_errors: dict[str, str] | None = None,
    score_errors: dict[int, dict[str, str]] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as s:
        page = await comp.competition_page(s, current_user(request), cid)
    return render(
        request,
        "year/competitions/detail.html",
        {
            "p": page,
            "association": page.association,
            "flash": take_flash(request),
            "entry_errors": _messages(request, entry_errors or {}),
            "score_errors": {k: _messages(request, v) for k, v in (score_errors or {}).items()},
            "values": values or {},
            "last_day": last_day,
        },
        status,
    )


async def competition_detail(request: Request) -> Response:
    return await _page(request, request.path_params["id"])


async def entry_submit(request: Request) -> Response:
    cid = request.path_params["id"]
    runtime = request.app.state.runtime
    values: dict[str, Any] = {}
    try:
        values, _, uploads = await read_upload_form(
            request, None, file_fields={"file"}, max_bytes=runtime.settings.upload_max_bytes
        )
        errors: dict[str, str] = {}
        title = _text(values, "title", 300, errors, required=True)
        annotation = _text(values, "annotation", 5000, errors)
        if errors:
            raise ValidationFailed(details={"fields": errors})
        async with _db(request).transaction() as s:
            await comp.submit_entry(
                s, runtime.settings, current_user(request), cid,
                title=title, annotation=annotation, upload=uploads.get("file"),
            )  # fmt: skip
    except AppError as exc:
        if exc.status not in SHOWN_ON_PAGE or wants_json(request):
            raise
        fields = exc.details.get("fields", {})
        if exc.status in (413, 415):
            fields = {"file": exc.code}
        elif exc.status == 409:
            put_flash(request, "error", exc.message(request_locale(request)))
        return await _page(request, cid, status=exc.status, entry_errors=fields, values=values)
    _flash(request, "ok", "competitions.flash.entry_saved")
    return RedirectResponse(f"/competitions/{cid}", status_code=303)


async def entry_download(request: Request) -> Response:
    async with _db(request).read() as s:
        stored = await comp.entry_file(s, current_user(request), request.path_params["entry_id"])
    return file_response(request.app.state.runtime.settings, stored)


async def entry_score(request: Request) -> Response:
    cid, eid = request.path_params["id"], request.path_params["entry_id"]
    values, _ = await read_form(request)
    try:
        async with _db(request).transaction() as s:
            await comp.score_entry(
                s, current_user(request), cid, eid, {k: v for k, v in values.items() if isinstance(v, str)}
            )
    except AppError as exc:
        if exc.status not in (409, 422) or wants_json(request):
            raise
        if exc.status == 409:
            put_flash(request, "error", exc.message(request_locale(request)))
            return await _page(request, cid, status=409)
        return await _page(request, cid, status=422, score_errors={eid: exc.details.get("fields", {})})
    _flash(request, "ok", "competitions.flash.scored")
    return RedirectResponse(f"/competitions/{cid}#entry-{eid}", status_code=303)


async def results_publish(request: Request) -> Response:
    cid = request.path_params["id"]
    await read_form(request)
    try:
        async with _db(request).transaction() as s:
            await comp.publish_results(s, current_user(request), cid)
    except AppError as exc:
        if exc.status != 409 or wants_json(request):
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _page(request, cid, status=409)
    _flash(request, "ok", "competitions.flash.published")
    return RedirectResponse(f"/competitions/{cid}", status_code=303)


async def certificate_pdf(request: Request) -> Response:
    async with _db(request).read() as s:
        data = await comp.certificate_data(s, current_user(request), request.path_params["entry_id"])
    pdf = await asyncio.to_thread(render_certificate, data)
    name = certificate_filename(data)
    headers = {
        "Content-Disposition": f"attachment; filename=\"certificate-{data.number}.pdf\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


routes = [
    Route("/associations/{id:int}/competitions", competitions_list),
    Route("/associations/{id:int}/competitions/new", competition_new, methods=["GET", "POST"]),
    Route("/competitions/{id:int}", competition_detail),
    Route("/competitions/{id:int}/entry", entry_submit, methods=["POST"]),
    Route("/competitions/entries/{entry_id:int}/file", entry_download),
    Route("/competitions/{id:int}/entries/{entry_id:int}/scores", entry_score, methods=["POST"]),
    Route("/competitions/{id:int}/publish", results_publish, methods=["POST"]),
    Route("/competitions/entries/{entry_id:int}/certificate.pdf", certificate_pdf),
]
