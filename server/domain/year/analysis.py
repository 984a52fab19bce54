"""The annual analysis (анализ работы СМО за учебный год, clause 7.2, PROTOCOL.md §3).

Computed from the year's data — the plan and its rows, the meetings' event logs (the same fold
as the statistics), approved protocols' decisions, the members' profiles, the needs
questionnaires, feedback after meetings, the resource base — plus what the methodist writes:
conclusions and tasks for next year (``annual_analyses``). The tasks can seed next year's
plan (rows with source «analysis»; pressing twice adds nothing). The document is one list of
parts (``server.domain.year.analysis_layout``) drawn as HTML with SVG charts on the page and as
DOCX/PDF with PNG charts by the protocol's renderers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    AgendaItem,
    Association,
    MeetingForm,
    Role,
    User,
)
from server.db.models.analysis import AnnualAnalysis
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowSource, PlanRowStatus, WorkPlan
from server.db.models.protocols import MeetingProtocol, ProtocolVersion
from server.db.types import utcnow
from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.community.profiles import StaffSummary, staff_summary
from server.domain.protocol import assemble_protocol
from server.domain.protocol.fold import number_list
from server.domain.protocol.serialize import info_from_json
from server.domain.year.activity import metrics
from server.domain.year.competitions import CompetitionResult, competition_results
from server.domain.year.consultations import ConsultationsSummary, consultations_summary
from server.domain.year.feedback import MeetingFeedback, feedback_summary
from server.domain.year.library import publish_version
from server.domain.year.needs import NeedsSummary, needs_summary
from server.domain.year.plans import add_plan_row, get_or_create_plan, school_year_label
from server.domain.year.resources import ResourcesSummary, resources_summary
from server.domain.year.stats import (
    MeetingFacts,
    MemberRow,
    activity_rows,
    members_of,
    rank_rows,
    year_bounds,
    year_facts,
)
from server.errors import NotFound, ValidationFailed
from server.settings import Settings

MAX_CONCLUSIONS = 20_000
MAX_TASKS_TEXT = 10_000
MAX_TASKS = 30
MAX_TASK = 500
TOP_ACTIVE = 5
_BULLET = re.compile(r"^\s*(?:\d{1,3}[.)]|[-–—•*])\s*")


# --- what the document is made of --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MeetingLine:
    meeting_id: int
    day: date
    title: str
    form: MeetingForm
    present: int  # members present by the presence rule
    members: int  # members of the association
    speaking_minutes: float
    duration_minutes: int
    topics: tuple[str, ...]  # agenda items

    @property
    def percent(self) -> int:
        return half_up(self.present * 100 / self.members) if self.members else 0


@dataclass(frozen=True, slots=True)
class DecisionLine:
    day: date
    meeting_title: str
    text: str
    from_protocol: bool  # an approved protocol's wording (else the poll's)


@dataclass(slots=True)
class AnalysisData:
    association: Association
    year: int
    plan: WorkPlan | None
    plan_rows: list[PlanRow]
    members: int
    by_role: dict[str, int]
    schools: list[str]
    meetings: list[MeetingLine]
    decisions: list[DecisionLine]
    top: list[MemberRow]
    weights: list[tuple[str, float]]  # (label key, weight) of the ranked metrics
    methodist: str
    record: AnnualAnalysis | None
    staff: StaffSummary | None = None
    needs: NeedsSummary | None = None
    needs_before: NeedsSummary | None = None
    feedback: list[MeetingFeedback] = field(default_factory=list)
    resources: ResourcesSummary | None = None
    consultations: ConsultationsSummary | None = None
    competitions: list[CompetitionResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        return school_year_label(self.year)

    @property
    def average_attendance(self) -> int:
        return half_up(sum(m.percent for m in self.meetings) / len(self.meetings)) if self.meetings else 0

    @property
    def rows_by_status(self) -> dict[PlanRowStatus, int]:
        out = dict.fromkeys(PlanRowStatus, 0)
        for r in self.plan_rows:
            out[r.status] += 1
        return out

    @property
    def tasks(self) -> list[str]:
        return parse_tasks(self.record.next_tasks) if self.record else []


def half_up(value: float) -> int:
    """62.5 -> 63 (school rounding; Python's round() would give 62)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def parse_tasks(text: str) -> list[str]:
    """One task per line; numbering and bullets dropped, blank and repeated lines skipped."""
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        task = _BULLET.sub("", line).strip()
        if task and task.casefold() not in seen:
            seen.add(task.casefold())
            out.append(task)
    return out


# --- gathering ---------------------------------------------------------------------------------
def _accepted(result: dict[str, object] | None) -> bool:
    if result is None:
        return False
    if result.get("outcome") in ("accepted", "rejected"):
        return result.get("outcome") == "accepted"
    counts = [*number_list(result.get("counts")), 0]
    cast = result.get("cast")
    return bool(result.get("quorum", True)) and isinstance(cast, int) and counts[0] * 2 > cast


async def _decisions(session: AsyncSession, facts: list[MeetingFacts]) -> list[DecisionLine]:
    """Accepted decisions: an approved protocol's wording (its latest version, with the human
    edits), otherwise the decision polls accepted in the meeting."""
    ids = [m.meeting_id for m in facts]
    versions: dict[int, ProtocolVersion] = {}
    if ids:
        rows = await session.execute(
            select(MeetingProtocol.meeting_id, ProtocolVersion)
            .join(ProtocolVersion, ProtocolVersion.protocol_id == MeetingProtocol.id)
            .where(MeetingProtocol.meeting_id.in_(ids), ProtocolVersion.version == MeetingProtocol.version)
        )
        versions = {mid: v for mid, v in rows}
    out: list[DecisionLine] = []
    for m in facts:
        version = versions.get(m.meeting_id)
        if version is not None:
            protocol = assemble_protocol(
                info_from_json(version.info),
                [e for e in m.events if e.seq <= version.last_seq],
                form="short" if version.form == "short" else "full",
                presence_share=version.presence_share,
                edits=version.edits,
            )
            for item in protocol.items:
                for d in item.decisions:
                    if d.status == "accepted":
                        out.append(DecisionLine(m.day, m.title, d.text, True))
            continue
        for poll in m.polls:
            if poll.kind == "decision" and _accepted(poll.result):
                out.append(DecisionLine(m.day, m.title, poll.decision_text or poll.question, False))
    return out


async def gather(session: AsyncSession, association: Association, year: int) -> AnalysisData:
    """Everything the analysis says about ``year`` (the caller has checked the rights)."""
    aid = association.id
    start, end = year_bounds(year)
    plan = await session.scalar(
        select(WorkPlan).where(WorkPlan.association_id == aid, WorkPlan.school_year == year)
    )
    plan_rows = (
        list(
            await session.scalars(
                select(PlanRow).where(PlanRow.plan_id == plan.id).order_by(PlanRow.position)
            )
        )
        if plan
        else []
    )
    members = await members_of(session, aid)
    member_ids = {u.id for u, _, _ in members}
    by_role = {r.value: sum(1 for _, role, _ in members if role == r) for r in Role}
    schools = sorted({org for _, _, org in members if org}, key=str.casefold)
    facts = (await year_facts(session, aid, start, end)).meetings
    topics: dict[int, list[str]] = {}
    if facts:
        for mid, title in await session.execute(
            select(AgendaItem.meeting_id, AgendaItem.title)
            .where(AgendaItem.meeting_id.in_([m.meeting_id for m in facts]))
            .order_by(AgendaItem.meeting_id, AgendaItem.position)
        ):
            topics.setdefault(mid, []).append(title)
    lines = [
        MeetingLine(
            m.meeting_id,
            m.day,
            m.title,
            m.form,
            len(m.present_users() & member_ids),
            len(member_ids),
            round(m.speaking_seconds() / 60, 1),
            round(m.duration_seconds / 60),
            tuple(topics.get(m.meeting_id, ())),
        )
        for m in facts
    ]
    rows = await activity_rows(session, aid, year)
    methodist = next((u.short_name for u, role, _ in members if role == Role.methodist), "")
    record = await session.scalar(
        select(AnnualAnalysis).where(AnnualAnalysis.association_id == aid, AnnualAnalysis.school_year == year)
    )
    return AnalysisData(
        association=association,
        year=year,
        plan=plan,
        plan_rows=plan_rows,
        members=len(members),
        by_role=by_role,
        schools=schools,
        meetings=lines,
        decisions=await _decisions(session, facts),
        top=rank_rows(rows)[:TOP_ACTIVE],
        weights=[(m.label_key, m.weight) for m in metrics() if m.weight],
        methodist=methodist,
        record=record,
        staff=await staff_summary(session, aid),
        needs=await needs_summary(session, aid, year),
        needs_before=await needs_summary(session, aid, year - 1),
        feedback=await feedback_summary(session, aid, year),
        resources=await resources_summary(session, aid, start, end),
        consultations=await consultations_summary(session, aid, start, end),
        competitions=await competition_results(session, aid, start, end),
    )


# --- the page and the actions ----------------------------------------------------------------------
@dataclass(slots=True)
class AnalysisPage:
    association: Association
    year: int
    can_edit: bool
    data: AnalysisData | None  # None: a member without the methodist's rights
    published: list[LibraryVersion]

    @property
    def label(self) -> str:
        return school_year_label(self.year)


async def _association(session: AsyncSession, association_id: int) -> Association:
    association = await session.get(Association, association_id)
    if association is None:
        raise NotFound()
    return association


async def published_versions(session: AsyncSession, association_id: int, year: int) -> list[LibraryVersion]:
    return list(
        await session.scalars(
            select(LibraryVersion)
            .join(LibraryDocument, LibraryDocument.id == LibraryVersion.document_id)
            .where(
                LibraryDocument.association_id == association_id,
                LibraryDocument.kind == LibraryKind.analysis,
                LibraryDocument.school_year == year,
            )
            .order_by(LibraryVersion.version.desc())
        )
    )


async def analysis_page(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> AnalysisPage:
    """Methodists and administrators work on the analysis; other members see where its
    published versions are (the documents section) — the draft names the most active members."""
    association = await _association(session, association_id)
    role = await require_member(session, user, association_id)
    assert user is not None
    can_edit = user.is_admin or role == Role.methodist
    data = await gather(session, association, year) if can_edit else None
    return AnalysisPage(
        association, year, can_edit, data, await published_versions(session, association_id, year)
    )


async def require_editor(session: AsyncSession, user: User | None, association_id: int) -> User:
    """A methodist of the association or an administrator (404 for an unknown association)."""
    await _association(session, association_id)
    return await require_methodist(session, user, association_id)


async def analysis_for_export(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> AnalysisData:
    association = await _association(session, association_id)
    await require_methodist(session, user, association_id)
    return await gather(session, association, year)


def validate_texts(conclusions: str, next_tasks: str) -> tuple[str, str]:
    """Field errors (codes) in ValidationFailed; the cleaned texts otherwise."""
    conclusions = conclusions.replace("\r\n", "\n").strip()
    next_tasks = next_tasks.replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    if len(conclusions) > MAX_CONCLUSIONS:
        errors["conclusions"] = "conclusions_too_long"
    tasks = parse_tasks(next_tasks)
    if len(next_tasks) > MAX_TASKS_TEXT:
        errors["next_tasks"] = "tasks_too_long"
    elif len(tasks) > MAX_TASKS:
        errors["next_tasks"] = "too_many_tasks"
    elif any(len(t) > MAX_TASK for t in tasks):
        errors["next_tasks"] = "task_too_long"
    if errors:
        raise ValidationFailed(details={"fields": errors})
    return conclusions, next_tasks


async def save_texts(
    session: AsyncSession,
    user: User | None,
    association_id: int,
    year: int,
    conclusions: str,
    next_tasks: str,
) -> AnnualAnalysis:
    await _association(session, association_id)
    editor = await require_methodist(session, user, association_id)
    conclusions, next_tasks = validate_texts(conclusions, next_tasks)
    record = await session.scalar(
        select(AnnualAnalysis).where(
            AnnualAnalysis.association_id == association_id, AnnualAnalysis.school_year == year
        )
    )
    if record is None:
        record = AnnualAnalysis(association_id=association_id, school_year=year)
        session.add(record)
    record.conclusions, record.next_tasks = conclusions, next_tasks
    record.updated_by_id, record.updated_at = editor.id, utcnow()
    await session.flush()
    return record


@dataclass(frozen=True, slots=True)
class Transfer:
    added: int
    skipped: int  # already in next year's plan


async def transfer_tasks(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> Transfer:
    """Each task for next year becomes a row of next year's plan (source «analysis»); a task
    already there (same wording) is skipped, so pressing twice adds nothing. An empty «tasks»
    header of next year's plan is filled with the tasks too."""
    await _association(session, association_id)
    await require_methodist(session, user, association_id)
    record = await session.scalar(
        select(AnnualAnalysis).where(
            AnnualAnalysis.association_id == association_id, AnnualAnalysis.school_year == year
        )
    )
    tasks = parse_tasks(record.next_tasks) if record else []
    plan = await get_or_create_plan(session, association_id, year + 1)
    existing = {
        t.strip().casefold()
        for t in await session.scalars(select(PlanRow.topic).where(PlanRow.plan_id == plan.id))
    }
    added = 0
    for task in tasks:
        if task[:500].casefold() in existing:
            continue
        await add_plan_row(session, association_id, year + 1, topic=task, source=PlanRowSource.analysis)
        existing.add(task[:500].casefold())
        added += 1
    if tasks and not plan.tasks.strip():
        plan.tasks = "\n".join(tasks)
    await session.flush()
    return Transfer(added, len(tasks) - added)


def analysis_title(year: int) -> str:
    return f"Анализ работы сетевого методического объединения за {school_year_label(year)} учебный год"


def file_stem(year: int) -> str:
    return f"Анализ работы СМО за {year}-{year + 1} учебный год"


async def publish_analysis(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    year: int,
    *,
    docx: bytes,
    pdf: bytes,
) -> LibraryVersion:
    """A new version of the year's analysis in the documents section (7.2)."""
    await _association(session, association_id)
    publisher = await require_methodist(session, user, association_id)
    return await publish_version(
        session,
        settings,
        association_id=association_id,
        kind=LibraryKind.analysis,
        school_year=year,
        title=analysis_title(year),
        user=publisher,
        docx=docx,
        pdf=pdf,
        filename_stem=file_stem(year),
    )
