"""HTTP routes of the consultations: the association's threads (with search), asking, the
thread with answers and the solution, the named experts, the live consultation button."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.year import consultations as domain
from server.errors import ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import field_messages as shared_field_messages
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render


class QuestionForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=domain.MAX_TITLE)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=domain.MAX_BODY)]


class AnswerForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=domain.MAX_BODY)]


class ExpertForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: int = Field(gt=0, le=domain.MAX_ID)


_db = request_database


def _flash(request: Request, key: str) -> None:
    put_flash(request, "ok", translate(key, request_locale(request)))


def field_messages(locale: str, fields: dict[str, str]) -> dict[str, str]:
    return shared_field_messages(locale, fields, "consultations")


async def _list_page(
    request: Request, association_id: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    q = request.query_params.get("q", "")[:200].strip()
    async with _db(request).read() as s:
        page = await domain.consultations_page(s, current_user(request), association_id, q)
    return render(
        request,
        "year/consultations/index.html",
        {
            "association": page.association,
            "page": page,
            "q": q,
            "errors": errors or {},
            "flash": take_flash(request),
        },
        status,
    )


async def consultations_list(request: Request) -> Response:
    return await _list_page(request, request.path_params["id"])


async def question_new(request: Request) -> Response:
    association_id = request.path_params["id"]
    user = current_user(request)
    async with _db(request).read() as s:
        association = await get_association(s, association_id)
        await require_member(s, user, association_id)
    values: dict[str, Any] = {}
    if request.method == "POST":
        try:
            values, form = await read_form(request, QuestionForm)
            assert form is not None
            async with _db(request).transaction() as s:
                question = await domain.ask_question(
                    s, user, association_id, title=form.title, body=form.body
                )
        except ValidationFailed as exc:
            return render(
                request,
                "year/consultations/form.html",
                {
                    "association": association,
                    "form": values,
                    "errors": field_messages(request_locale(request), exc.details.get("fields", {})),
                },
                422,
            )
        _flash(request, "consultations.flash.asked")
        return RedirectResponse(f"/consultations/{question.id}", status_code=303)
    return render(
        request, "year/consultations/form.html", {"association": association, "form": {}, "errors": {}}
    )


async def _thread_page(
    request: Request,
    question_id: int,
    *,
    errors: dict[str, str] | None = None,
    body: str = "",
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        view = await domain.thread_view(s, current_user(request), question_id)
    return render(
        request,
        "year/consultations/thread.html",
        {
            "association": view.association,
            "view": view,
            "q": view.question,
            "errors": errors or {},
            "body": body,
            "flash": take_flash(request),
        },
        status,
    )


async def thread(request: Request) -> Response:
    return await _thread_page(request, request.path_params["id"])


async def answer(request: Request) -> Response:
    qid = request.path_params["id"]
    values: dict[str, Any] = {}
    try:
        values, form = await read_form(request, AnswerForm)
        assert form is not None
        async with _db(request).transaction() as s:
            created = await domain.answer_question(s, current_user(request), qid, body=form.body)
    except ValidationFailed as exc:
        return await _thread_page(
            request,
            qid,
            errors=field_messages(request_locale(request), exc.details.get("fields", {})),
            body=str(values.get("body", "")),
            status=422,
        )
    _flash(request, "consultations.flash.answered")
    return RedirectResponse(f"/consultations/{qid}#answer-{created.id}", status_code=303)


async def solution(request: Request) -> Response:
    qid, aid = request.path_params["id"], request.path_params["aid"]
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.mark_solution(s, current_user(request), qid, aid)
    _flash(request, "consultations.flash.solution")
    return RedirectResponse(f"/consultations/{qid}#answer-{aid}", status_code=303)


async def live(request: Request) -> Response:
    qid = request.path_params["id"]
    await read_form(request)
    async with _db(request).transaction() as s:
        meeting = await domain.start_live_consultation(s, current_user(request), qid)
    _flash(request, "consultations.flash.live")
    return RedirectResponse(f"/meetings/{meeting.id}/edit", status_code=303)


async def expert_add(request: Request) -> Response:
    association_id = request.path_params["id"]
    try:
        _, form = await read_form(request, ExpertForm)
        assert form is not None
        async with _db(request).transaction() as s:
            await domain.add_expert(s, current_user(request), association_id, form.user_id)
    except ValidationFailed as exc:
        async with _db(request).read() as s:  # only a methodist gets the form back
            await require_methodist(s, current_user(request), association_id)
        return await _list_page(
            request,
            association_id,
            errors=field_messages(request_locale(request), exc.details.get("fields", {})),
            status=422,
        )
    _flash(request, "consultations.flash.expert_added")
    return RedirectResponse(f"/associations/{association_id}/consultations#experts", status_code=303)


async def expert_remove(request: Request) -> Response:
    association_id, uid = request.path_params["id"], request.path_params["uid"]
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.remove_expert(s, current_user(request), association_id, uid)
    _flash(request, "consultations.flash.expert_removed")
    return RedirectResponse(f"/associations/{association_id}/consultations#experts", status_code=303)


routes = [
    Route("/associations/{id:int}/consultations", consultations_list),
    Route("/associations/{id:int}/consultations/new", question_new, methods=["GET", "POST"]),
    Route("/associations/{id:int}/consultations/experts", expert_add, methods=["POST"]),
    Route("/associations/{id:int}/consultations/experts/{uid:int}/delete", expert_remove, methods=["POST"]),
    Route("/consultations/{id:int}", thread),
    Route("/consultations/{id:int}/answers", answer, methods=["POST"]),
    Route("/consultations/{id:int}/answers/{aid:int}/solution", solution, methods=["POST"]),
    Route("/consultations/{id:int}/live", live, methods=["POST"]),
]
