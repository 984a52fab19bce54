"""Questionnaires: limits, the builder's inputs and their checks, the typed error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.db.models.questionnaires import QuestionKind, QuestionTag
from server.errors import AppError

MAX_QUESTIONS = 60
MAX_OPTIONS = 30
OPTION_MAX = 200
TEXT_ANSWER_MAX = 5000
OTHER_MAX = 500
SCALE = (1, 2, 3, 4, 5)
OTHER_LABEL = "Другое"


def q_error(code: str, status: int = 409) -> AppError:
    return AppError(f"questionnaires.{code}", status=status)


@dataclass(frozen=True, slots=True)
class SettingsInput:
    title: str
    description: str = ""
    anonymous: bool = True
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    meeting_id: int | None = None  # a pre-meeting questionnaire


@dataclass(frozen=True, slots=True)
class QuestionInput:
    kind: QuestionKind
    text: str
    required: bool = False
    options: tuple[str, ...] = ()
    allow_other: bool = False
    tag: QuestionTag = QuestionTag.none


def check_question(data: QuestionInput) -> dict[str, str]:
    """Field -> error code (empty when valid)."""
    errors: dict[str, str] = {}
    if not data.text.strip():
        errors["text"] = "required"
    elif len(data.text) > 500:
        errors["text"] = "too_long"
    if data.kind in (QuestionKind.single, QuestionKind.multiple):
        opts = [o for o in data.options if o.strip()]
        if len(opts) < 2:
            errors["options"] = "options_needed"
        elif len(opts) > MAX_OPTIONS:
            errors["options"] = "too_many_options"
        elif any(len(o) > OPTION_MAX for o in opts):
            errors["options"] = "option_too_long"
        elif len({o.strip().casefold() for o in opts}) != len(opts):
            errors["options"] = "duplicate_options"
    return errors
