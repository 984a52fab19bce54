"""HTTP routes: questionnaires (анкетирование) — the list and builder, answering, results with
charts and CSV, the needs report (DOCX/PDF, publishing to the documents section), top needs →
plan rows; panels on the meeting page and the dashboard. Thin: validate, one domain call.

GET  /associations/{id}/questionnaires                 list (+ create forms for methodists)
POST /associations/{id}/questionnaires                 create a blank draft
POST /associations/{id}/questionnaires/needs-template  create a draft from the needs template
GET  /questionnaires/{id}                              the questionnaire (answer form for members)
POST /questionnaires/{id}/answer                       submit (once per person)
GET|POST /questionnaires/{id}/edit                     builder: settings (drafts only)
POST /questionnaires/{id}/questions[/{qid}[/delete|/move]]
POST /questionnaires/{id}/publish | /close | /delete
GET  /questionnaires/{id}/results | /results.csv
GET  /questionnaires/{id}/report.docx | /report.pdf    needs-diagnostics questionnaires
POST /questionnaires/{id}/report/publish | /plan

Modules: forms (the edge: pydantic forms, error codes), builder (list, create, build),
answering, results (pages, CSV, the needs report, top needs into the plan), panels.
"""

from __future__ import annotations

from starlette.routing import Route

from server.domain.year import feedback  # noqa: F401  (registers the meeting-end hook and the mail job)
from server.web.routes.year.questionnaires import panels  # noqa: F401  (registers the panels)
from server.web.routes.year.questionnaires.answering import questionnaire_answer, questionnaire_detail
from server.web.routes.year.questionnaires.builder import (
    from_template,
    question_add,
    question_delete,
    question_move,
    question_update,
    questionnaire_close,
    questionnaire_delete,
    questionnaire_edit,
    questionnaire_list,
    questionnaire_publish,
)
from server.web.routes.year.questionnaires.results import (
    needs_plan,
    questionnaire_results,
    report_docx,
    report_pdf,
    report_publish,
    results_csv,
)

routes = [
    Route("/associations/{id:int}/questionnaires", questionnaire_list, methods=["GET", "POST"]),
    Route("/associations/{id:int}/questionnaires/needs-template", from_template, methods=["POST"]),
    Route("/questionnaires/{id:int}", questionnaire_detail),
    Route("/questionnaires/{id:int}/answer", questionnaire_answer, methods=["POST"]),
    Route("/questionnaires/{id:int}/edit", questionnaire_edit, methods=["GET", "POST"]),
    Route("/questionnaires/{id:int}/questions", question_add, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}", question_update, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}/delete", question_delete, methods=["POST"]),
    Route("/questionnaires/{id:int}/questions/{question_id:int}/move", question_move, methods=["POST"]),
    Route("/questionnaires/{id:int}/publish", questionnaire_publish, methods=["POST"]),
    Route("/questionnaires/{id:int}/close", questionnaire_close, methods=["POST"]),
    Route("/questionnaires/{id:int}/delete", questionnaire_delete, methods=["POST"]),
    Route("/questionnaires/{id:int}/results", questionnaire_results),
    Route("/questionnaires/{id:int}/results.csv", results_csv),
    Route("/questionnaires/{id:int}/report.docx", report_docx),
    Route("/questionnaires/{id:int}/report.pdf", report_pdf),
    Route("/questionnaires/{id:int}/report/publish", report_publish, methods=["POST"]),
    Route("/questionnaires/{id:int}/plan", needs_plan, methods=["POST"]),
]
