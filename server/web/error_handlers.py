"""The one place where errors become HTTP responses (HTML for pages, JSON for the API)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.errors import AppError, BadRequest, NotFound, storage_full
from server.web.auth import request_locale

log = logging.getLogger("smo.errors")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def error_response(request: Request, error: AppError) -> Response:
    locale = request_locale(request)
    if wants_json(request):
        headers = {}
        if "retry_after" in error.params:
            headers["Retry-After"] = str(error.params["retry_after"])
        return JSONResponse({"error": error.to_dict(locale)}, status_code=error.status, headers=headers)
    if error.status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    from server.web.templating import render

    return render(request, "error.html", {"error": error, "message": error.message(locale)}, error.status)


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(request, NotFound())
    if exc.status_code == 405:
        return error_response(request, AppError("method_not_allowed", status=405))
    return error_response(request, BadRequest(status=exc.status_code))


async def internal_error(request: Request, exc: Exception) -> Response:
    full = storage_full(exc)
    if full is not None:
        log.error(
            "storage full: the request changed nothing", extra={"path": request.url.path, "error": repr(exc)}
        )
        return error_response(request, full)
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(request, AppError())


HANDLERS = {AppError: app_error, HTTPException: http_error, Exception: internal_error}
