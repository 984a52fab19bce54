"""HTTP routes of the yearly work plan: the page (with the year switcher), the head and the
rows (add, edit, delete, move), a meeting from a row, DOCX/PDF, and publishing to the library.

Importing this module registers the plan's meeting hook (server.domain.year.plans).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models import Meeting, PlanRow, User, WorkPlan
from server.domain.protocol import render_docx, render_pdf
from server.domain.year.plans import (
    FORM_LABELS,
    PlanHeaderInput,
    PlanRowInput,
    check_editor,
    check_publishable,
    check_year,
    create_meeting_from_row,
    create_row,
    current_school_year,
    delete_row,
    file_stem,
    move_row,
    plan_document,
    plan_page,
    plan_row_of_meeting,
    publish_plan,
    row_for_edit,
    save_header,
    school_year_label,
    update_row,
)
from server.errors import AppError, BadRequest, NotFound, ValidationFailed
from server.files.kinds import DOCX, PDF
from server.files.store import content_disposition
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.panels import panel
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

FORM_CHOICES = list(FORM_LABELS.values())
EMPTY_ROW = {
    "topic": "",
    "questions": "",
    "form": "",
    "planned_date": "",
    "dates_text": "",
    "responsible": "",
}


_db = request_database


def _flash(request: Request, kind: str, key: str, **params: Any) -> None:
    put_flash(request, kind, translate(key, request_locale(request), **params))


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise BadRequest() from exc


def _code(error_type: str) -> str:
    if error_type in ("missing", "string_too_short"):
        return "required"
    if error_type == "string_too_long":
        return "too_long"
    if error_type == "outside_year":
        return "outside_year"
    if error_type.startswith("date"):
        return "bad_date"
    return "invalid"


def _field_errors(request: Request, fields: dict[str, str]) -> dict[str, str]:
    locale = request_locale(request)
    return {
        name.split(".")[0]: translate(f"plan.field.{_code(code)}", locale) for name, code in fields.items()
    }


def _validate(schema: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err.get("loc", ())) or "_": str(err.get("type")) for err in exc.errors()
        }
        raise ValidationFailed(details={"fields": fields}) from exc


def _shown(values: dict[str, Any], keys: dict[str, str]) -> dict[str, str]:
    return {k: v if isinstance(v := values.get(k, d), str) else "" for k, d in keys.items()}


def _year_of(request: Request) -> int:
    raw = request.query_params.get("year")
    return check_year(_int(raw)) if raw else current_school_year()


async def _page(
    request: Request,
    association_id: int,
    year: int,
    *,
    status: int = 200,
    header_form: dict[str, str] | None = None,
    header_errors: dict[str, str] | None = None,
    row_form: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
) -> Response:
    async with _db(request).read() as s:
        page = await plan_page(s, current_user(request), association_id, year)
    plan = page.plan
    locale = request_locale(request)
    errors = bool(header_errors or row_errors)
    return render(
        request,
        "year/plan/index.html",
        {
            "page": page,
            "association": page.association,
            "forms": FORM_CHOICES,
            "header_form": header_form
            or {
                "theme": plan.theme if plan else "",
                "goal": plan.goal if plan else "",
                "tasks": plan.tasks if plan else "",
            },
            "header_errors": header_errors or {},
            "row_form": row_form or EMPTY_ROW,
            "row_errors": row_errors or {},
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def plan_index(request: Request) -> Response:
    return await _page(request, request.path_params["id"], _year_of(request))


async def _act(request: Request, association_id: int, year: int, action: Any, ok_key: str) -> Response:
    """Run a state-changing action; a conflict is shown on the plan page with its status."""
    try:
        result = await action
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _page(request, association_id, year, status=exc.status)
    if isinstance(result, Response):
        return result
    _flash(request, "ok", ok_key)
    return RedirectResponse(f"/associations/{association_id}/plan?year={year}", status_code=303)


async def plan_header(request: Request) -> Response:
    aid = request.path_params["id"]
    values, _ = await read_form(request)
    year = check_year(_int(values.get("year")))
    async with _db(request).read() as s:  # permission first: an outsider gets 403, not the form
        await check_editor(s, current_user(request), aid)
    try:
        data = _validate(PlanHeaderInput, values)
        async with _db(request).transaction() as s:
            await save_header(s, current_user(request), aid, year, data)
    except ValidationFailed as exc:
        return await _page(
            request,
            aid,
            year,
            status=422,
            header_form=_shown(values, {"theme": "", "goal": "", "tasks": ""}),
            header_errors=_field_errors(request, exc.details.get("fields", {})),
        )
    _flash(request, "ok", "plan.flash.header_saved")
    return RedirectResponse(f"/associations/{aid}/plan?year={year}", status_code=303)


async def plan_row_add(request: Request) -> Response:
    aid = request.path_params["id"]
    values, _ = await read_form(request)
    year = check_year(_int(values.get("year")))
    async with _db(request).read() as s:
        await check_editor(s, current_user(request), aid)

    async def run() -> None:
        data = _validate(PlanRowInput, values)
        async with _db(request).transaction() as s:
            await create_row(s, current_user(request), aid, year, data)

    try:
        return await _act(request, aid, year, run(), "plan.flash.row_added")
    except ValidationFailed as exc:
        return await _page(
            request,
            aid,
            year,
            status=422,
            row_form=_shown(values, EMPTY_ROW),
            row_errors=_field_errors(request, exc.details.get("fields", {})),
        )


def _row_values(row: PlanRow) -> dict[str, str]:
    return {
        "topic": row.topic,
        "questions": row.questions,
        "form": row.form,
        "planned_date": row.planned_date.isoformat() if row.planned_date else "",
        "dates_text": row.dates_text,
        "responsible": row.responsible,
    }


async def plan_row_edit(request: Request) -> Response:
    aid, rid = request.path_params["id"], request.path_params["row_id"]
    user = current_user(request)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, _ = await read_form(request)
        async with _db(request).read() as s:
            await row_for_edit(s, user, aid, rid)  # 403/404 before validating anything
        try:
            data = _validate(PlanRowInput, values)
            async with _db(request).transaction() as s:
                row = await update_row(s, user, aid, rid, data)
                plan = await s.get(WorkPlan, row.plan_id)
                year = plan.school_year if plan else current_school_year()
        except ValidationFailed as exc:
            errors = _field_errors(request, exc.details.get("fields", {}))
        else:
            _flash(request, "ok", "plan.flash.row_saved")
            return RedirectResponse(f"/associations/{aid}/plan?year={year}#row-{row.id}", status_code=303)
    async with _db(request).read() as s:
        association, row, plan, names = await row_for_edit(s, user, aid, rid)
    locale = request_locale(request)
    return render(
        request,
        "year/plan/row_form.html",
        {
            "association": association,
            "row": row,
            "plan": plan,
            "form": _shown(values, EMPTY_ROW) if errors else _row_values(row),
            "errors": errors,
            "forms": FORM_CHOICES,
            "member_names": names,
            "error_message": translate("error.validation_failed", locale) if errors else "",
        },
        422 if errors else 200,
    )


async def _row_action(request: Request, kind: str) -> Response:
    aid, rid = request.path_params["id"], request.path_params["row_id"]
    user = current_user(request)
    values, _ = await read_form(request)
    async with _db(request).read() as s:
        _, _, plan, _ = await row_for_edit(s, user, aid, rid)
    year = plan.school_year

    async def run() -> Response | None:
        async with _db(request).transaction() as s:
            if kind == "delete":
                await delete_row(s, user, aid, rid)
            elif kind == "move":
                await move_row(s, user, aid, rid, _int(values.get("position")))
            else:
                meeting = await create_meeting_from_row(s, user, aid, rid)
                return RedirectResponse(f"/meetings/{meeting.id}/edit", status_code=303)
        return None

    return await _act(request, aid, year, run(), f"plan.flash.row_{kind}")


async def plan_row_delete(request: Request) -> Response:
    return await _row_action(request, "delete")


async def plan_row_move(request: Request) -> Response:
    return await _row_action(request, "move")


async def plan_row_meeting(request: Request) -> Response:
    return await _row_action(request, "meeting")


async def _rendered(request: Request, year: int) -> tuple[str, bytes, bytes]:
    async with _db(request).read() as s:
        page, blocks = await plan_document(s, current_user(request), request.path_params["id"], year)
    docx = await asyncio.to_thread(render_docx, blocks)
    pdf = await asyncio.to_thread(render_pdf, blocks, title=f"План работы на {page.label} учебный год")
    return file_stem(year), docx, pdf


async def plan_download(request: Request) -> Response:
    year = check_year(request.path_params["year"])
    ext = request.path_params["ext"]
    if ext not in ("docx", "pdf"):
        raise NotFound()
    async with _db(request).read() as s:
        page, blocks = await plan_document(s, current_user(request), request.path_params["id"], year)
    if ext == "docx":
        data, kind = await asyncio.to_thread(render_docx, blocks), DOCX
    else:
        title = f"План работы на {page.label} учебный год"
        data, kind = await asyncio.to_thread(render_pdf, blocks, title=title), PDF
    headers = {"Content-Disposition": content_disposition(f"{file_stem(year)}.{ext}")}
    return Response(data, media_type=kind.content_type, headers=headers)


async def plan_publish(request: Request) -> Response:
    aid = request.path_params["id"]
    values, _ = await read_form(request)
    year = check_year(_int(values.get("year")))

    async def run() -> None:
        async with _db(request).read() as s:  # refuse early, before rendering anything
            await check_publishable(s, current_user(request), aid, year)
        _, docx, pdf = await _rendered(request, year)
        async with _db(request).transaction() as s:
            version = await publish_plan(
                s, request.app.state.settings, current_user(request), aid, year, docx=docx, pdf=pdf
            )
        _flash(request, "ok", "plan.flash.published", version=version.version)

    try:
        await run()
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _page(request, aid, year, status=exc.status)
    return RedirectResponse(f"/associations/{aid}/plan?year={year}", status_code=303)


@panel("meeting_aside", "year/plan/_meeting_panel.html", order=20)
async def plan_panel(session: AsyncSession, user: User | None, meeting: Meeting) -> dict[str, Any] | None:
    """On the meeting page: the plan row the meeting was created from (the page checked access)."""
    found = await plan_row_of_meeting(session, meeting.id)
    if found is None:
        return None
    row, plan = found
    return {"row": row, "plan": plan, "label": school_year_label(plan.school_year)}


routes = [
    Route("/associations/{id:int}/plan", plan_index),
    Route("/associations/{id:int}/plan/header", plan_header, methods=["POST"]),
    Route("/associations/{id:int}/plan/rows", plan_row_add, methods=["POST"]),
    Route("/associations/{id:int}/plan/rows/{row_id:int}", plan_row_edit, methods=["GET", "POST"]),
    Route("/associations/{id:int}/plan/rows/{row_id:int}/delete", plan_row_delete, methods=["POST"]),
    Route("/associations/{id:int}/plan/rows/{row_id:int}/move", plan_row_move, methods=["POST"]),
    Route("/associations/{id:int}/plan/rows/{row_id:int}/meeting", plan_row_meeting, methods=["POST"]),
    Route("/associations/{id:int}/plan/publish", plan_publish, methods=["POST"]),
    Route("/associations/{id:int}/plan/{year:int}.{ext:str}", plan_download),
]
