"""The yearly plan: school years, limits, inputs and their checks, typed errors."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from server.db.models import MeetingForm
from server.domain.protocol import russian as ru
from server.domain.protocol.workflow import school_year_of
from server.errors import AppError, NotFound, ValidationFailed

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_ROWS = 100
# The meeting created from a row starts after lessons, Moscow time; the methodist adjusts it.
MEETING_START = time(15, 0)
MEETING_MINUTES = 90

# Russian labels of the meeting forms (PROTOCOL.md §2), offered in the row's «Форма» field.
FORM_LABELS: dict[MeetingForm, str] = {
    MeetingForm.organizational: "Организационное заседание",
    MeetingForm.zasedanie: "Заседание",
    MeetingForm.seminar: "Семинар",
    MeetingForm.workshop: "Семинар-практикум",
    MeetingForm.round_table: "Круглый стол",
    MeetingForm.master_class: "Мастер-класс",
    MeetingForm.ped_workshop: "Педагогическая мастерская",
    MeetingForm.business_game: "Деловая игра",
    MeetingForm.consultation: "Консультация",
}

# Month names as written in «Сроки»: «октябрь», «в октябре», «ноябрь–декабрь», «сент.».
_MONTHS = (
    (9, r"сен"),
    (10, r"окт"),
    (11, r"ноя"),
    (12, r"дек"),
    (1, r"янв"),
    (2, r"фев"),
    (3, r"мар"),
    (4, r"апр"),
    (5, r"ма[йяе]"),
    (6, r"июн"),
    (7, r"июл"),
    (8, r"авг"),
)
MONTH_PATTERNS = [(n, re.compile(rf"(?<![а-яё]){stem}", re.IGNORECASE)) for n, stem in _MONTHS]
_RU_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


class PlanRowHasMeeting(AppError):
    code, status = "plan_row_has_meeting", 409


class PlanEmpty(AppError):
    code, status = "plan_empty", 409


class PlanTooLong(AppError):
    code, status = "plan_too_long", 409


# --- school years -------------------------------------------------------------------------------
def current_school_year(today: date | None = None) -> int:
    """The school year (by its starting calendar year) that ``today`` belongs to: 1 Sept – 31 Aug."""
    return school_year_of(today or ru.today())


def school_year_label(year: int) -> str:
    return f"{year}/{year + 1}"


def school_year_bounds(year: int) -> tuple[date, date]:
    return date(year, 9, 1), date(year + 1, 8, 31)


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotFound()
    return year


# --- inputs -------------------------------------------------------------------------------------
def _empty_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if m := _RU_DATE.match(value):  # «15.10.2026» as well as the ISO form a date input sends
            return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    return value


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Topic = Annotated[str, _text(500, 1)]
Text120 = Annotated[str, _text(120)]
Text300 = Annotated[str, _text(300)]
Text1000 = Annotated[str, _text(1000)]
Text2000 = Annotated[str, _text(2000)]
Text4000 = Annotated[str, _text(4000)]


class PlanHeaderInput(BaseModel):
    """The plan's head: methodological theme, goal, tasks (one per line)."""

    model_config = ConfigDict(extra="ignore")

    theme: Text1000 = ""
    goal: Text2000 = ""
    tasks: Text4000 = ""


class PlanRowInput(BaseModel):
    """One row: topic and questions, form, dates (an exact date and/or a text), responsible."""

    model_config = ConfigDict(extra="ignore")

    topic: Topic
    questions: Text4000 = ""
    form: Text120 = ""
    planned_date: Annotated[date | None, BeforeValidator(_empty_to_none)] = None
    dates_text: Text120 = ""
    responsible: Text300 = ""


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _check_date(year: int, data: PlanRowInput) -> None:
    first, last = school_year_bounds(year)
    if data.planned_date is not None and not first <= data.planned_date <= last:
        raise ValidationFailed(details={"fields": {"planned_date": "outside_year"}})
