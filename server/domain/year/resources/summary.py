"""Resources for the annual analysis and the activity statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.resources import Resource, ResourceKind, ResourceStatus
from server.domain.year.activity import activity_metric
from server.domain.year.resources.rules import ResourcesSummary


async def resources_summary(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> ResourcesSummary:
    """Resources of the association published within [start, end) and still published."""
    rows = (
        await session.execute(
            select(Resource.kind, func.count(Resource.id))
            .where(
                Resource.association_id == association_id,
                Resource.status == ResourceStatus.published,
                Resource.published_at >= start,
                Resource.published_at < end,
            )
            .group_by(Resource.kind)
        )
    ).all()
    by_type = {ResourceKind(kind).value: int(n) for kind, n in rows}
    return ResourcesSummary(published=sum(by_type.values()), by_type=by_type)


@activity_metric("resources_published", label_key="resources.activity.published", weight=3, order=60)
async def resources_published_metric(
    session: AsyncSession, association_id: int, start: datetime, end: datetime
) -> dict[int, float]:
    """Per author: resources published within [start, end) (and still published)."""
    rows = (
        await session.execute(
            select(Resource.author_id, func.count(Resource.id))
            .where(
                Resource.association_id == association_id,
                Resource.status == ResourceStatus.published,
                Resource.author_id.is_not(None),
                Resource.published_at >= start,
                Resource.published_at < end,
            )
            .group_by(Resource.author_id)
        )
    ).all()
    return {int(uid): float(n) for uid, n in rows if uid is not None}
