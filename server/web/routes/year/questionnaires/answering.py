"""Questionnaire pages: the questionnaire and its answer form, submitting."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.domain.year import questionnaires as dq
from server.errors import AppError, ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.routes.year.questionnaires.forms import error_codes, field_messages, flash
from server.web.templating import render


async def _answer_page(
    request: Request,
    qid: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with request_database(request).read() as s:
        page = await dq.answer_page(s, current_user(request), qid)
    return render(
        request,
        "year/questionnaires/answer.html",
        {
            "p": page,
            "q": page.q,
            "association": page.association,
            "values": values or {},
            "errors": field_messages(request, errors or {}),
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
        async with request_database(request).transaction() as s:
            await dq.submit_response(s, current_user(request), qid, values)
    except ValidationFailed as exc:
        return await _answer_page(request, qid, values=values, errors=error_codes(exc), status=422)
    except IntegrityError:  # the same person's concurrent submit (PostgreSQL, at commit)
        put_flash(request, "error", dq.q_error("already_answered").message(request_locale(request)))
        return await _answer_page(request, qid, status=409)
    except AppError as exc:
        if exc.status != 409:
            raise
        put_flash(request, "error", exc.message(request_locale(request)))
        return await _answer_page(request, qid, status=409)
    flash(request, "ok", "questionnaires.flash.answered")
    return RedirectResponse(f"/questionnaires/{qid}", status_code=303)
