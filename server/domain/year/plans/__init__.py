"""The yearly work plan (план работы на учебный год, PROTOCOL.md §2): the plan of a school
year (theme, goal, tasks) and its rows; meetings created from rows; the rows' status that
follows their meetings; the document (DOCX/PDF blocks) and its publication in the library.

Other features add rows through :func:`add_plan_row` (needs diagnostics, members' topic
proposals, the annual analysis) with their ``source``.

Modules: rules (school years, limits, inputs, errors), status (a row's status follows its
meeting), reading (the plan page), editing (header and rows), row_meetings (a meeting
planned from a row), document (the plan as a document, published into «Документы»).
"""

from __future__ import annotations

import server.domain.year.plans.status  # noqa: F401  (registers the meeting hook: a row's status follows its meeting)
from server.domain.year.plans.document import check_publishable, file_stem, plan_document, publish_plan
from server.domain.year.plans.editing import (
    add_plan_row,
    check_editor,
    create_row,
    delete_row,
    get_or_create_plan,
    move_row,
    save_header,
    update_row,
)
from server.domain.year.plans.reading import plan_page, row_for_edit
from server.domain.year.plans.row_meetings import create_meeting_from_row, plan_row_of_meeting
from server.domain.year.plans.rules import (
    FORM_LABELS,
    PlanHeaderInput,
    PlanRowInput,
    check_year,
    current_school_year,
    school_year_bounds,
    school_year_label,
)

__all__ = [
    "FORM_LABELS",
    "PlanHeaderInput",
    "PlanRowInput",
    "add_plan_row",
    "check_editor",
    "check_publishable",
    "check_year",
    "create_meeting_from_row",
    "create_row",
    "current_school_year",
    "delete_row",
    "file_stem",
    "get_or_create_plan",
    "move_row",
    "plan_document",
    "plan_page",
    "plan_row_of_meeting",
    "publish_plan",
    "row_for_edit",
    "save_header",
    "school_year_bounds",
    "school_year_label",
    "update_row",
]
