"""HTTP routes: planning meetings, the meeting page, its JSON form, and the guest entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.db.models import Association, MeetingForm
from server.db.models.protocols import MeetingProtocol
from server.db.models.recordings import MeetingRecording
from server.domain.accounts.associations import MemberRow
from server.domain.meeting.chat import public_transcript
from server.domain.meeting.meetings import (
    MeetingView,
    cancel_meeting,
    create_meeting,
    guest_url,
    is_closed,
    meeting_by_guest_token,
    meeting_for_edit,
    meeting_form_context,
    meeting_view,
    register_guest,
    rotate_guest_link,
    update_meeting,
)
from server.errors import ValidationFailed
from server.i18n import translate
from server.names import PersonName, parse_name, person_name
from server.web.auth import current_user, request_database, request_locale
from server.web.error_handlers import error_response, wants_json
from server.web.forms import read_form
from server.web.meeting_form import blank_form, form_from_meeting, form_from_values, parse_meeting_form
from server.web.panels import load_panels
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

FORMS = [f.value for f in MeetingForm]


def flash(request: Request, kind: str, key: str) -> None:
    """A one-time notice for the next page, in the session format the account pages use."""
    put_flash(request, kind, translate(key, request_locale(request)))


_db = request_database


def _form_page(
    request: Request,
    association: Association,
    members: list[MemberRow],
    form: dict[str, Any],
    *,
    meeting_id: int | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    locale = request_locale(request)
    messages = {k: translate(f"meetings.field.{v}", locale) for k, v in (errors or {}).items()}
    return render(
        request,
        "meeting/meetings/form.html",
        {
            "association": association,
            "members": members,
            "form": form,
            "forms": FORMS,
            "meeting_id": meeting_id,
            "errors": messages,
            "error_message": translate("error.validation_failed", locale) if errors else "",
        },
        status,
    )


async def meeting_new(request: Request) -> Response:
    association_id = request.path_params["id"]
    user = current_user(request)
    if request.method == "GET":
        async with _db(request).read() as s:
            association, members = await meeting_form_context(s, user, association_id)
        return _form_page(request, association, members, blank_form())
    values, _ = await read_form(request)
    try:
        data = parse_meeting_form(values)
        async with _db(request).transaction() as s:
            meeting = await create_meeting(s, user, association_id, data)
    except ValidationFailed as exc:
        async with _db(request).read() as s:
            association, members = await meeting_form_context(s, user, association_id)
        if wants_json(request):
            return error_response(request, exc)
        fields = exc.details.get("fields", {})
        return _form_page(request, association, members, form_from_values(values), errors=fields, status=422)
    flash(request, "ok", "meetings.flash.created")
    return RedirectResponse(f"/meetings/{meeting.id}", status_code=303)


async def meeting_edit(request: Request) -> Response:
    meeting_id = request.path_params["id"]
    user = current_user(request)
    if request.method == "GET":
        async with _db(request).read() as s:
            meeting, association, members = await meeting_for_edit(s, user, meeting_id)
        return _form_page(request, association, members, form_from_meeting(meeting), meeting_id=meeting.id)
    values, _ = await read_form(request)
    try:
        data = parse_meeting_form(values)
        async with _db(request).transaction() as s:
            await update_meeting(s, user, meeting_id, data)
    except ValidationFailed as exc:
        async with _db(request).read() as s:
            meeting, association, members = await meeting_for_edit(s, user, meeting_id)
        if wants_json(request):
            return error_response(request, exc)
        fields = exc.details.get("fields", {})
        return _form_page(
            request,
            association,
            members,
            form_from_values(values),
            meeting_id=meeting.id,
            errors=fields,
            status=422,
        )
    flash(request, "ok", "meetings.flash.saved")
    return RedirectResponse(f"/meetings/{meeting_id}", status_code=303)


async def meeting_cancel(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        meeting = await cancel_meeting(s, current_user(request), request.path_params["id"])
    flash(request, "ok", "meetings.flash.cancelled")
    return RedirectResponse(f"/meetings/{meeting.id}", status_code=303)


async def guest_link_rotate(request: Request) -> Response:
    await read_form(request)
    async with _db(request).transaction() as s:
        meeting = await rotate_guest_link(s, current_user(request), request.path_params["id"])
    flash(request, "ok", "meetings.flash.guest_link_rotated")
    return RedirectResponse(f"/meetings/{meeting.id}#guest-link", status_code=303)


async def meeting_page(request: Request) -> Response:
    async with _db(request).read() as s:
        view = await meeting_view(s, current_user(request), request.path_params["id"])
        transcript = await public_transcript(s, view.meeting.id)
        protocol = await s.scalar(
            select(MeetingProtocol).where(MeetingProtocol.meeting_id == view.meeting.id)
        )
        recording = await s.scalar(
            select(MeetingRecording).where(
                MeetingRecording.meeting_id == view.meeting.id, MeetingRecording.status != "deleted"
            )
        )
        panels = await load_panels(s, "meeting", current_user(request), view.meeting)
        aside_panels = await load_panels(s, "meeting_aside", current_user(request), view.meeting)
    public_url = request.app.state.settings.public_url
    return render(
        request,
        "meeting/meetings/detail.html",
        {
            "view": view,
            "m": view.meeting,
            "transcript": transcript,
            "protocol": protocol,
            "recording": recording,
            "guest_link": guest_url(public_url, view.meeting) if view.can_moderate else "",
            "panels": panels,
            "aside_panels": aside_panels,
            "flash": take_flash(request),
        },
    )


# --- the JSON form ------------------------------------------------------------------------------
def _person(view: MeetingView, user_id: int | None) -> dict[str, Any] | None:
    person = view.people.get(user_id) if user_id is not None else None
    if person is None:
        return None
    return {"id": person.id, "name": person.full_name, "short_name": person.short_name}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meeting_to_dict(view: MeetingView, public_url: str) -> dict[str, Any]:
    """The meeting with its agenda; times in UTC (ISO 8601); the guest link for moderators only."""
    m = view.meeting
    data: dict[str, Any] = {
        "id": m.id,
        "association": {"id": view.association.id, "name": view.association.name},
        "title": m.title,
        "form": m.form.value,
        "description": m.description,
        "starts_at": _iso(m.starts_at),
        "ends_at": _iso(m.ends_at),
        "status": m.status.value,
        "admission": m.admission.value,
        "chair": _person(view, m.chair_id),
        "secretary": _person(view, m.secretary_id),
        "agenda": [
            {
                "id": item.id,
                "position": item.position,
                "title": item.title,
                "rapporteur": _person(view, item.rapporteur_id),
                "rapporteur_name": item.rapporteur_name,
                "planned_minutes": item.planned_minutes,
            }
            for item in m.agenda
        ],
        "room_url": f"/meetings/{m.id}/room",
        "can_moderate": view.can_moderate,
    }
    if view.can_moderate:
        data["guest_url"] = guest_url(public_url, m)
    return data


async def meeting_api(request: Request) -> Response:
    async with _db(request).read() as s:
        view = await meeting_view(s, current_user(request), request.path_params["id"])
    return JSONResponse(meeting_to_dict(view, request.app.state.settings.public_url))


# --- guests ------------------------------------------------------------------------------------
NamePart = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class GuestForm(BaseModel):
    """Surname, name and patronymic as separate fields; a client that sends one ``name`` line
    instead has it parsed (server/names.py)."""

    model_config = ConfigDict(extra="ignore")

    last_name: NamePart = ""
    first_name: NamePart = ""
    middle_name: NamePart = ""
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""

    @model_validator(mode="after")
    def _named(self) -> GuestForm:
        if self.last_name or self.first_name or self.middle_name:
            if not self.last_name:
                raise PydanticCustomError("guest_name", "last_name", {"field": "last_name"})
            if not self.first_name:
                raise PydanticCustomError("guest_name", "first_name", {"field": "first_name"})
        elif len(self.name) < 2:
            raise PydanticCustomError("guest_name", "name", {"field": "name"})
        return self

    @property
    def person(self) -> PersonName:
        if self.last_name:
            return person_name(self.last_name, self.first_name, self.middle_name)
        return parse_name(self.name)


def _guest_page(
    request: Request, page: dict[str, Any], values: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    return render(
        request, "meeting/meetings/guest.html", {**page, "values": values, "errors": errors}, status
    )


def _guest_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    locale = request_locale(request)
    errors: dict[str, str] = {}
    for err in exc.errors():
        code = "too_long" if err["type"] == "string_too_long" else "guest_name"
        where = str(err["loc"][0]) if err["loc"] else str((err.get("ctx") or {}).get("field", "last_name"))
        if code == "guest_name" and where == "first_name":
            code = "guest_first_name"
        errors.setdefault(where, translate(f"meetings.field.{code}", locale))
    return errors


async def guest_entry(request: Request) -> Response:
    """The guest link: an outsider gives a name (no account) and goes to the room."""
    token = request.path_params["token"]
    async with _db(request).read() as s:
        meeting, association = await meeting_by_guest_token(s, token)
    page = {"token": token, "m": meeting, "association": association, "closed": is_closed(meeting)}
    if is_closed(meeting):
        return _guest_page(request, page, {}, {}, 410)
    if request.method == "GET":
        return _guest_page(request, page, {}, {}, 200)
    values, _ = await read_form(request)
    client = request.client.host if request.client else "-"
    await request.app.state.runtime.limiter.hit(f"guest:{client}", 30, 600)
    try:
        form = GuestForm.model_validate(values)
    except ValidationError as exc:
        shown = {k: v if isinstance(v, str) else "" for k, v in values.items()}
        return _guest_page(request, page, shown, _guest_errors(request, exc), 422)
    async with _db(request).transaction() as s:
        guest = await register_guest(s, token, form.person.stored, form.organisation)
    request.session["guest"] = {"id": guest.id, "meeting_id": meeting.id}
    return RedirectResponse(f"/meetings/{meeting.id}/room", status_code=303)


routes = [
    Route("/associations/{id:int}/meetings/new", meeting_new, methods=["GET", "POST"]),
    Route("/meetings/{id:int}", meeting_page),
    Route("/meetings/{id:int}/edit", meeting_edit, methods=["GET", "POST"]),
    Route("/meetings/{id:int}/cancel", meeting_cancel, methods=["POST"]),
    Route("/meetings/{id:int}/guest-link/rotate", guest_link_rotate, methods=["POST"]),
    Route("/api/meetings/{id:int}", meeting_api),
    Route("/g/{token}", guest_entry, methods=["GET", "POST"]),
]
