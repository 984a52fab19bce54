"""Competitions: phases, typed errors and the pure ranking (exact fractions, 1, 1, 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal

from server.db.models.competitions import Competition
from server.db.types import utcnow
from server.errors import AppError

Phase = Literal["upcoming", "entries", "judging", "results"]
FORMULA_RU = (
    "Итоговый балл = сумма по критериям среднего балла членов жюри по критерию; "
    "равные баллы — одно место, следующее место пропускается (1, 1, 3)."
)


class EntriesClosed(AppError):
    code, status = "competition_entries_closed", 409


class NotJudging(AppError):
    code, status = "competition_not_judging", 409


class AlreadyPublished(AppError):
    code, status = "competition_published", 409


class NotPublished(AppError):
    code, status = "competition_not_published", 409


class NotJuror(AppError):
    code, status = "competition_not_juror", 403


class OwnEntry(AppError):
    code, status = "competition_own_entry", 403


@dataclass(frozen=True, slots=True)
class Ranked:
    entry_id: int
    total: Fraction
    place: int


def entry_total(criteria_ids: Sequence[int], scores: Sequence[tuple[int, int]]) -> Fraction:
    """Σ over criteria of the mean score for that criterion; ``scores`` are (criterion_id, score)."""
    by_criterion: dict[int, list[int]] = defaultdict(list)
    for cid, score in scores:
        by_criterion[cid].append(score)
    total = Fraction(0)
    for cid in criteria_ids:
        values = by_criterion.get(cid)
        if values:
            total += Fraction(sum(values), len(values))
    return total


def rank(totals: dict[int, Fraction]) -> list[Ranked]:
    """Highest total first; ties share a place, the next place is skipped; ties ordered by id."""
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[Ranked] = []
    for i, (entry_id, total) in enumerate(ordered):
        place = out[-1].place if out and out[-1].total == total else i + 1
        out.append(Ranked(entry_id, total, place))
    return out


def diploma_degree(place: int | None, winners_count: int) -> int | None:
    """I, II or III degree for a winning place; None for a participant's certificate."""
    if place is None or place > min(winners_count, 3):
        return None
    return place


def phase_of(c: Competition, now: datetime | None = None) -> Phase:
    now = now or utcnow()
    if c.results_published_at is not None:
        return "results"
    if now < c.entries_from:
        return "upcoming"
    if now < c.entries_until:
        return "entries"
    return "judging"
