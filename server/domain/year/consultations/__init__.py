"""Network consultations (clause 3.3): members ask questions in threads; methodists and the
experts the methodist names answer; the asker or a methodist marks one answer as the solution.

Decision on who answers: every member of the association may reply in a thread (discussion is
welcome), but only replies by a methodist, a named expert or an administrator are *expert
answers* (marked so, counted as "answered" in the annual analysis and in the activity metric
``consultation_answers``). Any reply may be marked as the solution — the asker decides what
helped. Threads are members-only (and administrators); their search entries carry the
association.

A live consultation is a meeting of the form «консультация» created from a thread by a
methodist (``start_live_consultation``) and linked from it.

Modules: rules (limits and the shapes the pages get), experts (who answers), threads (asking,
answering, the solution, a live consultation), reading (the list with search, a thread),
summary (for the annual analysis and the activity statistics).
"""

from __future__ import annotations

from server.domain.year.consultations.experts import add_expert, remove_expert
from server.domain.year.consultations.reading import consultations_page, thread_view
from server.domain.year.consultations.rules import MAX_BODY, MAX_ID, MAX_TITLE, ConsultationsSummary
from server.domain.year.consultations.summary import consultations_summary
from server.domain.year.consultations.threads import (
    answer_question,
    ask_question,
    mark_solution,
    start_live_consultation,
)

__all__ = [
    "MAX_BODY",
    "MAX_ID",
    "MAX_TITLE",
    "ConsultationsSummary",
    "add_expert",
    "answer_question",
    "ask_question",
    "consultations_page",
    "consultations_summary",
    "mark_solution",
    "remove_expert",
    "start_live_consultation",
    "thread_view",
]
