"""The needs report (PROTOCOL.md §4): top needs into the plan, the report document
published into the documents section."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.charts import bar_chart
from server.db.models import Membership, Role, User
from server.db.models.library import LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowSource, WorkPlan
from server.db.models.questionnaires import (
    QuestionKind,
    Questionnaire,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from server.domain.protocol import render_docx, render_pdf
from server.domain.protocol import russian as ru
from server.domain.protocol.layout import Block
from server.domain.year.library import publish_version
from server.domain.year.needs import topics_of
from server.domain.year.plans import add_plan_row, get_or_create_plan
from server.domain.year.questionnaires.counts import Results, compute_results
from server.domain.year.questionnaires.inputs import q_error
from server.domain.year.questionnaires.reading import managed, school_year_at
from server.errors import NotFound, ValidationFailed
from server.settings import Settings


async def needs_questionnaire(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> Questionnaire:
    q = await managed(session, user, questionnaire_id)
    if q.template != QuestionnaireTemplate.needs:
        raise NotFound()
    if q.status == QuestionnaireStatus.draft:
        raise q_error("draft_no_results")
    return q


async def needs_to_plan(
    session: AsyncSession, user: User | None, questionnaire_id: int, labels: Sequence[str], school_year: int
) -> tuple[int, int]:
    """Add the chosen topics as rows (source «needs») of that school year's plan; a topic
    already in the plan from the needs is skipped. Returns (added, skipped)."""
    q = await needs_questionnaire(session, user, questionnaire_id)
    current = school_year_at(None)
    if school_year not in (current, current + 1):
        raise ValidationFailed(details={"fields": {"school_year": "bad_choice"}})
    if not labels:
        raise ValidationFailed(details={"fields": {"labels": "nothing_chosen"}})
    summary = await topics_of(session, [q.id])
    known = {line.label.casefold(): line for line in summary.lines}
    chosen = []
    for label in labels:
        line = known.get(" ".join(label.split()).casefold())
        if line is None:
            raise ValidationFailed(details={"fields": {"labels": "bad_choice"}})
        if line not in chosen:
            chosen.append(line)
    plan = await get_or_create_plan(session, q.association_id, school_year)
    # Serialise concurrent clicks on the same plan (PostgreSQL; SQLite's writer lock already does).
    await session.execute(select(WorkPlan.id).where(WorkPlan.id == plan.id).with_for_update())
    existing = {
        t.casefold()
        for t in (
            await session.scalars(
                select(PlanRow.topic).where(PlanRow.plan_id == plan.id, PlanRow.source == PlanRowSource.needs)
            )
        ).all()
    }
    added = skipped = 0
    for line in chosen:
        if line.label[:500].casefold() in existing:
            skipped += 1
            continue
        await add_plan_row(
            session,
            q.association_id,
            school_year,
            topic=line.label,
            source=PlanRowSource.needs,
            note=(
                f"По результатам анкетирования «{q.title}»: выбрали {line.count} из "
                f"{summary.respondents} ({line.percent:g} %)."
            ),
        )
        existing.add(line.label[:500].casefold())
        added += 1
    return added, skipped


# --- the needs report (PROTOCOL.md §4) ---------------------------------------------------------
REPORT_TITLE = "Сведения о профессиональных потребностях педагогов"
TOP_NEEDS = 3


def _pct(value: float) -> str:
    return f"{value:g}".replace(".", ",") + " %"


def _num(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def needs_report_blocks(r: Results, methodist: str, chart_png: bytes | None) -> list[Block]:
    """The document: respondents and rate; per closed question the ranked counts and %; per
    scale the mean and distribution; free text listed; the cross-tab by experience; the top
    needs proposed as topics for the plan."""
    q = r.q
    year = q.school_year
    blocks: list[Block] = [
        Block("heading", r.association.name),
        Block("heading", REPORT_TITLE),
        Block("text", f"по результатам анкетирования «{q.title}», {year}/{year + 1} учебный год", bold=False),
        Block("gap"),
    ]
    period = ""
    if q.published_at is not None:
        period = f"Анкетирование проводилось с {ru.date_text(ru.moscow(q.opens_at or q.published_at))}"
        end = q.closed_at or q.closes_at
        if end is not None:
            period += f" по {ru.date_text(ru.moscow(end))}"
        blocks.append(Block("text", period + "."))
    blocks.append(
        Block(
            "text",
            f"Количество респондентов: {r.respondents} из {ru.of_members(r.members)} СМО "
            f"(охват {_pct(r.rate)}). Анкета {'анонимная' if q.anonymous else 'именная'}.",
        )
    )
    for n, qr in enumerate(r.questions, start=1):
        qq = qr.question
        blocks.append(Block("gap"))
        blocks.append(Block("text", f"{n}. {qq.text}", bold=True))
        if qq.kind in (QuestionKind.single, QuestionKind.multiple):
            rows = [("Вариант ответа", "Количество", "%")]
            rows += [(o.label, str(o.count), _pct(o.percent)) for o in qr.ranked]
            blocks.append(Block("table", rows=tuple(rows)))
            blocks.append(Block("text", f"Ответили на вопрос: {ru.people(qr.answered)}."))
            if qq.tag == QuestionTag.needs_topics and chart_png:
                blocks.append(Block("image", "Темы, интересующие педагогов (число ответов)", image=chart_png))
            if qr.texts:
                blocks.append(Block("text", "Варианты «другое»:"))
                blocks += [Block("text", f"— {t}") for t in qr.texts]
        elif qq.kind == QuestionKind.scale:
            mean = "—" if qr.mean is None else _num(qr.mean)
            blocks.append(Block("text", f"Средняя оценка: {mean} (ответили: {ru.people(qr.answered)})."))
            rows = [("Оценка", "Количество", "%")] + [
                (o.label, str(o.count), _pct(o.percent)) for o in qr.options
            ]
            blocks.append(Block("table", rows=tuple(rows)))
        else:
            if qr.texts:
                blocks += [Block("text", f"— {t}") for t in qr.texts]
            else:
                blocks.append(Block("text", "Ответов нет."))
    if r.cross_tab is not None:
        groups, rows_ = r.cross_tab
        blocks.append(Block("gap"))
        blocks.append(Block("text", "Интересующие темы в зависимости от педагогического стажа", bold=True))
        table = [("Тема", *groups)] + [(label, *(str(c) for c in counts)) for label, counts in rows_]
        blocks.append(Block("table", rows=tuple(table)))
    if r.topics is not None:
        top = [line for line in r.topics.lines if line.count > 0][:TOP_NEEDS]
        blocks.append(Block("gap"))
        blocks.append(Block("text", "Предлагаемые темы для плана работы СМО", bold=True))
        if top:
            blocks += [
                Block("text", f"{i}. {line.label} ({line.count}, {_pct(line.percent)})")
                for i, line in enumerate(top, start=1)
            ]
        else:
            blocks.append(Block("text", "Нет ответов."))
    blocks.append(Block("gap"))
    blocks.append(Block("signature", "Сетевой методист", right=methodist))
    return blocks


def topics_chart(r: Results, fmt: Literal["svg", "png"]) -> bytes | None:
    if r.topics is None or not r.topics.lines:
        return None
    lines = r.topics.lines
    return bar_chart(
        [line.label for line in lines],
        [line.count for line in lines],
        title="Темы, интересующие педагогов",
        fmt=fmt,
        horizontal=True,
    )


@dataclass(frozen=True, slots=True)
class ReportFiles:
    title: str
    stem: str
    docx: bytes
    pdf: bytes


async def methodist_name(session: AsyncSession, association_id: int) -> str:
    name = await session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id, Membership.role == Role.methodist)
        .order_by(Membership.id)
        .limit(1)
    )
    return name.short_name if name else ""


async def report_results(
    session: AsyncSession, user: User | None, questionnaire_id: int
) -> tuple[Results, str]:
    q = await needs_questionnaire(session, user, questionnaire_id)
    return await compute_results(session, q), await methodist_name(session, q.association_id)


def render_report(r: Results, methodist: str) -> ReportFiles:
    """DOCX and PDF (CPU-bound: call in a thread)."""
    blocks = needs_report_blocks(r, methodist, topics_chart(r, "png"))
    year = r.q.school_year
    title = f"{REPORT_TITLE} ({year}/{year + 1} учебный год)"
    stem = f"Сведения о профессиональных потребностях педагогов {year}-{year + 1}"
    return ReportFiles(title, stem, render_docx(blocks), render_pdf(blocks, title=REPORT_TITLE))


async def publish_report(
    session: AsyncSession, settings: Settings, user: User | None, questionnaire_id: int, files: ReportFiles
) -> LibraryVersion:
    q = await needs_questionnaire(session, user, questionnaire_id)
    return await publish_version(
        session,
        settings,
        association_id=q.association_id,
        kind=LibraryKind.needs_report,
        school_year=q.school_year,
        title=files.title,
        user=user,
        docx=files.docx,
        pdf=files.pdf,
        filename_stem=files.stem,
        note=f"По анкете «{q.title}»"[:500],
    )
