"""Sessions (the signed cookie: server/sessions.py), the current user, CSRF tokens, the request's
locale."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import HTTPConnection, Request

from server.db.engine import Database
from server.db.models import User
from server.errors import CsrfFailed, Unauthenticated
from server.i18n import LOCALES


def login_session(request: Request, user: User) -> None:
    request.session.clear()
    request.session["uid"] = user.id
    request.session["sv"] = user.session_version
    request.session["csrf"] = secrets.token_urlsafe(32)


def logout_session(request: Request) -> None:
    """Clear this browser's session; ``accounts.end_sessions`` ends every copy of it."""
    request.session.clear()


def csrf_token(request: HTTPConnection) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), str(submitted)):
        raise CsrfFailed()


def current_user(request: HTTPConnection) -> User | None:
    return request.scope.get("user")


def require_user(request: HTTPConnection) -> User:
    user = current_user(request)
    if user is None:
        raise Unauthenticated()
    return user


def request_locale(request: HTTPConnection) -> str:
    lang = request.cookies.get("lang")
    if lang in LOCALES:
        return str(lang)
    user = request.scope.get("user")
    if user is not None and user.locale in LOCALES:
        return str(user.locale)
    return str(request.app.state.runtime.settings.default_locale)


def request_database(request: Request) -> Database:
    """The runtime's database, for handlers."""
    db: Database = request.app.state.runtime.db
    return db
