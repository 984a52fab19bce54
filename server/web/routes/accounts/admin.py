"""HTTP routes: site administration (associations, methodists) and membership management."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.db.models import QuorumRule, Role
from server.domain.accounts import accounts, memberships
from server.domain.accounts.permissions import require_admin, require_methodist
from server.errors import NotFound, ValidationFailed
from server.i18n import translate
from server.web.auth import current_user, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import (
    Form,
    email_field,
    form_failure,
    put_flash,
    redirect,
    take_flash,
    validate,
)
from server.web.templating import render
from server.workers import wake_outbox

DESCRIPTION_MAX = 5000
ASSOCIATION_KEYS = ("name", "subject", "description", "founder_name", "place", "quorum_rule")
SWITCH_KEYS = ("transcription_default", "recording_default")  # checkboxes (docs/transcript.md)


class AssociationForm(Form):
    name: str = Field(min_length=1, max_length=300)
    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    founder_name: str = Field(default="", max_length=500)
    place: str = Field(default="онлайн", max_length=200)
    quorum_rule: QuorumRule = QuorumRule.more_than_half
    transcription_default: bool = False  # a checkbox: absent = off
    recording_default: bool = False

    def data(self) -> memberships.AssociationData:
        return memberships.AssociationData(**self.model_dump())


class EmailForm(Form):
    email: str = Field(max_length=254)

    _email = field_validator("email")(email_field)


class InviteForm(EmailForm):
    role: Role = Role.member


class RoleForm(Form):
    role: Role


def _id(request: Request, name: str = "id") -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or value > 2**31 - 1:
        raise NotFound()
    return value


def _refill(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k in keys if isinstance(v := values.get(k, ""), str)}


def _quorum_choices(request: Request) -> list[tuple[str, str]]:
    locale = request_locale(request)
    return [(q.value, translate(f"accounts.quorum.{q.value}", locale)) for q in QuorumRule]


def _role_choices(request: Request) -> list[tuple[str, str]]:
    locale = request_locale(request)
    return [(r.value, translate(f"accounts.role.{r.value}", locale)) for r in Role]


# ---------------------------------------------------------------- administration


async def admin_index(request: Request) -> Response:
    user = current_user(request)
    async with request.app.state.runtime.db.read() as s:
        associations = await memberships.list_associations(s, user)
        users = await memberships.list_users(s, user)
    context = {"associations": associations, "users": users, "flash": take_flash(request)}
    return render(request, "accounts/admin/index.html", context)


def _association_form_context(request: Request, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"values": values, "quorum_choices": _quorum_choices(request), **extra}


async def association_new_page(request: Request) -> Response:
    require_admin(current_user(request))
    defaults = {"place": "онлайн", "quorum_rule": QuorumRule.more_than_half.value}
    return render(
        request, "accounts/admin/association_form.html", _association_form_context(request, defaults)
    )


async def association_new_submit(request: Request) -> Response:
    user = require_admin(current_user(request))
    runtime = request.app.state.runtime
    values, _ = await read_form(request)
    try:
        form = validate(AssociationForm, values)
    except ValidationFailed as exc:
        context = _association_form_context(request, _refill(values, ASSOCIATION_KEYS + SWITCH_KEYS))
        return form_failure(request, "accounts/admin/association_form.html", context, exc)
    async with runtime.db.transaction() as s:
        association = await memberships.create_association(s, user, form.data())
    put_flash(request, "ok", translate("accounts.admin.created", request_locale(request)))
    return redirect(f"/admin/associations/{association.id}/edit")


async def _edit_context(
    request: Request, association_id: int, values: dict[str, Any] | None
) -> dict[str, Any]:
    async with request.app.state.runtime.db.read() as s:
        association = await memberships.get_association(s, association_id)
        members = await memberships.list_members(s, association_id)
    if values is None:
        values = {k: str(getattr(association, k)) for k in ASSOCIATION_KEYS}
        values.update({k: "on" for k in SWITCH_KEYS if getattr(association, k)})
    methodists = [m.user for m in members if m.role == Role.methodist]
    return _association_form_context(request, values, association=association, methodists=methodists)


async def association_edit_page(request: Request) -> Response:
    require_admin(current_user(request))
    context = await _edit_context(request, _id(request), None)
    context["flash"] = take_flash(request)
    return render(request, "accounts/admin/association_form.html", context)


async def association_edit_submit(request: Request) -> Response:
    user = require_admin(current_user(request))
    association_id = _id(request)
    values, _ = await read_form(request)
    try:
        form = validate(AssociationForm, values)
    except ValidationFailed as exc:
        context = await _edit_context(
            request, association_id, _refill(values, ASSOCIATION_KEYS + SWITCH_KEYS)
        )
        return form_failure(request, "accounts/admin/association_form.html", context, exc)
    async with request.app.state.runtime.db.transaction() as s:
        await memberships.update_association(s, user, association_id, form.data())
    put_flash(request, "ok", translate("accounts.admin.saved", request_locale(request)))
    return redirect(f"/admin/associations/{association_id}/edit")


async def appoint_methodist(request: Request) -> Response:
    user = require_admin(current_user(request))
    association_id = _id(request)
    runtime = request.app.state.runtime
    values, _ = await read_form(request)
    try:
        form = validate(EmailForm, values)
        async with runtime.db.transaction() as s:
            result = await memberships.appoint_methodist(
                s, user, association_id, form.email, runtime.settings.public_url
            )
    except ValidationFailed as exc:
        context = await _edit_context(request, association_id, None)
        context["methodist_email"] = values.get("email") if isinstance(values.get("email"), str) else ""
        exc.details = {"fields": {"methodist_email": exc.details.get("fields", {}).get("email", "invalid")}}
        return form_failure(request, "accounts/admin/association_form.html", context, exc)
    locale = request_locale(request)
    if result.invitation is not None:
        wake_outbox(runtime)
        put_flash(request, "ok", translate("accounts.admin.methodist_invited", locale, email=form.email))
    else:
        put_flash(request, "ok", translate("accounts.admin.methodist_appointed", locale, email=form.email))
    return redirect(f"/admin/associations/{association_id}/edit")


# ---------------------------------------------------------------- membership management


async def invite_page(request: Request) -> Response:
    association_id = _id(request)
    async with request.app.state.runtime.db.read() as s:
        association = await memberships.get_association(s, association_id)
        await require_methodist(s, current_user(request), association_id)
    context = {
        "association": association,
        "values": {"role": Role.member.value},
        "roles": _role_choices(request),
    }
    return render(request, "accounts/admin/invite.html", context)


async def invite_submit(request: Request) -> Response:
    association_id = _id(request)
    runtime = request.app.state.runtime
    values, _ = await read_form(request)
    try:
        form = validate(InviteForm, values)
        async with runtime.db.transaction() as s:
            await memberships.invite(
                s, current_user(request), association_id, form.email, form.role, runtime.settings.public_url
            )
    except (ValidationFailed, memberships.AlreadyMember) as exc:
        async with runtime.db.read() as s:
            association = await memberships.get_association(s, association_id)
            await require_methodist(s, current_user(request), association_id)
        context = {
            "association": association,
            "values": _refill(values, ("email", "role")),
            "roles": _role_choices(request),
        }
        return form_failure(request, "accounts/admin/invite.html", context, exc)
    wake_outbox(runtime)
    return redirect(f"/associations/{association_id}#members")


async def member_role(request: Request) -> Response:
    association_id, user_id = _id(request), _id(request, "user_id")
    values, _ = await read_form(request)
    form = validate(RoleForm, values)
    async with request.app.state.runtime.db.transaction() as s:
        await memberships.change_role(s, current_user(request), association_id, user_id, form.role)
    return redirect(f"/associations/{association_id}#members")


async def member_remove(request: Request) -> Response:
    association_id, user_id = _id(request), _id(request, "user_id")
    await read_form(request)
    async with request.app.state.runtime.db.transaction() as s:
        await memberships.remove_member(s, current_user(request), association_id, user_id)
    return redirect(f"/associations/{association_id}#members")


async def user_block(request: Request) -> Response:
    return await _set_blocked(request, True)


async def user_unblock(request: Request) -> Response:
    return await _set_blocked(request, False)


async def _set_blocked(request: Request, blocked: bool) -> Response:
    user_id = _id(request)
    await read_form(request)
    runtime = request.app.state.runtime
    async with runtime.db.transaction() as s:
        person = await accounts.set_blocked(s, current_user(request), user_id, blocked)
    if blocked and runtime.live is not None:
        await runtime.live.end_connections(f"u:{person.id}")
    key = "accounts.admin.blocked" if blocked else "accounts.admin.unblocked"
    put_flash(request, "success", translate(key, request_locale(request), name=person.full_name))
    return redirect("/admin#users")


routes: list[BaseRoute] = [
    Route("/admin", admin_index, methods=["GET"]),
    Route("/admin/users/{id:int}/block", user_block, methods=["POST"]),
    Route("/admin/users/{id:int}/unblock", user_unblock, methods=["POST"]),
    Route("/admin/associations/new", association_new_page, methods=["GET"]),
    Route("/admin/associations/new", association_new_submit, methods=["POST"]),
    Route("/admin/associations/{id:int}/edit", association_edit_page, methods=["GET"]),
    Route("/admin/associations/{id:int}/edit", association_edit_submit, methods=["POST"]),
    Route("/admin/associations/{id:int}/methodists", appoint_methodist, methods=["POST"]),
    Route("/associations/{id:int}/invitations/new", invite_page, methods=["GET"]),
    Route("/associations/{id:int}/invitations", invite_submit, methods=["POST"]),
    Route("/associations/{id:int}/members/{user_id:int}/role", member_role, methods=["POST"]),
    Route("/associations/{id:int}/members/{user_id:int}/remove", member_remove, methods=["POST"]),
]
