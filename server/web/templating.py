"""Jinja2 environment: autoescaped templates, the message catalogue, CSRF field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.domain.community.announcements import linkify
from server.i18n import translate
from server.web.auth import csrf_token, request_locale

TEMPLATES = Path(__file__).parent / "templates"
# The region (Kostroma) lives on Moscow time; all times are shown in it.
LOCAL_TZ = ZoneInfo("Europe/Moscow")

_MONTHS_GEN = [
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
]  # fmt: skip


def local_time(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def long_date(value: datetime | None) -> str:
    """«25 ноября 2026 г.»"""
    if value is None:
        return ""
    v = value.astimezone(LOCAL_TZ)
    return f"{v.day} {_MONTHS_GEN[v.month - 1]} {v.year} г."


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["long_date"] = long_date
    env.filters["linkify"] = linkify  # plain text with safe http(s) links (announcements)
    return env


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    env: Environment = request.app.state.templates
    locale = request_locale(request)

    def t(key: str, **params: Any) -> str:
        return translate(key, locale, **params)

    def csrf_input() -> Markup:
        return Markup(f'<input type="hidden" name="csrf_token" value="{escape(csrf_token(request))}">')

    ctx = {
        "request": request,
        "t": t,
        "locale": locale,
        "csrf_input": csrf_input,
        "csrf_token": csrf_token(request),
        "user": request.scope.get("user"),
        # Unread notifications of the logged-in user (one COUNT, CurrentUserMiddleware).
        "unread_notifications": request.scope.get("unread_notifications", 0),
    }
    if context:
        ctx.update(context)
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status)
