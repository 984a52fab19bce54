"""Health check, message catalogues for the browser, language switch."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.errors import NotFound
from server.i18n import LOCALES, catalogue


async def healthz(request: Request) -> Response:
    runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.db.ping(), 5)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if runtime.redis is not None:
        try:
            await asyncio.wait_for(runtime.redis.ping(), 5)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    # Transcription is optional: its state (and why it cannot run) is reported, not required.
    service = runtime.services.get("transcriber")
    transcription = service.status() if service is not None else {"status": "disabled"}
    media_status = runtime.services.get("media_status")  # realtime/media/service.py
    media = media_status() if media_status is not None else {"status": "disabled"}
    return JSONResponse(
        {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "transcription": transcription,
            "media": media,
        },
        status_code=200 if healthy else 503,
    )


async def i18n_catalogue(request: Request) -> Response:
    locale = request.path_params["locale"]
    if locale not in LOCALES:
        raise NotFound()
    return JSONResponse(catalogue(locale), headers={"Cache-Control": "public, max-age=300"})


async def set_language(request: Request) -> Response:
    locale = request.path_params["locale"]
    if locale not in LOCALES:
        raise NotFound()
    back = request.query_params.get("next", "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


routes = [
    Route("/healthz", healthz),
    Route("/i18n/{locale}.json", i18n_catalogue),
    Route("/lang/{locale}", set_language),
]
