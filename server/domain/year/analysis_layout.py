"""The annual analysis laid out: one list of parts (protocol blocks and charts), drawn as the
page (HTML, SVG charts) and as the documents (DOCX and PDF, PNG charts) — the same text in
every rendering. Section order follows PROTOCOL.md §3."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from server.charts import bar_chart
from server.db.models.plans import PlanRowStatus
from server.db.models.resources import ResourceKind
from server.domain.community.profiles import BANDS
from server.domain.protocol import render_html
from server.domain.protocol import russian as ru
from server.domain.protocol.layout import Block
from server.domain.year.analysis import AnalysisData, analysis_title, half_up
from server.domain.year.resources import KIND_NAMES_RU
from server.domain.year.stats import number_text
from server.i18n import translate

STATUS_RU = {
    PlanRowStatus.planned: "запланировано",
    PlanRowStatus.held: "проведено",
    PlanRowStatus.moved: "перенесено",
    PlanRowStatus.cancelled: "отменено",
}
ROLE_RU = {"methodist": "сетевой методист", "mo_head": "руководитель школьного МО", "member": "педагог"}
CATEGORY_RU = {"none": "без категории", "first": "первая категория", "highest": "высшая категория"}
NO_DATA = "Данных нет."


@dataclass(frozen=True, slots=True)
class Chart:
    caption: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    suffix: str = ""
    horizontal: bool = False

    def draw(self, fmt: str) -> bytes:
        return bar_chart(
            self.labels,
            self.values,
            title=self.caption,
            fmt="png" if fmt == "png" else "svg",
            value_suffix=self.suffix,
            horizontal=self.horizontal,
        )


Part = Block | Chart


def _t(text: str, bold: bool = False) -> Block:
    return Block("text", text, bold=bold)


def _h(text: str) -> Block:
    return Block("heading", text, bold=True)


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Block:
    return Block("table", rows=(head, *rows))


def _pct(part: int, whole: int) -> str:
    return f"{half_up(part * 100 / whole)} %" if whole else "0 %"


def _form(value: str) -> str:
    return translate(f"meetings.form.{value}", "ru")


def _goals(d: AnalysisData) -> list[Part]:
    out: list[Part] = [_h("1. Цели и задачи работы")]
    plan = d.plan
    if plan is None or not (plan.theme or plan.goal or plan.tasks):
        out.append(_t("План работы на учебный год не содержит темы, цели и задач."))
    else:
        if plan.theme:
            out.append(_t(f"Методическая тема: {ru.sentence(plan.theme)}"))
        if plan.goal:
            out.append(_t(f"Цель: {ru.sentence(plan.goal)}"))
        tasks = [t.strip() for t in plan.tasks.splitlines() if t.strip()]
        if tasks:
            out.append(_t("Задачи:"))
            out += [_t(f"{n}. {ru.sentence(t)}") for n, t in enumerate(tasks, 1)]
    total = len(d.plan_rows)
    held = d.rows_by_status[PlanRowStatus.held]
    out.append(
        _t(
            f"Выполнение плана: проведено {held} из {total} запланированных мероприятий ({_pct(held, total)})."
            if total
            else "Мероприятия в план работы на учебный год не вносились."
        )
    )
    return out


def _members(d: AnalysisData) -> list[Part]:
    out: list[Part] = [_h("2. Состав объединения")]
    roles = ", ".join(f"{ROLE_RU[k]} — {n}" for k, n in d.by_role.items() if n)
    out.append(_t(f"В объединении {ru.people(d.members)}" + (f" ({roles})." if roles else ".")))
    if d.association.subject:
        out.append(_t(f"Предмет: {ru.sentence(d.association.subject)}"))
    if d.schools:
        out.append(
            _t(
                f"Представлено {ru.count_text(len(d.schools), 'образовательная организация', 'образовательные организации', 'образовательных организаций')}: "
                + "; ".join(d.schools)
                + "."
            )
        )
    s = d.staff
    if s is not None and s.members:
        cats = ", ".join(f"{CATEGORY_RU.get(k, k)} — {n}" for k, n in s.by_category.items())
        out.append(_t(f"Квалификационные категории: {cats}."))
        rows = [
            (band, str(s.experience_bands.get(band, 0)), _pct(s.experience_bands.get(band, 0), s.members))
            for band in BANDS
        ]
        out.append(_t("Педагогический стаж:"))
        out.append(_table(("Стаж", "Человек", "Доля"), rows))
        out.append(
            _t(
                f"Курсы повышения квалификации (по данным профилей): {ru.people(s.members_with_courses)}, "
                f"всего {ru.count_text(s.course_hours_total, 'час', 'часа', 'часов')}."
            )
        )
    return out


def _meetings(d: AnalysisData) -> list[Part]:
    out: list[Part] = [_h("3. Заседания: план и проведение")]
    counts = d.rows_by_status
    if d.plan_rows:
        out.append(
            _t(
                f"По плану — {len(d.plan_rows)}; проведено — {counts[PlanRowStatus.held]}, "
                f"перенесено — {counts[PlanRowStatus.moved]}, отменено — {counts[PlanRowStatus.cancelled]}, "
                f"ожидает проведения — {counts[PlanRowStatus.planned]}."
            )
        )
        rows = [
            (
                str(r.position),
                r.topic,
                r.form or "—",
                ru.date_requisite(r.planned_date) if r.planned_date else (r.dates_text or "—"),
                STATUS_RU[r.status],
            )
            for r in d.plan_rows
        ]
        out.append(_table(("№", "Тема", "Форма", "Срок", "Выполнение"), rows))
    out.append(
        _t(f"Проведено {ru.count_text(len(d.meetings), 'заседание', 'заседания', 'заседаний')} на платформе.")
    )
    if not d.meetings:
        return out
    held = [
        (
            str(n),
            ru.date_requisite(m.day),
            m.title,
            _form(m.form.value),
            f"{m.present} из {m.members} ({m.percent} %)",
            f"{number_text(m.speaking_minutes)} мин",
        )
        for n, m in enumerate(d.meetings, 1)
    ]
    out.append(_table(("№", "Дата", "Тема", "Форма", "Присутствовали", "Выступления"), held))
    out.append(_t(f"Средняя посещаемость заседаний — {d.average_attendance} %."))
    labels = tuple(f"{m.day.day:02d}.{m.day.month:02d}" for m in d.meetings)
    out.append(
        Chart("Посещаемость заседаний, % членов СМО", labels, tuple(m.percent for m in d.meetings), " %")
    )
    out.append(
        Chart("Время выступлений на заседаниях, мин", labels, tuple(m.speaking_minutes for m in d.meetings))
    )
    return out


def _topics(d: AnalysisData) -> list[Part]:
    out: list[Part] = [_h("4. Рассмотренные вопросы")]
    covered = [(m, t) for m in d.meetings for t in m.topics]
    if covered:
        out += [_t(f"{n}. {t} ({ru.date_requisite(m.day)}).") for n, (m, t) in enumerate(covered, 1)]
    else:
        out.append(_t("Вопросы повестки дня не зафиксированы."))
    missed = [r for r in d.plan_rows if r.status != PlanRowStatus.held]
    if missed:
        out.append(_t("Не рассмотрены темы плана:"))
        out += [_t(f"— {r.topic} ({STATUS_RU[r.status]}).") for r in missed]
    return out


def _decisions(d: AnalysisData) -> list[Part]:
    out: list[Part] = [_h("5. Принятые решения")]
    if not d.decisions:
        return [*out, _t("Решений, принятых голосованием, нет.")]
    return out + [
        _t(f"{n}. {ru.date_requisite(x.day)}, {ru.quoted(x.meeting_title)}: {ru.sentence(x.text)}")
        for n, x in enumerate(d.decisions, 1)
    ]


def _resources(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Ресурсная база")]
    r = d.resources
    if r is None or not r.published:
        return [*out, _t("Новых материалов в ресурсную базу не опубликовано.")]
    kinds = ", ".join(
        f"{KIND_NAMES_RU.get(ResourceKind(k), k)} — {n}"
        for k, n in sorted(r.by_type.items(), key=lambda kv: -kv[1])
    )
    return [
        *out,
        _t(f"Опубликовано {ru.count_text(r.published, 'материал', 'материала', 'материалов')}: {kinds}."),
    ]


def _consultations(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Сетевые консультации")]
    c = d.consultations
    if c is None or not c.questions:
        return [*out, _t("Вопросов в сетевых консультациях за учебный год не поступало.")]
    asked = ru.count_text(c.questions, "вопрос", "вопроса", "вопросов")
    return [
        *out,
        _t(
            f"Педагоги задали {asked}; ответ эксперта получили {c.answered} ({_pct(c.answered, c.questions)}), "
            f"решение отмечено по {c.solved}."
        ),
    ]


def _competitions(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Конкурсы")]
    if not d.competitions:
        return [*out, _t("Конкурсы в учебном году не проводились.")]
    for n, comp in enumerate(d.competitions, 1):
        entries = ru.count_text(comp.entries, "работа", "работы", "работ")
        line = f"{n}. {ru.quoted(comp.title)}: {entries}."
        if comp.published and comp.winners:
            line += (
                " Победители и призёры: "
                + "; ".join(f"{name} — {place} место" for name, place in comp.winners)
                + "."
            )
        elif not comp.published:
            line += " Итоги не подведены."
        out.append(_t(line))
    return out


def _needs(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Профессиональные потребности педагогов")]
    n = d.needs
    if n is None or not n.respondents:
        return [*out, _t("Диагностика профессиональных потребностей в этом учебном году не проводилась.")]
    out.append(_t(f"В диагностике участвовали {ru.people(n.respondents)}."))
    before = {
        line.label.casefold(): line.percent for line in (d.needs_before.lines if d.needs_before else [])
    }
    has_before = bool(d.needs_before and d.needs_before.respondents)
    head: tuple[str, ...] = ("Потребность", "Ответов", "Доля")
    if has_before:
        head = (*head, "В прошлом году")
    rows = []
    for line in n.lines:
        row: tuple[str, ...] = (line.label, str(line.count), f"{number_text(line.percent)} %")
        if has_before:
            prev = before.get(line.label.casefold())
            row = (*row, f"{number_text(prev)} %" if prev is not None else "—")
        rows.append(row)
    out.append(_table(head, rows))
    top = n.lines[:8]
    if top:
        out.append(
            Chart(
                "Профессиональные потребности, % опрошенных",
                tuple(x.label[:40] for x in top),
                tuple(x.percent for x in top),
                " %",
                horizontal=True,
            )
        )
    return out


def _feedback(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Отзывы участников после заседаний")]
    if not d.feedback:
        return [*out, _t("Отзывы после заседаний не собирались.")]
    rows = [
        (
            ru.date_requisite(f.date),
            f.title,
            str(f.responses),
            number_text(f.average) if f.average is not None else "—",
        )
        for f in d.feedback
    ]
    return [*out, _table(("Дата", "Заседание", "Отзывов", "Средняя оценка полезности (1–5)"), rows)]


def _active(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Наиболее активные участники")]
    if not d.top:
        return [*out, _t("Активность участников за учебный год не зафиксирована.")]
    weights = " + ".join(f"{number_text(w)} × «{translate(k, 'ru')}»" for k, w in d.weights)
    out.append(_t(f"Рейтинг активности (п. 6.1 Положения): балл = {weights}."))
    out += [_t(f"{r.rank}. {r.full_name} — {number_text(r.score)}") for r in d.top]
    return out


def _conclusions(d: AnalysisData, number: int) -> list[Part]:
    out: list[Part] = [_h(f"{number}. Выводы")]
    text = d.record.conclusions if d.record else ""
    lines = [line for line in text.splitlines() if line.strip()]
    out += [_t(line) for line in lines] if lines else [_t("Выводы не сформулированы.")]
    out.append(_h(f"{number + 1}. Задачи на следующий учебный год"))
    tasks = d.tasks
    out += (
        [_t(f"{n}. {ru.sentence(t)}") for n, t in enumerate(tasks, 1)]
        if tasks
        else [_t("Задачи не сформулированы.")]
    )
    return out


def analysis_parts(d: AnalysisData) -> list[Part]:
    a = d.association
    out: list[Part] = [_t(line) for line in (a.founder_name, a.name) if line]
    out += [Block("gap"), _h("АНАЛИЗ РАБОТЫ"), _h(f"сетевого методического объединения {ru.quoted(a.name)}")]
    out += [_h(f"за {d.label} учебный год"), Block("gap")]
    out += _goals(d) + _members(d) + _meetings(d) + _topics(d) + _decisions(d)
    out += _consultations(d, 6) + _resources(d, 7) + _competitions(d, 8) + _needs(d, 9) + _feedback(d, 10)
    out += _active(d, 11) + _conclusions(d, 12)
    out += [Block("gap"), Block("signature", "Сетевой методист", right=d.methodist)]
    return out


def document_blocks(d: AnalysisData) -> list[Block]:
    """For DOCX and PDF: every chart as a PNG image block with its caption."""
    return [
        Block("image", p.caption, image=p.draw("png")) if isinstance(p, Chart) else p
        for p in analysis_parts(d)
    ]


def page_html(d: AnalysisData) -> Markup:
    """For the page: runs of blocks through the protocol's (escaping) HTML renderer, charts
    inline as SVG (matplotlib escapes the labels)."""
    pieces: list[str] = []
    run: list[Block] = []

    def flush() -> None:
        if run:
            pieces.append(render_html(list(run), document=False))
            run.clear()

    for p in analysis_parts(d):
        if isinstance(p, Chart):
            flush()
            svg = p.draw("svg").decode("utf-8")
            svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype
            pieces.append(f'<figure class="chart">{svg}</figure>')
        else:
            run.append(p)
    flush()
    return Markup("\n".join(pieces))


def title_of(d: AnalysisData) -> str:
    return analysis_title(d.year)
