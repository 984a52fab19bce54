"""HTTP routes: topic proposals of an association (propose, support, accept, decline)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.community import topics as domain
from server.errors import AppError, ValidationFailed, validation_error_from_pydantic
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render
from server.workers import wake_outbox


class ProposeForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=300)]
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class SupportForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    on: Annotated[int, Field(ge=0, le=1)] = 1


class AcceptForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    school_year: Annotated[int, Field(ge=2000, le=2100)]


class DeclineForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


_db = request_database


def _messages(request: Request, exc: ValidationFailed) -> dict[str, str]:
    locale = request_locale(request)
    return {
        k.split(".")[0]: translate(f"topics.field.{k.split('.')[0]}", locale)
        for k in exc.details.get("fields", {})
    }


async def _board(
    request: Request,
    association_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    decline_for: int | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as s:
        board = await domain.topic_board(s, current_user(request), association_id)
    locale = request_locale(request)
    return render(
        request,
        "community/topics/list.html",
        {
            "board": board,
            "association": board.association,
            "values": values or {},
            "errors": errors or {},
            "decline_for": decline_for,
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def topics_page(request: Request) -> Response:
    association_id = request.path_params["id"]
    if request.method == "GET":
        return await _board(request, association_id)
    async with _db(request).read() as s:
        await require_member(s, current_user(request), association_id)
    values, _ = await read_form(request)
    try:
        form = ProposeForm.model_validate(values)
    except ValidationError as exc:
        err = validation_error_from_pydantic(exc)
        return await _board(
            request, association_id, values=values, errors=_messages(request, err), status=422
        )
    async with _db(request).transaction() as s:
        row = await domain.propose_topic(
            s, current_user(request), association_id, title=form.title, rationale=form.rationale
        )
    wake_outbox(request.app.state.runtime)
    put_flash(request, "ok", translate("topics.flash.proposed", request_locale(request)))
    return RedirectResponse(f"/associations/{association_id}/topics#topic-{row.id}", status_code=303)


async def _decide(request: Request, action: str) -> Response:
    pid = request.path_params["id"]
    user = current_user(request)
    async with _db(request).read() as s:  # rights first: a bad form from the wrong person is 403
        association_id = await domain.proposal_association(s, pid)
        if action == "support":
            await require_member(s, user, association_id)
        else:
            await require_methodist(s, user, association_id)
    values, _ = await read_form(request)
    try:
        if action == "support":
            support = SupportForm.model_validate(values)
            async with _db(request).transaction() as s:
                await domain.set_support(s, user, pid, on=bool(support.on))
            key = "topics.flash.supported" if support.on else "topics.flash.unsupported"
        elif action == "accept":
            accept = AcceptForm.model_validate(values)
            async with _db(request).transaction() as s:
                await domain.accept_topic(s, user, pid, school_year=accept.school_year)
            key = "topics.flash.accepted"
        else:
            try:
                decline = DeclineForm.model_validate(values)
            except ValidationError as exc:
                err = validation_error_from_pydantic(exc)
                return await _board(
                    request,
                    association_id,
                    values={f"reason_{pid}": values.get("reason", "")},
                    errors={f"reason_{pid}": _messages(request, err).get("reason", "")},
                    decline_for=pid,
                    status=422,
                )
            async with _db(request).transaction() as s:
                await domain.decline_topic(s, user, pid, reason=decline.reason)
            key = "topics.flash.declined"
    except ValidationError as exc:
        put_flash(request, "error", validation_error_from_pydantic(exc).message(request_locale(request)))
        return await _board(request, association_id, status=422)
    except AppError as exc:
        if exc.status not in (409, 422):
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _board(request, association_id, status=exc.status)
    wake_outbox(request.app.state.runtime)
    put_flash(request, "ok", translate(key, request_locale(request)))
    return RedirectResponse(f"/associations/{association_id}/topics#topic-{pid}", status_code=303)


async def topic_support(request: Request) -> Response:
    return await _decide(request, "support")


async def topic_accept(request: Request) -> Response:
    return await _decide(request, "accept")


async def topic_decline(request: Request) -> Response:
    return await _decide(request, "decline")


routes = [
    Route("/associations/{id:int}/topics", topics_page, methods=["GET", "POST"]),
    Route("/topics/{id:int}/support", topic_support, methods=["POST"]),
    Route("/topics/{id:int}/accept", topic_accept, methods=["POST"]),
    Route("/topics/{id:int}/decline", topic_decline, methods=["POST"]),
]
