"""HTTP routes: questionnaires (анкетирование) — the list and builder, answering, results with
charts and CSV, the needs report (DOCX/PDF, publishing to the documents section), top needs →
plan rows; panels on the meeting page and the dashboard. Thin: validate, one domain call.

GET  /associations/{id}/questionnaires                 list (+ create forms for methodists)
POST /associations/{id}/questionnaires                 create a blank draft
POST /associations/{id}/questionnaires/needs-template  create a draft from the needs template
GET  /questionnaires/{id}                              the questionnaire (answer form for members)
POST /questionnaires/{id}/answer                       submit (once per person)
GET|POST /questionnaires/{id}/edit                     builder: settings (drafts only)
POST /questionnaires/{id}/questions[/{qid}[/delete|/move]]
POST /questionnaires/{id}/publish | /close | /delete
GET  /questionnaires/{id}/results | /results.csv
GET  /questionnaires/{id}/report.docx | /report.pdf    needs-diagnostics questionnaires
POST /questionnaires/{id}/report/publish | /plan
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from markupsafe import Markup
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import server.domain.year.feedback  # noqa: F401  (registers the meeting-end hook and the mail job)
from server.charts import bar_chart
from server.db.models import Meeting, User
from server.db.models.questionnaires import QuestionKind
from server.domain.accounts.associations import MAX_ID, get_association
from server.domain.accounts.permissions import require_methodist
from server.domain.year import questionnaires as dq
from server.domain.year.plans import current_school_year, school_year_label
from server.errors import AppError, Conflict, ValidationFailed
from server.i18n import translate
from server.spreadsheet import csv_text
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.panels import panel
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import LOCAL_TZ, render

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"


_db = request_database


def _flash(request: Request, kind: str, key: str, **params: Any) -> None:
    put_flash(request, kind, translate(key, request_locale(request), **params))


def _field_messages(request: Request, errors: dict[str, str]) -> dict[str, str]:
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


def _codes(exc: ValidationError | ValidationFailed) -> dict[str, str]:
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
        return values, None, _codes(exc)


# --- list, create ----------------------------------------------------------------------------
async def _list_page(
    request: Request,
    association_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        page = await dq.list_page(s, current_user(request), association_id)
    return render(
        request,
        "year/questionnaires/list.html",
        {
            "page": page,
            "association": page.association,
            "form": form or {"anonymous": "1"},
            "errors": _field_messages(request, errors or {}),
            "error_message": translate("error.validation_failed", request_locale(request)) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def questionnaire_list(request: Request) -> Response:
    association_id = request.path_params["id"]
    if request.method == "GET":
        return await _list_page(request, association_id)
    values, form, errors = await _parse(request, SettingsForm)
    async with _db(request).read() as s:  # the rights before any validation message
        await get_association(s, association_id)
        await require_methodist(s, current_user(request), association_id)
    if form is not None:
        try:
            async with _db(request).transaction() as s:
                q = await dq.create_questionnaire(s, current_user(request), association_id, form.to_input())
        except ValidationFailed as exc:
            errors = _codes(exc)
        else:
            _flash(request, "ok", "questionnaires.flash.created")
            return RedirectResponse(f"/questionnaires/{q.id}/edit", status_code=303)
    return await _list_page(request, association_id, form=values, errors=errors, status=422)


async def from_template(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        q = await dq.create_from_needs_template(s, current_user(request), request.path_params["id"])
    _flash(request, "ok", "questionnaires.flash.created")
    return RedirectResponse(f"/questionnaires/{q.id}/edit", status_code=303)


# --- builder -----------------------------------------------------------------------------------
def _settings_values(q: Any) -> dict[str, Any]:
    def local(v: datetime | None) -> str:
        return v.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M") if v else ""

    return {
        "title": q.title,
        "description": q.description,
        "anonymous": "1" if q.anonymous else "",
        "opens_at": local(q.opens_at),
        "closes_at": local(q.closes_at),
        "meeting_id": str(q.meeting_id or ""),
    }


async def _builder(
    request: Request,
    qid: int,
    *,
    target: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        q = await dq.managed(s, current_user(request), qid)
        questions = await dq.questions_of(s, q.id)
        association = await get_association(s, q.association_id)
        meetings = await dq.upcoming_meetings(s, q.association_id)
        if q.meeting_id and all(m.id != q.meeting_id for m in meetings):
            attached = await s.get(Meeting, q.meeting_id)
            if attached is not None:
                meetings.insert(0, attached)
        responses = await dq.response_count(s, q.id)
    return render(
        request,
        "year/questionnaires/edit.html",
        {
            "q": q,
            "association": association,
            "questions": questions,
            "meetings": meetings,
            "responses": responses,
            "settings": values if target == "settings" and values is not None else _settings_values(q),
            "target": target,
            "values": values or {},
            "errors": _field_messages(request, errors or {}),
            "error_message": translate("error.validation_failed", request_locale(request)) if errors else "",
            "kinds": [k.value for k in QuestionKind],
            "flash": take_flash(request),
        },
        status,
    )


async def _guarded(request: Request, qid: int, action: Any, ok_key: str, to: str) -> Response:
    """Run a builder action; a state conflict (409) re-renders the page with the message."""
    try:
        await action
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return RedirectResponse(to, status_code=303)
    _flash(request, "ok", ok_key)
    return RedirectResponse(to, status_code=303)


async def questionnaire_edit(request: Request) -> Response:
    qid = request.path_params["id"]
    if request.method == "GET":
        return await _builder(request, qid)
    values, form, errors = await _parse(request, SettingsForm)
    if form is not None:
        try:
            async with _db(request).transaction() as s:
                await dq.update_settings(s, current_user(request), qid, form.to_input())
        except ValidationFailed as exc:
            errors = _codes(exc)
        else:
            _flash(request, "ok", "questionnaires.flash.saved")
            return RedirectResponse(f"/questionnaires/{qid}/edit", status_code=303)
    return await _builder(request, qid, target="settings", values=values, errors=errors, status=422)


async def question_add(request: Request) -> Response:
    qid = request.path_params["id"]
    values, form, errors = await _parse(request, QuestionForm)
    if form is not None:
        try:
            async with _db(request).transaction() as s:
                await dq.add_question(s, current_user(request), qid, form.to_input())
        except ValidationFailed as exc:
            errors = _codes(exc)
        else:
            _flash(request, "ok", "questionnaires.flash.question_added")
            return RedirectResponse(f"/questionnaires/{qid}/edit#new", status_code=303)
    return await _builder(request, qid, target="new", values=values, errors=errors, status=422)


async def question_update(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    values, form, errors = await _parse(request, QuestionForm)
    if form is not None:
        try:
            async with _db(request).transaction() as s:
                await dq.update_question(s, current_user(request), qid, question_id, form.to_input())
        except ValidationFailed as exc:
            errors = _codes(exc)
        else:
            _flash(request, "ok", "questionnaires.flash.saved")
            return RedirectResponse(f"/questionnaires/{qid}/edit#question-{question_id}", status_code=303)
    return await _builder(request, qid, target=str(question_id), values=values, errors=errors, status=422)


async def question_delete(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    await read_form(request)
    async with _db(request).transaction() as s:
        await dq.delete_question(s, current_user(request), qid, question_id)
    _flash(request, "ok", "questionnaires.flash.question_deleted")
    return RedirectResponse(f"/questionnaires/{qid}/edit", status_code=303)


async def question_move(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    _, form = await read_form(request, MoveForm)
    assert form is not None
    async with _db(request).transaction() as s:
        await dq.move_question(s, current_user(request), qid, question_id, form.direction)
    return RedirectResponse(f"/questionnaires/{qid}/edit#question-{question_id}", status_code=303)


async def questionnaire_publish(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)

    async def run() -> None:
        async with _db(request).transaction() as s:
            await dq.publish(s, current_user(request), qid)

    try:
        await run()
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _builder(request, qid, status=409)
    from server.workers import wake_outbox

    wake_outbox(request.app.state.runtime)
    _flash(request, "ok", "questionnaires.flash.published")
    return RedirectResponse(f"/questionnaires/{qid}", status_code=303)


async def questionnaire_close(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)

    async def run() -> None:
        async with _db(request).transaction() as s:
            await dq.close(s, current_user(request), qid)

    return await _guarded(
        request, qid, run(), "questionnaires.flash.closed", f"/questionnaires/{qid}/results"
    )


async def questionnaire_delete(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)
    async with _db(request).transaction() as s:
        association_id = await dq.delete_questionnaire(s, current_user(request), qid)
    _flash(request, "ok", "questionnaires.flash.deleted")
    return RedirectResponse(f"/associations/{association_id}/questionnaires", status_code=303)


# --- answering ---------------------------------------------------------------------------------
async def _answer_page(
    request: Request,
    qid: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        page = await dq.answer_page(s, current_user(request), qid)
    return render(
        request,
        "year/questionnaires/answer.html",
        {
            "p": page,
            "q": page.q,
            "association": page.association,
            "values": values or {},
            "errors": _field_messages(request, errors or {}),
            "error_message": translate("error.validation_failed", request_locale(request)) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def questionnaire_detail(request: Request) -> Response:
    return await _answer_page(request, request.path_params["id"])


async def questionnaire_answer(request: Request) -> Response:
    qid = request.path_params["id"]
    values, _ = await read_form(request)
    try:
        async with _db(request).transaction() as s:
            await dq.submit_response(s, current_user(request), qid, values)
    except ValidationFailed as exc:
        return await _answer_page(request, qid, values=values, errors=_codes(exc), status=422)
    except IntegrityError:  # the same person's concurrent submit (PostgreSQL, at commit)
        put_flash(request, "error", dq.q_error("already_answered").message(request_locale(request)))
        return await _answer_page(request, qid, status=409)
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _answer_page(request, qid, status=409)
    _flash(request, "ok", "questionnaires.flash.answered")
    return RedirectResponse(f"/questionnaires/{qid}", status_code=303)


# --- results -----------------------------------------------------------------------------------
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
    async with _db(request).read() as s:
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
    async with _db(request).read() as s:
        q, rows = await dq.export_rows(s, current_user(request), qid)
    headers = {"Content-Disposition": _disposition(f"Анкета {q.id} — ответы", "csv", f"questionnaire-{q.id}")}
    return Response(csv_text(rows).encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


async def _report(request: Request) -> dq.ReportFiles:
    async with _db(request).read() as s:
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
    async with _db(request).transaction() as s:
        version = await dq.publish_report(
            s, request.app.state.runtime.settings, current_user(request), qid, files
        )
    _flash(request, "ok", "questionnaires.flash.report_published", version=version.version)
    return RedirectResponse(f"/questionnaires/{qid}/results", status_code=303)


async def needs_plan(request: Request) -> Response:
    qid = request.path_params["id"]
    values, _ = await read_form(request)
    try:
        form = PlanForm.model_validate(values)
        async with _db(request).transaction() as s:
            added, skipped = await dq.needs_to_plan(
                s, current_user(request), qid, form.labels, form.school_year
            )
    except (ValidationError, ValidationFailed) as exc:
        loc = request_locale(request)
        codes = _codes(exc)
        put_flash(
            request, "error", "; ".join(translate(f"questionnaires.field.{c}", loc) for c in codes.values())
        )
        async with _db(request).read() as s:
            await dq.needs_questionnaire(s, current_user(request), qid)  # rights before the page
        return RedirectResponse(f"/questionnaires/{qid}/results#plan", status_code=303)
    except IntegrityError as exc:  # two first clicks created the year's plan at once
        raise Conflict() from exc
    _flash(request, "ok", "questionnaires.flash.plan", added=added, skipped=skipped)
    return RedirectResponse(f"/questionnaires/{qid}/results#plan", status_code=303)


# --- panels ------------------------------------------------------------------------------------
@panel("meeting", "year/questionnaires/_meeting_panel.html", order=40)
async def meeting_panel(session: Any, user: User | None, meeting: Meeting) -> dict[str, Any] | None:
    forms = await dq.meeting_forms(session, user, meeting)
    if forms is None:
        return None
    return {
        "f": forms,
        "accepting_pre": bool(forms.pre and dq.accepting(forms.pre)),
        "accepting_fb": bool(forms.feedback and dq.accepting(forms.feedback)),
    }


@panel("home", "year/questionnaires/_home_panel.html", order=60)
async def home_panel(session: Any, user: User | None, _subject: Any) -> dict[str, Any] | None:
    rows = await dq.open_for_me(session, user)
    return {"rows": rows} if rows else None


routes = [
    Route("/associations/{id:int}/questionnaires", questionnaire_list, methods=["GET", "POST"]),
    Route("/associations/{id:int}/questionnaires/needs-template", from_template, methods=["POST"]),
    Route("/questionnaires/{id:int}", questionnaire_detail),
    Route("/questionnaires/{id:int}/answer", questionnaire_answer, methods=["POST"]),
    Route("/questionnaires/{id:int}/edit", questionnaire_edit, methods=["GET", "POST"]),
    Route("/questionnaires/{id:int}/questions", question_add, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}", question_update, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}/delete", question_delete, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}/move", question_move, methods=["POST"]),
    Route("/questionnaires/{id:int}/publish", questionnaire_publish, methods=["POST"]),
    Route("/questionnaires/{id:int}/close", questionnaire_close, methods=["POST"]),
    Route("/questionnaires/{id:int}/delete", questionnaire_delete, methods=["POST"]),
    Route("/questionnaires/{id:int}/results", questionnaire_results),
    Route("/questionnaires/{id:int}/results.csv", results_csv),
    Route("/questionnaires/{id:int}/report.docx", report_docx),
    Route("/questionnaires/{id:int}/report.pdf", report_pdf),
    Route("/questionnaires/{id:int}/report/publish", report_publish, methods=["POST"]),
    Route("/questionnaires/{id:int}/plan", needs_plan, methods=["POST"]),
]
