"""Members' activity, metric by metric, for the statistics page and the annual analysis.

Each feature registers the metrics it knows (meetings attended, speaking time, resources
published, consultation answers, competition results…):

    @activity_metric("resources_published", label_key="activity.resources_published", weight=3)
    async def _published(session, association_id, start, end) -> dict[int, float]:
        ...  # user_id -> value within [start, end)

and the statistics compute every registered metric for an association and a period. The
ranked list for award recommendations is Σ weight × value, with the formula shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

Source = Callable[[AsyncSession, int, datetime, datetime], Awaitable[dict[int, float]]]


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label_key: str  # i18n key of the column's name
    weight: float  # its weight in the ranking formula (0 = shown, not ranked)
    unit: Literal["count", "minutes"]
    order: int
    source: Source


METRICS: dict[str, Metric] = {}


def activity_metric(
    key: str, *, label_key: str, weight: float, unit: Literal["count", "minutes"] = "count", order: int = 50
) -> Callable[[Source], Source]:
    def register(fn: Source) -> Source:
        METRICS[key] = Metric(key, label_key, weight, unit, order, fn)
        return fn

    return register


def metrics() -> list[Metric]:
    return sorted(METRICS.values(), key=lambda m: (m.order, m.key))


async def member_activity(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, dict[str, float]]:
    """user_id -> metric key -> value, for every registered metric (missing = 0)."""
    out: dict[int, dict[str, float]] = {}
    for m in metrics():
        for user_id, value in (await m.source(session, association_id, start, end)).items():
            out.setdefault(user_id, {})[m.key] = float(value)
    return out
