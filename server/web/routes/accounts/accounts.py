"""HTTP routes: register, log in, log out, accept an invitation."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.domain.accounts import accounts, memberships
from server.domain.accounts.passwords import check_password_rule
from server.errors import AppError, RateLimited, ValidationFailed, validation_error_from_pydantic
from server.i18n import translate
from server.web.auth import current_user, login_session, logout_session, request_locale
from server.web.error_handlers import error_response, wants_json
from server.web.forms import field_messages as shared_field_messages
from server.web.forms import read_form
from server.web.templating import render

M = TypeVar("M", bound=BaseModel)
# A school or a college shares one address: the per-address limit is this many times the
# per-e-mail one (settings.login_attempts).
IP_LIMIT_FACTOR = 10


# ---------------------------------------------------------------- shared form plumbing


def field_messages(locale: str, fields: dict[str, str]) -> dict[str, str]:
    return shared_field_messages(locale, fields, "accounts")


def validate(schema: type[M], values: dict[str, Any], extra: dict[str, str] | None = None) -> M:
    """Validate a form; every problem (schema and ``extra``) is reported at once."""
    fields: dict[str, str] = {}
    model = None
    try:
        model = schema.model_validate(values)
    except ValidationError as exc:
        fields = validation_error_from_pydantic(exc).details["fields"]
    for name, code in (extra or {}).items():
        fields.setdefault(name, code)
    if fields or model is None:
        raise ValidationFailed(details={"fields": fields})
    return model


def form_failure(
    request: Request,
    template: str,
    context: dict[str, Any],
    error: AppError,
    headers: dict[str, str] | None = None,
) -> Response:
    """Re-render a form page with the error (and its field errors); JSON clients get the typed error."""
    if wants_json(request):
        return error_response(request, error)
    locale = request_locale(request)
    ctx = dict(context)
    ctx["errors"] = field_messages(locale, error.details.get("fields", {}))
    ctx["flash"] = [("error", error.message(locale))]
    response = render(request, template, ctx, error.status)
    response.headers.update(headers or {})
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def take_flash(request: Request) -> list[tuple[str, str]]:
    """Messages left by a redirecting POST for the next page of this area (session key 'flash')."""
    items = request.session.pop("flash", None) or []
    return [(str(k), str(v)) for k, v in items if isinstance(k, str) and isinstance(v, str)][:5]


def put_flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = [*request.session.get("flash", [])[-4:], [kind, text]]


REGISTRATIONS_PER_HOUR = 30


def login_ip_key(ip: str) -> str:
    return f"login:ip:{ip}"


def login_email_key(email: str) -> str:
    return "login:email:" + hashlib.sha256(accounts.normalise_email(email).encode()).hexdigest()[:32]


def login_pair_key(ip: str, email: str) -> str:
    return f"login:pair:{ip}:" + login_email_key(email).rpartition(":")[2]


class LoginThrottle:
    """Failed logins are counted per address, per account, and per account from one address.

    The attacker is throttled, not the owner: an address past its own limit is refused; an
    account past its limit is refused only to addresses that have failed on it in the window,
    so the owner, typing the right password from an address without failures, still gets in
    (and is told how many failed attempts there were). An attacker spreading guesses over many
    addresses gets one guess per address per window on a locked account.
    """

    def __init__(self, limiter: Any, attempts: int, window: int) -> None:
        self.limiter, self.attempts, self.window = limiter, attempts, window

    async def check(self, ip: str, email: str) -> int:
        """Raise RateLimited for a throttled address; else the account's failures so far."""
        if await self.limiter.count(login_ip_key(ip), self.window) >= self.attempts * IP_LIMIT_FACTOR:
            raise RateLimited(retry_after=self.window)
        failures = int(await self.limiter.count(login_email_key(email), self.window))
        if failures >= self.attempts and await self.limiter.count(login_pair_key(ip, email), self.window):
            raise RateLimited(retry_after=self.window)
        return failures

    async def failed(self, ip: str, email: str) -> None:
        for key in (login_ip_key(ip), login_email_key(email), login_pair_key(ip, email)):
            await self.limiter.add(key, self.window)

    async def succeeded(self, ip: str, email: str) -> None:
        await self.limiter.reset(login_pair_key(ip, email))
        await self.limiter.reset(login_email_key(email))


def safe_next(value: Any, default: str = "/") -> str:
    """Only a relative path on this site: no scheme, no host, no backslash tricks."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > 500:
        return default
    return value


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 and c not in "\r\n\t" for c in value):
        raise PydanticCustomError("control_chars", "control characters are not allowed")
    return value


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _no_control_chars(value) if isinstance(value, str) else value


def email_field(value: str) -> str:
    value = accounts.normalise_email(value)
    if not accounts.is_valid_email(value):
        raise PydanticCustomError("invalid_email", "invalid e-mail")
    return value


# ---------------------------------------------------------------- forms


# Passwords are taken exactly as typed (no stripping of spaces).
Password = Annotated[str, StringConstraints(strip_whitespace=False, max_length=accounts.PASSWORD_MAX)]


class LoginForm(Form):
    email: str = Field(max_length=accounts.EMAIL_MAX)
    password: Password
    next: str = Field(default="/", max_length=500)


class ProfileFields(Form):
    last_name: str = Field(min_length=1, max_length=accounts.NAME_MAX)
    first_name: str = Field(min_length=1, max_length=accounts.NAME_MAX)
    middle_name: str = Field(default="", max_length=accounts.NAME_MAX)
    position: str = Field(default="", max_length=accounts.POSITION_MAX)
    school: str = Field(default="", max_length=accounts.SCHOOL_MAX)
    password: Password = Field(min_length=1)
    password_confirm: Password = ""


class RegisterForm(ProfileFields):
    email: str = Field(max_length=accounts.EMAIL_MAX)

    _email = field_validator("email")(email_field)


def password_problems(values: dict[str, Any]) -> dict[str, str]:
    password, confirm = values.get("password"), values.get("password_confirm")
    problems: dict[str, str] = {}
    if isinstance(password, str) and password:
        try:
            check_password_rule(password)
        except ValidationFailed:
            problems["password"] = "weak_password"
        if password != confirm:
            problems["password_confirm"] = "password_mismatch"
    return problems


def registration(form: ProfileFields, email: str) -> accounts.Registration:
    return accounts.Registration(
        email=email,
        password=form.password,
        last_name=form.last_name,
        first_name=form.first_name,
        middle_name=form.middle_name,
        position=form.position,
        school=form.school,
    )


PROFILE_KEYS = ("email", "last_name", "first_name", "middle_name", "position", "school")


def refill(values: dict[str, Any]) -> dict[str, str]:
    return {k: v for k in PROFILE_KEYS if isinstance(v := values.get(k, ""), str)}


# ---------------------------------------------------------------- log in / out


async def login_page(request: Request) -> Response:
    context = {
        "next": safe_next(request.query_params.get("next")),
        "values": {},
        "flash": take_flash(request),
    }
    return render(request, "accounts/accounts/login.html", context)


async def login_submit(request: Request) -> Response:
    runtime = request.app.state.runtime
    settings = runtime.settings
    values, _ = await read_form(request)
    context = {"next": safe_next(values.get("next")), "values": refill(values)}
    try:
        form = validate(LoginForm, values)
        ip = request.client.host if request.client else "unknown"
        throttle = LoginThrottle(runtime.limiter, settings.login_attempts, settings.login_window_seconds)
        failures = await throttle.check(ip, form.email)
        async with runtime.db.read() as s:
            try:
                user = await accounts.authenticate(s, form.email, form.password)
            except accounts.InvalidCredentials:
                await throttle.failed(ip, form.email)
                raise
    except RateLimited as exc:
        headers = {"Retry-After": str(exc.params.get("retry_after", settings.login_window_seconds))}
        return form_failure(request, "accounts/accounts/login.html", context, exc, headers)
    except (ValidationFailed, accounts.InvalidCredentials) as exc:
        return form_failure(request, "accounts/accounts/login.html", context, exc)
    await throttle.succeeded(ip, form.email)
    login_session(request, user)
    if failures:
        put_flash(
            request, "warning", translate("accounts.login.failed_attempts", user.locale, count=failures)
        )
    return redirect(safe_next(form.next))


async def logout(request: Request) -> Response:
    await read_form(request)
    user = current_user(request)
    if user is not None:
        async with request.app.state.runtime.db.transaction() as s:
            await accounts.end_sessions(s, user.id)
    logout_session(request)
    return redirect("/login")


# ---------------------------------------------------------------- own password

PASSWORD_CHANGES_PER_HOUR = 10  # wrong current passwords included: a borrowed session cannot guess


class PasswordForm(Form):
    current_password: Password = Field(min_length=1)
    password: Password = Field(min_length=1)
    password_confirm: Password = ""


async def password_page(request: Request) -> Response:
    if current_user(request) is None:
        return redirect("/login?next=/account/password")
    return render(request, "accounts/accounts/password.html", {"values": {}, "flash": take_flash(request)})


async def password_submit(request: Request) -> Response:
    runtime = request.app.state.runtime
    user = current_user(request)
    values, _ = await read_form(request)
    if user is None:
        return redirect("/login?next=/account/password")
    template = "accounts/accounts/password.html"
    try:
        await runtime.limiter.hit(f"password:user:{user.id}", PASSWORD_CHANGES_PER_HOUR, 3600)
        form = validate(PasswordForm, values, password_problems(values))
        async with runtime.db.transaction() as s:
            changed = await accounts.change_password(s, user.id, form.current_password, form.password)
    except RateLimited as exc:
        return form_failure(request, template, {"values": {}}, exc, {"Retry-After": "3600"})
    except ValidationFailed as exc:
        return form_failure(request, template, {"values": {}}, exc)
    login_session(request, changed)  # this browser stays in; every other session has ended
    put_flash(request, "success", translate("accounts.password.changed", request_locale(request)))
    return redirect("/account/password")


# ---------------------------------------------------------------- register


async def register_page(request: Request) -> Response:
    return render(request, "accounts/accounts/register.html", {"values": {}})


async def register_submit(request: Request) -> Response:
    runtime = request.app.state.runtime
    values, _ = await read_form(request)
    context = {"values": refill(values)}
    ip = request.client.host if request.client else "unknown"
    try:
        # Accounts are cheap to request and costly to hash: a school shares one address, so
        # the limit is generous per hour, but a script cannot create accounts in bulk.
        await runtime.limiter.hit(f"register:ip:{ip}", REGISTRATIONS_PER_HOUR, 3600)
        form = validate(RegisterForm, values, password_problems(values))
        async with runtime.db.transaction() as s:
            user = await accounts.register_user(s, registration(form, form.email))
    except RateLimited as exc:
        return form_failure(request, "accounts/accounts/register.html", context, exc, {"Retry-After": "3600"})
    except (ValidationFailed, accounts.EmailTaken) as exc:
        return form_failure(request, "accounts/accounts/register.html", context, exc)
    login_session(request, user)
    return redirect("/")


# ---------------------------------------------------------------- invitations


async def _invitation_context(request: Request, token: str) -> dict[str, Any]:
    user = current_user(request)
    async with request.app.state.runtime.db.read() as s:
        view = await memberships.find_invitation(s, token)
        has_account = user is None and await accounts.user_by_email(s, view.invitation.email) is not None
    return {
        "token": token,
        "invitation": view.invitation,
        "association": view.association,
        "role_name": translate(f"accounts.role.{view.invitation.role.value}", request_locale(request)),
        "has_account": has_account,
        "values": {"email": view.invitation.email},
    }


async def invitation_page(request: Request) -> Response:
    context = await _invitation_context(request, request.path_params["token"])
    return render(request, "accounts/accounts/invitation.html", context)


async def invitation_accept(request: Request) -> Response:
    token = request.path_params["token"]
    await read_form(request)
    user = current_user(request)
    if user is None:
        return redirect(f"/login?next=/invitations/{token}")
    async with request.app.state.runtime.db.transaction() as s:
        membership = await memberships.accept_invitation(s, user, token)
    return redirect(f"/associations/{membership.association_id}")


async def invitation_register(request: Request) -> Response:
    token = request.path_params["token"]
    runtime = request.app.state.runtime
    values, _ = await read_form(request)
    try:
        form = validate(ProfileFields, values, password_problems(values))
        async with runtime.db.transaction() as s:
            view = await memberships.find_invitation(s, token)
            user = await accounts.register_user(s, registration(form, view.invitation.email))
            membership = await memberships.accept_invitation(s, user, token)
    except (ValidationFailed, accounts.EmailTaken) as exc:
        context = await _invitation_context(request, token)
        context["values"] = {**refill(values), "email": context["invitation"].email}
        return form_failure(request, "accounts/accounts/invitation.html", context, exc)
    login_session(request, user)
    return redirect(f"/associations/{membership.association_id}")


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account/password", password_page, methods=["GET"]),
    Route("/account/password", password_submit, methods=["POST"]),
    Route("/register", register_page, methods=["GET"]),
    Route("/register", register_submit, methods=["POST"]),
    Route("/invitations/{token}", invitation_page, methods=["GET"]),
    Route("/invitations/{token}/accept", invitation_accept, methods=["POST"]),
    Route("/invitations/{token}/register", invitation_register, methods=["POST"]),
]
