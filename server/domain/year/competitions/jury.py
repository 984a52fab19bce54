"""The jury scores every entry by every criterion; the methodist publishes the results."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.accounts import User
from server.db.models.competitions import CompetitionEntry, CompetitionScore
from server.db.models.notifications import NotificationKind
from server.db.types import utcnow
from server.domain.accounts.permissions import require_login, require_member, require_methodist
from server.domain.community.notifications import notify
from server.domain.year.competitions.reading import (
    load_competition,
    load_criteria,
    load_entry,
    load_juror_ids,
    load_member_ids,
)
from server.domain.year.competitions.rules import (
    AlreadyPublished,
    NotJudging,
    NotJuror,
    OwnEntry,
    Ranked,
    entry_total,
    phase_of,
    rank,
)
from server.errors import NotFound, ValidationFailed


async def score_entry(
    session: AsyncSession, user: User | None, competition_id: int, entry_id: int, raw: dict[str, str]
) -> None:
    """A juror's scores for one entry, one per criterion (``raw``: "c<criterion id>" -> text).

    Only jurors (403), never for their own entry (403), only after entries close and before
    the results (409); every criterion 0..max (422, nothing saved)."""
    user = require_login(user)
    entry, c = await load_entry(session, entry_id)
    if c.id != competition_id:
        raise NotFound()
    await require_member(session, user, c.association_id)
    if user.id not in await load_juror_ids(session, c.id):
        raise NotJuror()
    if entry.user_id == user.id:
        raise OwnEntry()
    if phase_of(c) != "judging":
        raise NotJudging()
    criteria = await load_criteria(session, c.id)
    values: dict[int, int] = {}
    errors: dict[str, str] = {}
    for crit in criteria:
        key = f"c{crit.id}"
        text = (raw.get(key) or "").strip()
        if not text:
            errors[key] = "missing"
            continue
        try:
            value = int(text)
        except ValueError:
            errors[key] = "int_parsing"
            continue
        if not 0 <= value <= crit.max_score:
            errors[key] = "out_of_range"
            continue
        values[crit.id] = value
    if errors:
        raise ValidationFailed(details={"fields": errors, "entry": entry.id})
    existing = {
        s.criterion_id: s
        for s in (
            await session.scalars(
                select(CompetitionScore).where(
                    CompetitionScore.entry_id == entry.id, CompetitionScore.juror_id == user.id
                )
            )
        ).all()
    }
    now = utcnow()
    for cid, value in values.items():
        if cid in existing:
            existing[cid].score, existing[cid].scored_at = value, now
        else:
            session.add(
                CompetitionScore(
                    entry_id=entry.id, criterion_id=cid, juror_id=user.id, score=value, scored_at=now
                )
            )
    await session.flush()


async def publish_results(session: AsyncSession, user: User | None, competition_id: int) -> list[Ranked]:
    """Rank the entries, number the certificates, notify the members. Once only."""
    c = await load_competition(session, competition_id)
    actor = await require_methodist(session, user, c.association_id)
    if c.results_published_at is not None:
        raise AlreadyPublished()
    if phase_of(c) != "judging":
        raise NotJudging()
    crit_ids = [cr.id for cr in await load_criteria(session, c.id)]
    entries = list(
        (await session.scalars(select(CompetitionEntry).where(CompetitionEntry.competition_id == c.id))).all()
    )
    scores: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry_id, cid, score in (
        await session.execute(
            select(CompetitionScore.entry_id, CompetitionScore.criterion_id, CompetitionScore.score).where(
                CompetitionScore.entry_id.in_([e.id for e in entries])
            )
        )
    ).all():
        scores[entry_id].append((cid, score))
    ranking = rank({e.id: entry_total(crit_ids, scores.get(e.id, [])) for e in entries})
    by_id = {e.id: e for e in entries}
    for n, r in enumerate(ranking, start=1):
        e = by_id[r.entry_id]
        e.total = float(r.total)
        e.place = r.place
        e.certificate_number = f"{c.association_id}-{c.id}-{n:03d}"
    c.results_published_at = utcnow()
    c.published_by_id = actor.id
    await session.flush()
    await notify(
        session,
        await load_member_ids(session, c.association_id),
        NotificationKind.competition,
        dedupe_key=f"competition:{c.id}:results",
        title=f"Подведены итоги конкурса «{c.title}»"[:300],
        url=f"/competitions/{c.id}",
        association_id=c.association_id,
    )
    return ranking
