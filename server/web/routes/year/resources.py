"""HTTP routes of the resource base: the association's list with Russian full-text search and
filters, proposing (file or link), the detail page, download, edit, moderation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models.resources import ResourceKind
from server.domain.year import resources as domain
from server.errors import Forbidden, ValidationFailed, validation_error_from_pydantic
from server.files import DOCUMENTS, FileRejected, Upload, file_response, read_upload_form, save_upload
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import field_messages as shared_field_messages
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

Grade = Annotated[int, Field(ge=1, le=11)]


class ResourceForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=domain.MAX_TITLE)]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=domain.MAX_DESCRIPTION)
    ] = ""
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=domain.MAX_SUBJECT)] = ""
    grades: list[Grade] = Field(default_factory=list, max_length=11)
    kind: ResourceKind = ResourceKind.other
    tags: Annotated[str, StringConstraints(max_length=1000)] = ""
    link: Annotated[str, StringConstraints(strip_whitespace=True, max_length=domain.MAX_LINK)] = ""
    publish: bool = False


class RejectForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


_db = request_database


def _flash(request: Request, key: str) -> None:
    put_flash(request, "ok", translate(key, request_locale(request)))


def field_messages(locale: str, fields: dict[str, str]) -> dict[str, str]:
    return shared_field_messages(locale, fields, "resources")


def _parse(values: dict[str, Any], uploads: dict[str, Upload], *, editing: bool) -> ResourceForm:
    """The form's model; every problem at once (schema, tags, link, file-or-link)."""
    fields: dict[str, str] = {}
    model: ResourceForm | None = None
    try:
        model = ResourceForm.model_validate(values)
    except ValidationError as exc:
        fields = validation_error_from_pydantic(exc).details["fields"]
    tags = domain.normalize_tags(str(values.get("tags", "")))
    if len(tags) > domain.MAX_TAGS:
        fields.setdefault("tags", "resource_too_many_tags")
    elif any(len(t) > domain.MAX_TAG_CHARS for t in tags):
        fields.setdefault("tags", "resource_tag_too_long")
    link = str(values.get("link", "")).strip()
    if link and not domain.is_web_link(link):
        fields.setdefault("link", "resource_link")
    if "file" in uploads and link:
        fields.setdefault("file", "resource_both")
    elif not editing and "file" not in uploads and not link:
        fields.setdefault("file", "resource_no_content")
    if fields or model is None:
        raise ValidationFailed(details={"fields": fields})
    return model


def _form_values(values: dict[str, Any]) -> dict[str, Any]:
    grades: list[int] = []
    raw = values.get("grades", [])
    for g in raw if isinstance(raw, list) else [raw]:
        if str(g).isdigit():
            grades.append(int(g))
    return {
        "title": values.get("title", ""),
        "description": values.get("description", ""),
        "subject": values.get("subject", ""),
        "grades": grades,
        "kind": values.get("kind", "other"),
        "tags": values.get("tags", ""),
        "link": values.get("link", ""),
        "publish": bool(values.get("publish")),
    }


def _form_page(
    request: Request,
    *,
    association: Any,
    form: dict[str, Any],
    can_publish: bool,
    resource_id: int | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    settings = request.app.state.runtime.settings
    return render(
        request,
        "year/resources/form.html",
        {
            "association": association,
            "form": form,
            "errors": errors or {},
            "can_publish": can_publish,
            "resource_id": resource_id,
            "kinds": list(ResourceKind),
            "grades": list(domain.GRADES),
            "max_mb": max(1, settings.upload_max_bytes // (1024 * 1024)),
        },
        status,
    )


# ---------------------------------------------------------------- list


def _filters(request: Request) -> domain.ResourceFilters:
    qp = request.query_params
    grade_raw = qp.get("grade", "")
    grade = int(grade_raw) if grade_raw.isdigit() and int(grade_raw) in domain.GRADES else None
    kind_raw = qp.get("kind", "")
    kind = ResourceKind(kind_raw) if kind_raw in ResourceKind.__members__ else None
    return domain.ResourceFilters(
        q=qp.get("q", "")[:200].strip(),
        subject=qp.get("subject", "")[: domain.MAX_SUBJECT],
        grade=grade,
        kind=kind,
        tag=qp.get("tag", "")[: domain.MAX_TAG_CHARS],
    )


async def resource_list(request: Request) -> Response:
    filters = _filters(request)
    async with _db(request).read() as s:
        page = await domain.resource_index(s, current_user(request), request.path_params["id"], filters)
    return render(
        request,
        "year/resources/index.html",
        {
            "association": page.association,
            "page": page,
            "filters": filters,
            "kinds": list(ResourceKind),
            "grades": list(domain.GRADES),
            "flash": take_flash(request),
        },
    )


# ---------------------------------------------------------------- propose / edit


async def resource_new(request: Request) -> Response:
    association_id = request.path_params["id"]
    user = current_user(request)
    runtime = request.app.state.runtime
    # Permission first: nobody but a member gets as far as sending a file.
    async with _db(request).read() as s:
        association, can_publish = await domain.propose_context(s, user, association_id)
    if request.method == "GET":
        return _form_page(request, association=association, form=_form_values({}), can_publish=can_publish)
    values, _, uploads = await read_upload_form(
        request, None, file_fields={"file"}, max_bytes=runtime.settings.upload_max_bytes
    )
    try:
        form = _parse(values, uploads, editing=False)
        async with _db(request).transaction() as s:
            file_id = None
            if "file" in uploads:
                stored = await save_upload(s, runtime.settings, uploads["file"], allowed=DOCUMENTS, user=user)
                file_id = stored.id
            assert user is not None
            resource = await domain.create_resource(
                s,
                runtime.settings,
                association_id=association_id,
                user=user,
                title=form.title,
                description=form.description,
                subject=form.subject,
                grades=form.grades,
                kind=form.kind.value,
                tags=domain.normalize_tags(form.tags),
                file_id=file_id,
                link=form.link or None,
                publish=form.publish and can_publish,
            )
    except (ValidationFailed, FileRejected) as exc:
        fields = exc.details.get("fields", {}) if isinstance(exc, ValidationFailed) else {"file": exc.code}
        return _form_page(
            request,
            association=association,
            form=_form_values(values),
            can_publish=can_publish,
            errors=field_messages(request_locale(request), fields),
            status=exc.status,
        )
    _flash(request, "resources.flash.created" if form.publish and can_publish else "resources.flash.proposed")
    return RedirectResponse(f"/resources/{resource.id}", status_code=303)


async def resource_edit(request: Request) -> Response:
    rid = request.path_params["id"]
    user = current_user(request)
    runtime = request.app.state.runtime
    async with _db(request).read() as s:
        view = await domain.resource_view(s, user, rid)
    if not view.can_edit:
        raise Forbidden()
    r = view.item.resource
    if request.method == "GET":
        form = {
            "title": r.title,
            "description": r.description,
            "subject": r.subject,
            "grades": view.item.grades,
            "kind": r.kind.value,
            "tags": ", ".join(view.item.tags),
            "link": r.link or "",
            "publish": False,
        }
        return _form_page(
            request, association=view.association, form=form, can_publish=False, resource_id=rid
        )
    values, _, uploads = await read_upload_form(
        request, None, file_fields={"file"}, max_bytes=runtime.settings.upload_max_bytes
    )
    try:
        form_model = _parse(values, uploads, editing=True)
        async with _db(request).transaction() as s:
            file_id = None
            if "file" in uploads:
                stored = await save_upload(s, runtime.settings, uploads["file"], allowed=DOCUMENTS, user=user)
                file_id = stored.id
            await domain.update_resource(
                s,
                user,
                rid,
                title=form_model.title,
                description=form_model.description,
                subject=form_model.subject,
                grades=form_model.grades,
                kind=form_model.kind.value,
                tags=domain.normalize_tags(form_model.tags),
                file_id=file_id,
                link=form_model.link or None,
            )
    except (ValidationFailed, FileRejected) as exc:
        fields = exc.details.get("fields", {}) if isinstance(exc, ValidationFailed) else {"file": exc.code}
        return _form_page(
            request,
            association=view.association,
            form=_form_values(values),
            can_publish=False,
            resource_id=rid,
            errors=field_messages(request_locale(request), fields),
            status=exc.status,
        )
    _flash(request, "resources.flash.saved")
    return RedirectResponse(f"/resources/{rid}", status_code=303)


# ---------------------------------------------------------------- detail, download, moderation


async def _detail_page(
    request: Request, rid: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    async with _db(request).read() as s:
        view = await domain.resource_view(s, current_user(request), rid)
    return render(
        request,
        "year/resources/detail.html",
        {
            "association": view.association,
            "view": view,
            "r": view.item.resource,
            "errors": errors or {},
            "flash": take_flash(request),
        },
        status,
    )


async def resource_detail(request: Request) -> Response:
    return await _detail_page(request, request.path_params["id"])


async def resource_download(request: Request) -> Response:
    async with _db(request).read() as s:
        stored = await domain.resource_file(s, current_user(request), request.path_params["id"])
    return file_response(request.app.state.runtime.settings, stored)


async def resource_publish(request: Request) -> Response:
    rid = request.path_params["id"]
    await read_form(request)
    async with _db(request).transaction() as s:
        await domain.publish_resource(s, current_user(request), rid)
    _flash(request, "resources.flash.published")
    return RedirectResponse(f"/resources/{rid}", status_code=303)


async def resource_reject(request: Request) -> Response:
    rid = request.path_params["id"]
    try:
        _, form = await read_form(request, RejectForm)
        assert form is not None
        async with _db(request).transaction() as s:
            await domain.reject_resource(s, current_user(request), rid, form.reason)
    except ValidationFailed as exc:
        # Only a moderator gets the form back; the domain checks again on the next try.
        async with _db(request).read() as s:
            view = await domain.resource_view(s, current_user(request), rid)
        if not view.can_moderate:
            raise Forbidden() from exc
        return await _detail_page(
            request,
            rid,
            errors=field_messages(request_locale(request), exc.details.get("fields", {})),
            status=422,
        )
    _flash(request, "resources.flash.rejected")
    return RedirectResponse(f"/resources/{rid}", status_code=303)


async def resource_delete(request: Request) -> Response:
    rid = request.path_params["id"]
    await read_form(request)
    async with _db(request).transaction() as s:
        association_id = await domain.delete_resource(s, current_user(request), rid)
    _flash(request, "resources.flash.deleted")
    return RedirectResponse(f"/associations/{association_id}/resources", status_code=303)


routes = [
    Route("/associations/{id:int}/resources", resource_list),
    Route("/associations/{id:int}/resources/new", resource_new, methods=["GET", "POST"]),
    Route("/resources/{id:int}", resource_detail),
    Route("/resources/{id:int}/download", resource_download),
    Route("/resources/{id:int}/edit", resource_edit, methods=["GET", "POST"]),
    Route("/resources/{id:int}/publish", resource_publish, methods=["POST"]),
    Route("/resources/{id:int}/reject", resource_reject, methods=["POST"]),
    Route("/resources/{id:int}/delete", resource_delete, methods=["POST"]),
]
