"""Competitions (конкурсы, clause 3.5): the methodist announces a competition with its dates,
criteria and jury; members submit one entry each (a file with a title and an annotation)
while entries are open; the jury scores every entry by every criterion; the methodist
publishes the results (totals, ranking, winners); participants and winners get certificates.

Phases follow the dates: «объявлен» before ``entries_from``, «приём работ» until
``entries_until`` (exclusive), then «работа жюри» until the methodist publishes the results
(``judging_until`` is the jury's target date, shown on the page), then «итоги».

The total of an entry (the formula shown on the page):
    total = Σ over criteria of (the mean of the jurors' scores for that criterion);
a criterion nobody scored counts 0. Totals are compared exactly (fractions); equal totals
share a place and the next place is skipped (1, 1, 3). Places 1..winners_count are winners.

Modules: rules (phases, errors, the pure ranking), reading (loading, the competition page),
call (announcing), entries, jury (scoring, publishing the results), results (certificate
data, results for the annual analysis, activity metrics).
"""

from __future__ import annotations

from server.domain.year.competitions.call import (
    CompetitionInput,
    CriterionInput,
    create_competition,
    jury_candidates,
    list_competitions,
)
from server.domain.year.competitions.entries import entry_file, submit_entry
from server.domain.year.competitions.jury import publish_results, score_entry
from server.domain.year.competitions.reading import competition_page
from server.domain.year.competitions.results import (
    CertificateData,
    CompetitionResult,
    certificate_data,
    competition_results,
)
from server.domain.year.competitions.rules import phase_of

__all__ = [
    "CertificateData",
    "CompetitionInput",
    "CompetitionResult",
    "CriterionInput",
    "certificate_data",
    "competition_page",
    "competition_results",
    "create_competition",
    "entry_file",
    "jury_candidates",
    "list_competitions",
    "phase_of",
    "publish_results",
    "score_entry",
    "submit_entry",
]
