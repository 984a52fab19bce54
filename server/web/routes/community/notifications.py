"""HTTP routes: my notifications (read/unread) and my e-mail preferences per kind."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models.notifications import EmailMode, NotificationKind
from server.domain.accounts.permissions import require_login
from server.domain.community import notifications as domain
from server.errors import ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

KINDS = list(NotificationKind)
MODES = list(EmailMode)


_db = request_database


def _safe_next(url: str) -> str:
    """Only local paths (never //host or a scheme): no open redirect through a notification."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/notifications"


async def notifications_list(request: Request) -> Response:
    user = require_login(current_user(request))
    raw = request.query_params.get("page", "1")
    page = int(raw) if raw.isdigit() and len(raw) < 6 else 1
    unread_only = request.query_params.get("unread") == "1"
    async with _db(request).read() as s:
        data = await domain.list_notifications(s, user, page=page, unread_only=unread_only)
    return render(
        request,
        "community/notifications/list.html",
        {"data": data, "unread_only": unread_only, "flash": take_flash(request)},
    )


async def notification_open(request: Request) -> Response:
    """Mark read and go to what it is about."""
    await read_form(request)
    async with _db(request).transaction() as s:
        n = await domain.mark_read(s, current_user(request), request.path_params["id"])
        target = _safe_next(n.url)
    return RedirectResponse(target, status_code=303)


async def notification_read(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.mark_read(s, current_user(request), request.path_params["id"])
    return RedirectResponse("/notifications", status_code=303)


async def notification_unread(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.mark_unread(s, current_user(request), request.path_params["id"])
    return RedirectResponse("/notifications", status_code=303)


async def notifications_read_all(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.mark_all_read(s, current_user(request))
    put_flash(request, "ok", translate("notifications.flash.all_read", request_locale(request)))
    return RedirectResponse("/notifications", status_code=303)


def _settings_page(
    request: Request, modes: dict[NotificationKind, EmailMode], errors: dict[str, str], status: int = 200
) -> Response:
    locale = request_locale(request)
    return render(
        request,
        "community/notifications/settings.html",
        {
            "kinds": KINDS,
            "modes": MODES,
            "current": {k.value: m.value for k, m in modes.items()},
            "defaults": {k.value: m.value for k, m in domain.DEFAULT_EMAIL.items()},
            "errors": errors,
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def notification_settings(request: Request) -> Response:
    user = require_login(current_user(request))
    if request.method == "GET":
        async with _db(request).read() as s:
            modes = await domain.my_preferences(s, user)
        return _settings_page(request, modes, {})
    values, _ = await read_form(request)
    chosen: dict[NotificationKind, EmailMode] = {}
    errors: dict[str, str] = {}
    allowed = {m.value for m in MODES}
    for kind in KINDS:
        raw = values.get(kind.value)
        if raw is None:
            continue
        if not isinstance(raw, str) or raw not in allowed:
            errors[kind.value] = translate("notifications.field.mode", request_locale(request))
            continue
        chosen[kind] = EmailMode(raw)
    if errors:
        async with _db(request).read() as s:
            modes = await domain.my_preferences(s, user)
        shown = {**modes, **chosen}
        return _settings_page(request, shown, errors, ValidationFailed.status)
    async with _db(request).transaction() as s:
        await domain.save_preferences(s, user, chosen)
    put_flash(request, "ok", translate("notifications.flash.saved", request_locale(request)))
    return RedirectResponse("/notifications/settings", status_code=303)


routes = [
    Route("/notifications", notifications_list),
    Route("/notifications/settings", notification_settings, methods=["GET", "POST"]),
    Route("/notifications/read-all", notifications_read_all, methods=["POST"]),
    Route("/notifications/{id:int}/open", notification_open, methods=["POST"]),
    Route("/notifications/{id:int}/read", notification_read, methods=["POST"]),
    Route("/notifications/{id:int}/unread", notification_unread, methods=["POST"]),
]
