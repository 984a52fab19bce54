"""Questionnaire pages: the association's list, creating, the builder's forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.db.models import Meeting
from server.db.models.questionnaires import QuestionKind
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_methodist
from server.domain.year import questionnaires as dq
from server.errors import AppError, ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.routes.year.questionnaires.forms import (
    MoveForm,
    QuestionForm,
    SettingsForm,
    _parse,
    error_codes,
    field_messages,
    flash,
)
from server.web.templating import LOCAL_TZ, render


async def _list_page(
    request: Request,
    association_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with request_database(request).read() as s:
        page = await dq.list_page(s, current_user(request), association_id)
    return render(
        request,
        "year/questionnaires/list.html",
        {
            "page": page,
            "association": page.association,
            "form": form or {"anonymous": "1"},
            "errors": field_messages(request, errors or {}),
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
    async with request_database(request).read() as s:  # the rights before any validation message
        await get_association(s, association_id)
        await require_methodist(s, current_user(request), association_id)
    if form is not None:
        try:
            async with request_database(request).transaction() as s:
                q = await dq.create_questionnaire(s, current_user(request), association_id, form.to_input())
        except ValidationFailed as exc:
            errors = error_codes(exc)
        else:
            flash(request, "ok", "questionnaires.flash.created")
            return RedirectResponse(f"/questionnaires/{q.id}/edit", status_code=303)
    return await _list_page(request, association_id, form=values, errors=errors, status=422)


async def from_template(request: Request) -> Response:
    await read_form(request)
    async with request_database(request).transaction() as s:
        q = await dq.create_from_needs_template(s, current_user(request), request.path_params["id"])
    flash(request, "ok", "questionnaires.flash.created")
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
    async with request_database(request).read() as s:
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
            "errors": field_messages(request, errors or {}),
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
    flash(request, "ok", ok_key)
    return RedirectResponse(to, status_code=303)


async def questionnaire_edit(request: Request) -> Response:
    qid = request.path_params["id"]
    if request.method == "GET":
        return await _builder(request, qid)
    values, form, errors = await _parse(request, SettingsForm)
    if form is not None:
        try:
            async with request_database(request).transaction() as s:
                await dq.update_settings(s, current_user(request), qid, form.to_input())
        except ValidationFailed as exc:
            errors = error_codes(exc)
        else:
            flash(request, "ok", "questionnaires.flash.saved")
            return RedirectResponse(f"/questionnaires/{qid}/edit", status_code=303)
    return await _builder(request, qid, target="settings", values=values, errors=errors, status=422)


async def question_add(request: Request) -> Response:
    qid = request.path_params["id"]
    values, form, errors = await _parse(request, QuestionForm)
    if form is not None:
        try:
            async with request_database(request).transaction() as s:
                await dq.add_question(s, current_user(request), qid, form.to_input())
        except ValidationFailed as exc:
            errors = error_codes(exc)
        else:
            flash(request, "ok", "questionnaires.flash.question_added")
            return RedirectResponse(f"/questionnaires/{qid}/edit#new", status_code=303)
    return await _builder(request, qid, target="new", values=values, errors=errors, status=422)


async def question_update(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    values, form, errors = await _parse(request, QuestionForm)
    if form is not None:
        try:
            async with request_database(request).transaction() as s:
                await dq.update_question(s, current_user(request), qid, question_id, form.to_input())
        except ValidationFailed as exc:
            errors = error_codes(exc)
        else:
            flash(request, "ok", "questionnaires.flash.saved")
            return RedirectResponse(f"/questionnaires/{qid}/edit#question-{question_id}", status_code=303)
    return await _builder(request, qid, target=str(question_id), values=values, errors=errors, status=422)


async def question_delete(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    await read_form(request)
    async with request_database(request).transaction() as s:
        await dq.delete_question(s, current_user(request), qid, question_id)
    flash(request, "ok", "questionnaires.flash.question_deleted")
    return RedirectResponse(f"/questionnaires/{qid}/edit", status_code=303)


async def question_move(request: Request) -> Response:
    qid, question_id = request.path_params["id"], request.path_params["question_id"]
    _, form = await read_form(request, MoveForm)
    assert form is not None
    async with request_database(request).transaction() as s:
        await dq.move_question(s, current_user(request), qid, question_id, form.direction)
    return RedirectResponse(f"/questionnaires/{qid}/edit#question-{question_id}", status_code=303)


async def questionnaire_publish(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)

    async def run() -> None:
        async with request_database(request).transaction() as s:
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
    flash(request, "ok", "questionnaires.flash.published")
    return RedirectResponse(f"/questionnaires/{qid}", status_code=303)


async def questionnaire_close(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)

    async def run() -> None:
        async with request_database(request).transaction() as s:
            await dq.close(s, current_user(request), qid)

    return await _guarded(
        request, qid, run(), "questionnaires.flash.closed", f"/questionnaires/{qid}/results"
    )


async def questionnaire_delete(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)
    async with request_database(request).transaction() as s:
        association_id = await dq.delete_questionnaire(s, current_user(request), qid)
    flash(request, "ok", "questionnaires.flash.deleted")
    return RedirectResponse(f"/associations/{association_id}/questionnaires", status_code=303)
