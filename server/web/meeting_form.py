"""The meeting form (create / edit): raw form values <-> the domain's MeetingInput.

Dates and times are entered in Moscow time and stored in UTC. Errors are keyed by form
field (``agenda.<row>.title`` for agenda rows) so the form can show them in place.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from server.db.models import AdmissionPolicy, Meeting, MeetingForm
from server.domain.accounts.associations import MAX_ID
from server.domain.meeting.meetings import MAX_AGENDA_ITEMS, AgendaRow, MeetingInput
from server.errors import ValidationFailed
from server.web.templating import LOCAL_TZ

BLANK_ROWS = 3
_RU_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _ru_date(value: Any) -> Any:
    """Accept «01.12.2026» as well as the ISO form a date input sends."""
    if isinstance(value, str) and (m := _RU_DATE.match(value)):
        return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    return value.strip() if isinstance(value, str) else value


OptionalId = Annotated[Annotated[int, Field(gt=0, le=MAX_ID)] | None, BeforeValidator(_empty_to_none)]


class MeetingFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    form: MeetingForm
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    date: Annotated[date, BeforeValidator(_ru_date)]
    start_time: time
    end_time: time
    chair_id: OptionalId = None
    secretary_id: OptionalId = None
    admission: AdmissionPolicy = AdmissionPolicy.guests
    agenda_title: list[str] = Field(default_factory=list)
    agenda_rapporteur: list[str] = Field(default_factory=list)
    agenda_minutes: list[str] = Field(default_factory=list)


def _code(field: str, error_type: str) -> str:
    if error_type in ("missing", "string_too_short"):
        return "required"
    if error_type == "string_too_long":
        return "too_long"
    if field == "date":
        return "bad_date"
    if field in ("start_time", "end_time"):
        return "bad_time"
    if field.endswith("planned_minutes"):
        return "bad_minutes"
    return "bad_choice"


def _errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "_"
        fields.setdefault(prefix + name, _code(name, err["type"]))
    return fields


def agenda_rows(values: dict[str, Any]) -> list[dict[str, str]]:
    """The submitted agenda rows, blank rows dropped (error indexes refer to this list)."""

    def column(name: str) -> list[str]:
        raw = values.get(name, [])
        return [raw] if isinstance(raw, str) else [str(v) for v in raw]

    titles, people, minutes = column("agenda_title"), column("agenda_rapporteur"), column("agenda_minutes")
    n = max(len(titles), len(people), len(minutes))
    rows = []
    for i in range(n):
        row = {
            "title": titles[i].strip() if i < len(titles) else "",
            "rapporteur": people[i].strip() if i < len(people) else "",
            "minutes": minutes[i].strip() if i < len(minutes) else "",
        }
        if any(row.values()):
            rows.append(row)
    return rows


_TIME = TypeAdapter(time)


def _check_times(values: dict[str, Any], fields: dict[str, str]) -> None:
    """End after start, reported even when other fields are wrong too."""
    if "start_time" in fields or "end_time" in fields:
        return
    try:
        start, end = (
            _TIME.validate_python(values.get("start_time")),
            _TIME.validate_python(values.get("end_time")),
        )
    except ValidationError:
        return
    if end <= start:
        fields["end_time"] = "end_before_start"


def parse_meeting_form(values: dict[str, Any]) -> MeetingInput:
    """Validate the submitted form; raise ValidationFailed with per-field codes."""
    fields: dict[str, str] = {}
    form: MeetingFormData | None = None
    try:
        form = MeetingFormData.model_validate(values)
    except ValidationError as exc:
        fields.update(_errors(exc))
    rows = agenda_rows(values)
    agenda: list[AgendaRow] = []
    if len(rows) > MAX_AGENDA_ITEMS:
        fields["agenda"] = "too_many_items"
    for n, row in enumerate(rows[:MAX_AGENDA_ITEMS]):
        try:
            agenda.append(
                AgendaRow.model_validate(
                    {
                        "title": row["title"],
                        "rapporteur_id": _empty_to_none(row["rapporteur"]),
                        "planned_minutes": row["minutes"] or 10,
                    }
                )
            )
        except ValidationError as exc:
            fields.update(_errors(exc, prefix=f"agenda.{n}."))
    if form is not None and not (2000 <= form.date.year <= 2100):
        fields["date"] = "bad_date"
    _check_times(values, fields)
    if fields or form is None:
        raise ValidationFailed(details={"fields": fields})
    return MeetingInput(
        title=form.title,
        form=form.form,
        description=form.description,
        starts_at=datetime.combine(form.date, form.start_time, tzinfo=LOCAL_TZ),
        ends_at=datetime.combine(form.date, form.end_time, tzinfo=LOCAL_TZ),
        chair_id=form.chair_id,
        secretary_id=form.secretary_id,
        admission=form.admission,
        agenda=agenda,
    )


def _pad(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return rows + [{"title": "", "rapporteur": "", "minutes": ""} for _ in range(BLANK_ROWS)]


def blank_form() -> dict[str, Any]:
    return {
        "title": "",
        "form": MeetingForm.zasedanie.value,
        "description": "",
        "date": "",
        "start_time": "15:00",
        "end_time": "16:30",
        "chair_id": "",
        "secretary_id": "",
        "admission": AdmissionPolicy.guests.value,
        "rows": _pad([]),
    }


def form_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """Refill the form after an error with exactly what was submitted."""
    data = {k: values.get(k, "") for k in blank_form() if k != "rows"}
    data = {k: v if isinstance(v, str) else "" for k, v in data.items()}
    data["rows"] = _pad(agenda_rows(values))
    return data


def form_from_meeting(meeting: Meeting) -> dict[str, Any]:
    start = meeting.starts_at.astimezone(LOCAL_TZ)
    end = meeting.ends_at.astimezone(LOCAL_TZ)
    return {
        "title": meeting.title,
        "form": meeting.form.value,
        "description": meeting.description,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_time": end.strftime("%H:%M"),
        "chair_id": str(meeting.chair_id or ""),
        "secretary_id": str(meeting.secretary_id or ""),
        "admission": meeting.admission.value,
        "rows": _pad(
            [
                {
                    "title": item.title,
                    "rapporteur": str(item.rapporteur_id or ""),
                    "minutes": str(item.planned_minutes),
                }
                for item in meeting.agenda
            ]
        ),
    }
