"""The regional overview (administrators): every association of the installation side by side
for one school year, exportable to CSV and XLSX, with meetings held per month.

Figures for school year Y (1 September Y – 31 August Y+1, Moscow time):

- members: current memberships;
- planned: rows of the association's work plan for Y;
- held: meetings that ended (status ``ended``) within the year;
- attendance: the mean over held meetings of (members who joined the room at least once, by
  the log's ``participant.joined`` events) / (current members); empty without held meetings;
- protocols: protocols approved with school year Y;
- resources: resources published within the year (table ``resources``);
- open questions: consultation questions asked within the year and not solved.

Each figure is one grouped query over all associations (no per-association loop).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Association,
    Meeting,
    MeetingEvent,
    MeetingProtocol,
    MeetingStatus,
    Membership,
    PlanRow,
    ProtocolStatus,
    User,
    WorkPlan,
)
from server.db.models.consultations import Question
from server.db.models.resources import Resource, ResourceStatus
from server.domain.accounts.permissions import require_admin
from server.domain.year.plans import current_school_year, school_year_label
from server.spreadsheet import csv_text, safe_row

MOSCOW = ZoneInfo("Europe/Moscow")
MONTHS = ["Сен", "Окт", "Ноя", "Дек", "Янв", "Фев", "Мар", "Апр", "Май", "Июн", "Июл", "Авг"]

# (key, Russian column title) in table order; the key is also the ``sort`` parameter.
COLUMNS: list[tuple[str, str]] = [
    ("name", "Объединение"),
    ("members", "Участники"),
    ("planned", "Заседаний по плану"),
    ("held", "Проведено заседаний"),
    ("attendance", "Средняя посещаемость, %"),
    ("protocols", "Утверждено протоколов"),
    ("resources", "Опубликовано ресурсов"),
    ("questions", "Открытых вопросов"),
]
SORT_KEYS = {k for k, _ in COLUMNS}


@dataclass
class OverviewRow:
    association_id: int
    name: str
    members: int = 0
    planned: int = 0
    held: int = 0
    attendance: float | None = None  # 0..100, one decimal
    protocols: int = 0
    resources: int = 0
    questions: int = 0

    def value(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class Overview:
    year: int
    label: str
    rows: list[OverviewRow]
    totals: OverviewRow
    months: list[tuple[str, int]]  # meetings held per month, September first
    sort: str
    descending: bool
    years: list[int]


def year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 9, 1), time(0), tzinfo=MOSCOW).astimezone(UTC)
    end = datetime.combine(date(year + 1, 9, 1), time(0), tzinfo=MOSCOW).astimezone(UTC)
    return start, end


def parse_sort(raw: str | None) -> tuple[str, bool]:
    """``sort=held`` ascending, ``sort=-held`` descending; unknown → by name."""
    raw = (raw or "name").strip()
    desc = raw.startswith("-")
    key = raw.lstrip("-")
    if key not in SORT_KEYS:
        return "name", False
    return key, desc


async def available_years(session: AsyncSession) -> list[int]:
    current = current_school_year()
    years = {current - 1, current, current + 1}
    years.update(int(y) for y in await session.scalars(select(WorkPlan.school_year).distinct()))
    first = await session.scalar(select(func.min(Meeting.starts_at)))
    if first is not None:
        m = first.astimezone(MOSCOW).date()
        years.update(range(m.year if m.month >= 9 else m.year - 1, current))
    return sorted(years, reverse=True)


async def _counts(session: AsyncSession, stmt: Any) -> dict[int, int]:
    return {int(a): int(n) for a, n in await session.execute(stmt)}


async def regional_overview(
    session: AsyncSession, user: User | None, *, year: int | None = None, sort: str | None = None
) -> Overview:
    require_admin(user)
    year = year if year is not None else current_school_year()
    start, end = year_bounds(year)
    associations = list(await session.execute(select(Association.id, Association.name)))
    rows = {aid: OverviewRow(aid, name) for aid, name in associations}

    members = await _counts(
        session,
        select(Membership.association_id, func.count(Membership.id)).group_by(Membership.association_id),
    )
    planned = await _counts(
        session,
        select(WorkPlan.association_id, func.count(PlanRow.id))
        .join(PlanRow, PlanRow.plan_id == WorkPlan.id)
        .where(WorkPlan.school_year == year)
        .group_by(WorkPlan.association_id),
    )
    held_meetings = list(
        await session.execute(
            select(Meeting.id, Meeting.association_id, Meeting.ended_at).where(
                Meeting.status == MeetingStatus.ended, Meeting.ended_at >= start, Meeting.ended_at < end
            )
        )
    )
    protocols = await _counts(
        session,
        select(MeetingProtocol.association_id, func.count(MeetingProtocol.id))
        .where(MeetingProtocol.status == ProtocolStatus.approved, MeetingProtocol.school_year == year)
        .group_by(MeetingProtocol.association_id),
    )
    resources = await _counts(
        session,
        select(Resource.association_id, func.count(Resource.id))
        .where(
            Resource.status == ResourceStatus.published,
            Resource.published_at >= start,
            Resource.published_at < end,
        )
        .group_by(Resource.association_id),
    )
    questions = await _counts(
        session,
        select(Question.association_id, func.count(Question.id))
        .where(Question.solved_at.is_(None), Question.created_at >= start, Question.created_at < end)
        .group_by(Question.association_id),
    )

    # Attendance: who of the current members joined each held meeting (distinct people).
    held_ids = [mid for mid, _, _ in held_meetings]
    present: dict[int, set[str]] = {mid: set() for mid in held_ids}
    if held_ids:
        held_q = select(Meeting.id).where(
            Meeting.status == MeetingStatus.ended, Meeting.ended_at >= start, Meeting.ended_at < end
        )
        joined = (
            select(MeetingEvent.meeting_id, MeetingEvent.actor)
            .where(
                MeetingEvent.type == "participant.joined",
                MeetingEvent.actor.startswith("u:"),
                MeetingEvent.meeting_id.in_(held_q),
            )
            .distinct()
        )
        for mid, actor in await session.execute(joined):
            present[mid].add(actor)
    member_keys: dict[int, set[str]] = {}
    if held_ids:
        for aid, uid in await session.execute(
            select(Membership.association_id, Membership.user_id).where(
                Membership.association_id.in_({a for _, a, _ in held_meetings})
            )
        ):
            member_keys.setdefault(aid, set()).add(f"u:{uid}")
    shares: dict[int, list[float]] = {}
    months = [0] * 12
    for mid, aid, ended_at in held_meetings:
        if ended_at is not None:  # always set for ended meetings (filtered above)
            months[(ended_at.astimezone(MOSCOW).month - 9) % 12] += 1
        keys = member_keys.get(aid, set())
        if keys:
            shares.setdefault(aid, []).append(len(present[mid] & keys) / len(keys))
        if aid in rows:
            rows[aid].held += 1

    for aid, row in rows.items():
        row.members = members.get(aid, 0)
        row.planned = planned.get(aid, 0)
        row.protocols = protocols.get(aid, 0)
        row.resources = resources.get(aid, 0)
        row.questions = questions.get(aid, 0)
        if shares.get(aid):
            row.attendance = round(100 * sum(shares[aid]) / len(shares[aid]), 1)

    key, desc = parse_sort(sort)
    ordered = sort_rows(list(rows.values()), key, desc)
    totals = OverviewRow(0, "Всего по региону")
    for r in ordered:
        for k in ("members", "planned", "held", "protocols", "resources", "questions"):
            setattr(totals, k, getattr(totals, k) + getattr(r, k))
    all_shares = [s for v in shares.values() for s in v]
    if all_shares:
        totals.attendance = round(100 * sum(all_shares) / len(all_shares), 1)
    return Overview(
        year=year,
        label=school_year_label(year),
        rows=ordered,
        totals=totals,
        months=list(zip(MONTHS, months, strict=True)),
        sort=key,
        descending=desc,
        years=await available_years(session),
    )


def sort_rows(rows: list[OverviewRow], key: str, descending: bool) -> list[OverviewRow]:
    by_name: Callable[[OverviewRow], tuple[str, int]] = lambda r: (r.name.lower(), r.association_id)  # noqa: E731
    rows = sorted(rows, key=by_name)
    if key == "name":
        return list(reversed(rows)) if descending else rows
    # Empty values (no attendance) always last; ties keep the name order (sorted is stable).
    filled = [r for r in rows if r.value(key) is not None]
    empty = [r for r in rows if r.value(key) is None]
    filled.sort(key=lambda r: r.value(key), reverse=descending)
    return filled + empty


def _cells(row: OverviewRow) -> list[Any]:
    return safe_row(row.value(k) if row.value(k) is not None else "" for k, _ in COLUMNS)


def overview_csv(ov: Overview) -> bytes:
    """UTF-8 with a BOM (so that Excel opens Cyrillic correctly), comma-separated."""
    table = [[title for _, title in COLUMNS], *(_cells(row) for row in ov.rows), _cells(ov.totals)]
    return csv_text(table, delimiter=",").encode("utf-8")


def overview_xlsx(ov: Overview) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"Обзор {ov.label}".replace("/", "-")
    ws.append([title for _, title in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in ov.rows:
        ws.append(_cells(row))
    ws.append(_cells(ov.totals))
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 48
    for col in "BCDEFGH":
        ws.column_dimensions[col].width = 16
    months = wb.create_sheet("По месяцам")
    months.append(["Месяц", "Проведено заседаний"])
    for label, n in ov.months:
        months.append(safe_row([label, n]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
