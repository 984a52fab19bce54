"""The plan as a document (PROTOCOL.md §2), published into the «Документы» section."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Role, User
from server.db.models.library import LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowStatus
from server.domain.accounts.associations import association_members, get_association
from server.domain.accounts.permissions import membership_role, require_login, require_methodist
from server.domain.protocol import russian as ru
from server.domain.protocol.layout import Block
from server.domain.year.library import publish_version
from server.domain.year.plans.reading import PlanPage, RowView, find_plan, plan_page
from server.domain.year.plans.rules import PlanEmpty, check_year, school_year_label
from server.errors import NotFound
from server.settings import Settings

STATUS_RU = {
    PlanRowStatus.planned: "запланировано",
    PlanRowStatus.held: "проведено",
    PlanRowStatus.moved: "перенесено",
    PlanRowStatus.cancelled: "отменено",
}
TABLE_HEAD = ("№", "Тема заседания (рассматриваемые вопросы)", "Форма проведения", "Сроки", "Ответственные")


def _topic_cell(v: RowView) -> str:
    questions = v.question_lines
    if not questions:
        return v.row.topic
    listed = " ".join(f"{n}. {ru.sentence(q)}" for n, q in enumerate(questions, start=1))
    return f"{ru.sentence(v.row.topic)} Рассматриваемые вопросы: {listed}"


def dates_cell(v: RowView) -> str:
    parts = [
        p
        for p in (ru.date_requisite(v.row.planned_date) if v.row.planned_date else "", v.row.dates_text)
        if p
    ]
    text = ", ".join(parts) or "—"
    if v.row.status == PlanRowStatus.moved and v.meeting is not None:
        text += f" (перенесено на {ru.date_requisite(v.meeting.held_at)})"
    elif v.row.status == PlanRowStatus.cancelled:
        text += " (отменено)"
    elif v.row.status == PlanRowStatus.held and v.meeting is not None:
        moved = "перенесено, " if v.new_date is not None else ""
        text += f" ({moved}проведено {ru.date_requisite(v.meeting.held_at)})"
    return text


def plan_title(association: Association, year: int) -> str:
    return f"План работы {association.name} на {school_year_label(year)} учебный год"


def plan_blocks(page: PlanPage, signer: str = "") -> list[Block]:
    """The plan as PROTOCOL.md §2 lays it out: requisites, title, theme, goal, tasks, table."""
    a, plan = page.association, page.plan
    out: list[Block] = [Block("text", line) for line in (a.founder_name, a.name) if line]
    out += [Block("gap"), Block("heading", "ПЛАН РАБОТЫ", bold=True)]
    out += [Block("heading", f"{a.name} на {page.label} учебный год", bold=True), Block("gap")]
    if plan is not None and plan.theme:
        out.append(Block("text", f"Методическая тема: {ru.sentence(plan.theme)}"))
    if plan is not None and plan.goal:
        out.append(Block("text", f"Цель: {ru.sentence(plan.goal)}"))
    if page.task_lines:
        out.append(Block("text", "Задачи:", bold=True))
        out += [Block("text", f"{n}. {ru.sentence(t)}") for n, t in enumerate(page.task_lines, start=1)]
    out.append(Block("gap"))
    if page.rows:
        rows = [TABLE_HEAD] + [
            (str(v.row.position), _topic_cell(v), v.row.form or "—", dates_cell(v), v.row.responsible or "—")
            for v in page.rows
        ]
        out.append(Block("table", rows=tuple(rows)))
    else:
        out.append(Block("text", "Заседания пока не запланированы."))
    out += [Block("gap"), Block("signature", "Сетевой методист", right=signer)]
    return out


async def plan_document(
    session: AsyncSession, user: User | None, association_id: int, year: int
) -> tuple[PlanPage, list[Block]]:
    """The plan's blocks for DOCX/PDF (members read it); signed by the association's methodist."""
    page = await plan_page(session, user, association_id, year)
    if page.plan is None and not page.rows:
        raise NotFound()
    signer = ""
    if user is not None and await membership_role(session, user, association_id) == Role.methodist:
        signer = user.short_name
    else:
        for m in await association_members(session, association_id):
            if m.role == Role.methodist:
                signer = m.user.short_name
                break
    return page, plan_blocks(page, signer)


def file_stem(year: int) -> str:
    return f"План работы {year}-{year + 1}"


async def check_publishable(session: AsyncSession, user: User | None, association_id: int, year: int) -> None:
    require_login(user)
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    plan = await find_plan(session, association_id, check_year(year))
    has_rows = plan is not None and bool(
        await session.scalar(select(func.count(PlanRow.id)).where(PlanRow.plan_id == plan.id))
    )
    if plan is None or not (has_rows or plan.theme.strip()):
        raise PlanEmpty()


async def publish_plan(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    association_id: int,
    year: int,
    *,
    docx: bytes,
    pdf: bytes,
) -> LibraryVersion:
    """«Утвердить и опубликовать»: the next version of the year's plan in the documents section."""
    await check_publishable(session, user, association_id, year)
    return await publish_version(
        session,
        settings,
        association_id=association_id,
        kind=LibraryKind.plan,
        school_year=year,
        title=f"План работы на {school_year_label(year)} учебный год",
        user=user,
        docx=docx,
        pdf=pdf,
        filename_stem=file_stem(year),
    )
