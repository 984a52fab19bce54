"""Questionnaires (анкетирование, clauses 3.1, 5.1, 7.5): the builder, answering, results.

Rights: methodists of the association and site administrators build, publish, close, read
results, export and publish the needs report; every member (any role) answers an open
questionnaire once. Drafts are invisible to everyone else (404).

Anonymity (see server/db/models/questionnaires.py): who answered and what was answered are
stored in unlinked tables; results of an anonymous questionnaire never carry a name.

Modules: inputs (limits, the builder's inputs and their checks), needs_template (the needs
diagnostics questionnaire), reading (rights and the list), builder, answering, results
(tallies and exports), panels (the meeting page and the home page), needs_report (top needs
into the plan, the needs report document).
"""

from __future__ import annotations

from server.domain.year.questionnaires.answering import answer_page, submit_response
from server.domain.year.questionnaires.builder import (
    add_question,
    close,
    create_from_needs_template,
    create_questionnaire,
    delete_question,
    delete_questionnaire,
    move_question,
    publish,
    update_question,
    update_settings,
)
from server.domain.year.questionnaires.counts import QuestionResult, export_rows, results
from server.domain.year.questionnaires.inputs import QuestionInput, SettingsInput, q_error
from server.domain.year.questionnaires.needs_report import (
    TOP_NEEDS,
    ReportFiles,
    needs_questionnaire,
    needs_to_plan,
    publish_report,
    render_report,
    report_results,
)
from server.domain.year.questionnaires.panels import meeting_forms, open_for_me
from server.domain.year.questionnaires.reading import (
    accepting,
    list_page,
    managed,
    questions_of,
    response_count,
    upcoming_meetings,
)

__all__ = [
    "TOP_NEEDS",
    "QuestionInput",
    "QuestionResult",
    "ReportFiles",
    "SettingsInput",
    "accepting",
    "add_question",
    "answer_page",
    "close",
    "create_from_needs_template",
    "create_questionnaire",
    "delete_question",
    "delete_questionnaire",
    "export_rows",
    "list_page",
    "managed",
    "meeting_forms",
    "move_question",
    "needs_questionnaire",
    "needs_to_plan",
    "open_for_me",
    "publish",
    "publish_report",
    "q_error",
    "questions_of",
    "render_report",
    "report_results",
    "response_count",
    "results",
    "submit_response",
    "upcoming_meetings",
    "update_question",
    "update_settings",
]
