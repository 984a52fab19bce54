"""HTTP routes of member profiles: «Мой профиль» (/profile, edit one's own), a person's page
(/people/{id}, within the privacy rule) and the photo (inline, for those who may see it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models.profiles import QualificationCategory
from server.domain.community import profiles as prof
from server.domain.protocol.russian import today as ru_today
from server.errors import AppError, ValidationFailed
from server.files import file_response, read_upload_form
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale, require_user
from server.web.error_handlers import wants_json
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

MAX_COURSES = 30
BLANK_COURSES = 2
EXPERIENCE_MAX = 60
HOURS_RANGE = (1, 1000)
YEAR_MIN = 1970


_db = request_database


def _text(values: dict[str, Any], key: str, limit: int, errors: dict[str, str]) -> str:
    raw = values.get(key, "")
    text = " ".join(raw.split()) if isinstance(raw, str) else ""
    if len(text) > limit:
        errors[key] = "string_too_long"
    elif any(ord(ch) < 32 for ch in text):
        errors[key] = "control_chars"
    return text


def _int(
    values: dict[str, Any], key: str, lo: int, hi: int, errors: dict[str, str], reason: str
) -> int | None:
    raw = values.get(key, "")
    raw = raw.strip() if isinstance(raw, str) else ""
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        errors[key] = reason
        return None
    if not lo <= value <= hi:
        errors[key] = reason
        return None
    return value


def course_indexes(values: dict[str, Any]) -> list[int]:
    found = set()
    for key in values:
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "course" and parts[1].isdigit():
            found.add(int(parts[1]))
    return sorted(i for i in found if i < MAX_COURSES)


def parse_profile_form(values: dict[str, Any]) -> prof.ProfileInput:
    """Validate «Мой профиль»; raises ValidationFailed with field -> reason."""
    errors: dict[str, str] = {}
    position = _text(values, "position", 200, errors)
    school = _text(values, "school", 300, errors)
    subjects = _text(values, "subjects", 300, errors)
    grades = _text(values, "grades", 100, errors)
    experience = _int(values, "experience_years", 0, EXPERIENCE_MAX, errors, "experience_range")
    try:
        category = QualificationCategory(str(values.get("category", "none")))
    except ValueError:
        errors["category"] = "enum"
        category = QualificationCategory.none
    category_date: date | None = None
    raw_date = values.get("category_date", "")
    if isinstance(raw_date, str) and raw_date.strip():
        try:
            category_date = date.fromisoformat(raw_date.strip())
            if category_date > ru_today() or category_date.year < YEAR_MIN:
                errors["category_date"] = "date_range"
        except ValueError:
            errors["category_date"] = "date"
    this_year = ru_today().year
    courses: list[prof.CourseInput] = []
    for i in course_indexes(values):
        if values.get(f"course-{i}-remove"):
            continue
        title = _text(values, f"course-{i}-title", 300, errors)
        hours_raw = str(values.get(f"course-{i}-hours", "")).strip()
        year_raw = str(values.get(f"course-{i}-year", "")).strip()
        if not title and not hours_raw and not year_raw:
            continue
        if not title:
            errors[f"course-{i}-title"] = "missing"
        hours = _int(values, f"course-{i}-hours", *HOURS_RANGE, errors, "hours_range")
        if hours is None and f"course-{i}-hours" not in errors:
            errors[f"course-{i}-hours"] = "hours_range"
        year = _int(values, f"course-{i}-year", YEAR_MIN, this_year + 1, errors, "year_range")
        if year is None and f"course-{i}-year" not in errors:
            errors[f"course-{i}-year"] = "year_range"
        if title and hours is not None and year is not None:
            courses.append(prof.CourseInput(title, hours, year))
    if errors:
        raise ValidationFailed(details={"fields": errors})
    return prof.ProfileInput(
        position=position,
        school=school,
        subjects=subjects,
        grades=grades,
        experience_years=experience,
        category=category,
        category_date=category_date,
        courses=courses,
    )


async def _edit_page(
    request: Request,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    user = require_user(request)
    async with _db(request).read() as s:
        view = await prof.view_profile(s, user, user.id)
    if values is None:
        p = view.profile
        values = {
            "position": view.position,
            "school": view.school,
            "subjects": p.subjects if p else "",
            "grades": p.grades if p else "",
            "experience_years": "" if p is None or p.experience_years is None else str(p.experience_years),
            "category": p.category.value if p else "none",
            "category_date": p.category_date.isoformat() if p and p.category_date else "",
        }
        for i, course in enumerate(view.courses):
            values[f"course-{i}-title"] = course.title
            values[f"course-{i}-hours"] = str(course.hours)
            values[f"course-{i}-year"] = str(course.year)
    rows = max(course_indexes(values), default=-1) + 1 + BLANK_COURSES
    locale = request_locale(request)
    return render(
        request,
        "community/profiles/edit.html",
        {
            "view": view,
            "values": values,
            "course_rows": min(rows, MAX_COURSES),
            "categories": [c.value for c in QualificationCategory],
            "errors": {k: translate(f"profiles.field.{v}", locale) for k, v in (errors or {}).items()},
            "error_message": translate("error.validation_failed", locale) if errors else "",
            "flash": take_flash(request),
        },
        status,
    )


async def profile_edit(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login?next=/profile", status_code=303)
    if request.method == "GET":
        return await _edit_page(request)
    runtime = request.app.state.runtime
    values: dict[str, Any] = {}
    try:
        values, _, uploads = await read_upload_form(
            request, None, file_fields={"photo"}, max_bytes=prof.PHOTO_MAX_UPLOAD
        )
        data = parse_profile_form(values)
        photo = uploads.get("photo")
        # Decoded in a worker thread before the transaction (no database lock held meanwhile).
        encoded = await prof.decode_in_thread(photo.data) if photo else None
        async with _db(request).transaction() as s:
            await prof.update_profile(
                s,
                runtime.settings,
                current_user(request),
                data,
                photo=encoded,
                photo_name=photo.filename if photo else "photo",
                remove_photo=bool(values.get("remove_photo")),
            )
    except AppError as exc:
        if exc.status not in (413, 415, 422) or wants_json(request):
            raise
        fields = exc.details.get("fields", {}) if exc.status == 422 else {"photo": exc.code}
        return await _edit_page(request, values, fields, exc.status)
    put_flash(request, "ok", translate("profiles.flash.saved", request_locale(request)))
    return RedirectResponse("/profile", status_code=303)


async def person_page(request: Request) -> Response:
    async with _db(request).read() as s:
        view = await prof.view_profile(s, current_user(request), request.path_params["user_id"])
    return render(request, "community/profiles/person.html", {"view": view})


async def person_photo(request: Request) -> Response:
    async with _db(request).read() as s:
        stored = await prof.photo_for(s, current_user(request), request.path_params["user_id"])
    return file_response(request.app.state.runtime.settings, stored, inline=True)


routes = [
    Route("/profile", profile_edit, methods=["GET", "POST"]),
    Route("/people/{user_id:int}", person_page),
    Route("/people/{user_id:int}/photo", person_photo),
]
