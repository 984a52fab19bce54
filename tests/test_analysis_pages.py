"""The annual analysis over HTTP: figures computed from a seeded year (plan, meeting logs, an
approved protocol's edited decision), the methodist's conclusions and tasks with validation,
tasks seeding next year's plan once, DOCX (text and charts) and PDF read back, publishing into
the documents section, and the role matrix."""

from __future__ import annotations

import io
import re
from datetime import date

import docx
from pypdf import PdfReader
from sqlalchemy import func, select

from server.db.models import User
from server.db.models.analysis import AnnualAnalysis
from server.db.models.competitions import Competition
from server.db.models.consultations import Answer, Question
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowSource, PlanRowStatus, WorkPlan
from server.db.models.profiles import MemberProfile, ProfileCourse, QualificationCategory
from server.db.models.resources import Resource, ResourceKind, ResourceStatus
from server.domain.protocol.workflow import approve_protocol, assemble_draft, edit_protocol
from server.domain.year.plans import add_plan_row, get_or_create_plan
from tests.support.client import WebClient
from tests.support.factories import logged_in_client
from tests.support.live import LiveServer
from tests.test_stats_pages import YEAR, Year, at, seed_year

EDITED_DECISION = "Утвердить план работы СМО с дополнениями, внесёнными на заседании"
TASKS = "1. Организовать наставничество для молодых педагогов\n- Пополнить ресурсную базу\n\nПровести конкурс открытых уроков\n"


async def seed_analysis(server: LiveServer) -> Year:
    y = await seed_year(server)
    db = server.runtime.db
    m1, m2 = y.meetings[0], y.meetings[1]
    async with db.transaction() as s:
        plan = await get_or_create_plan(s, y.association_id, YEAR)
        plan.theme = "Развитие функциональной грамотности обучающихся"
        plan.goal = "Повышение профессиональной компетентности педагогов"
        plan.tasks = "Освоить формирующее оценивание\nОбобщить опыт"
        rows = [
            await add_plan_row(s, y.association_id, YEAR, topic="Функциональная грамотность", form="семинар"),
            await add_plan_row(
                s, y.association_id, YEAR, topic="Формирующее оценивание", planned_date=date(2026, 3, 10)
            ),
            await add_plan_row(s, y.association_id, YEAR, topic="Наставничество", dates_text="апрель"),
            await add_plan_row(s, y.association_id, YEAR, topic="Проектная деятельность", dates_text="май"),
        ]
        rows[0].status, rows[0].meeting_id = PlanRowStatus.held, m1
        rows[1].status, rows[1].meeting_id = PlanRowStatus.held, m2
        rows[2].status = PlanRowStatus.cancelled
    # What the other features hold: resources, consultations, a competition, profiles.
    admin, mo_head = y.ids["admin"], y.ids["mo_head"]
    async with db.transaction() as s:
        for n, when in enumerate((at(11, 1, 9), at(2, 1, 9, year=2026), at(5, 1, 9))):  # the last: 2024/2025
            s.add(
                Resource(
                    association_id=y.association_id,
                    author_id=mo_head,
                    title=f"Презентация {n}",
                    kind=ResourceKind.presentation,
                    link="https://example.org/p",
                    status=ResourceStatus.published,
                    published_at=when,
                )
            )
        s.add(
            Resource(
                association_id=y.association_id,
                author_id=mo_head,
                title="Черновик",
                link="https://example.org/d",
            )
        )
        q1 = Question(
            association_id=y.association_id,
            author_id=y.ids["teacher"],
            title="Как оценивать проекты?",
            created_at=at(12, 1, 9),
        )
        q2 = Question(
            association_id=y.association_id,
            author_id=y.ids["member"],
            title="Где взять КИМ?",
            created_at=at(12, 2, 9),
        )
        s.add_all([q1, q2])
        await s.flush()
        s.add(
            Answer(question_id=q1.id, author_id=admin, body="По критериям", is_expert=True, is_solution=True)
        )
        s.add(
            Competition(
                association_id=y.association_id,
                title="Учитель года СМО",
                entries_from=at(1, 10, 0, year=2026),
                entries_until=at(2, 10, 0, year=2026),
                judging_until=at(2, 20, 0, year=2026),
            )
        )
        s.add(
            MemberProfile(
                user_id=y.ids["methodist"], experience_years=25, category=QualificationCategory.highest
            )
        )
        s.add(
            MemberProfile(user_id=y.ids["member"], experience_years=7, category=QualificationCategory.first)
        )
        s.add(ProfileCourse(user_id=y.ids["member"], title="Формирующее оценивание", hours=72, year=2025))
    async with db.transaction() as s:
        methodist = await s.get(User, y.ids["methodist"])
        protocol = await assemble_draft(s, m1)
        assert protocol is not None
        await edit_protocol(s, methodist, protocol.id, {"decision.9001.text": EDITED_DECISION})
        await approve_protocol(s, methodist, protocol.id)
    return y


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#34;", '"')


FIGURES = (
    "АНАЛИЗ РАБОТЫ",
    "за 2025/2026 учебный год",
    "Методическая тема: Развитие функциональной грамотности обучающихся.",
    "Выполнение плана: проведено 2 из 4 запланированных мероприятий (50 %).",
    "По плану — 4; проведено — 2, перенесено — 0, отменено — 1, ожидает проведения — 1.",
    "В объединении 4 человека (сетевой методист — 1, руководитель школьного МО — 1, педагог — 2).",
    "Представлено 3 образовательные организации: Школа № 1; Школа № 2; Школа № 3.",
    "Проведено 2 заседания на платформе.",
    "2 из 4 (50 %)",
    "3 из 4 (75 %)",
    "Средняя посещаемость заседаний — 63 %.",
    "Наставничество (отменено).",
    "Проектная деятельность (запланировано).",
    f"15.10.2025, «Функциональная грамотность»: {EDITED_DECISION}.",
    "Квалификационные категории: без категории — 2, первая категория — 1, высшая категория — 1.",
    "Курсы повышения квалификации (по данным профилей): 1 человек, всего 72 часа.",
    "Педагоги задали 2 вопроса; ответ эксперта получили 1 (50 %), решение отмечено по 1.",
    "Опубликовано 2 материала: презентация — 2.",
    "1. «Учитель года СМО»: 0 работ. Итоги не подведены.",
    "Диагностика профессиональных потребностей в этом учебном году не проводилась.",
    "Отзывы после заседаний не собирались.",
    "1. Кузнецова Елена Петровна — 17",
    "2. Петрова Анна Петровна — 14,5",
    "4. Сидоров Олег Петровна — 6,5",  # 0,5 for the chat + 3 × 2 resources published this year
)


async def test_analysis_figures_texts_transfer_and_documents(server: LiveServer) -> None:
    y = await seed_analysis(server)
    db = server.runtime.db
    base = f"/associations/{y.association_id}/analysis"
    c = await logged_in_client(server, y.emails["methodist"])
    try:
        r = await c.get(f"{base}?year={YEAR}")
        assert r.status_code == 200, r.text[:1000]
        doc = re.search(
            r'<section class="card analysis-doc" id="analysis-document">(.*)</section>', r.text, re.S
        )
        assert doc
        text = _text(doc.group(1))
        for figure in FIGURES:
            assert figure in text, figure
        assert "11 мин" in text and "12 мин" in text  # speaking per meeting: 6 + 5, then 12
        assert doc.group(1).count("<svg") == 2  # attendance and speaking time charts
        assert "Посещаемость заседаний, % членов СМО" in doc.group(1)
        assert "Выводы не сформулированы." in text
        assert re.search(r"<td>свыше 20 лет</td><td>1</td><td>25 %</td>", doc.group(1))
        # The resource metric registered by the resource base shows up in the statistics too.
        stats = await c.get(f"/associations/{y.association_id}/stats?year={YEAR}")
        row = re.search(rf'<tr data-user="{y.ids["mo_head"]}">(.*?)</tr>', stats.text, re.S)
        assert row and '<td class="num" data-metric="resources_published">2</td>' in row.group(1)
        assert '<td class="num" data-score>6,5</td>' in row.group(1)

        # Conclusions and tasks: validation first — nothing is saved.
        r = await c.submit(f"{base}/save", {"year": str(YEAR), "conclusions": "в" * 20_001, "next_tasks": ""})
        assert r.status_code == 422
        assert "не более 20 000 знаков" in r.text and 'id="err-conclusions"' in r.text
        many = "\n".join(f"Задача {n}" for n in range(31))
        r = await c.submit(f"{base}/save", {"year": str(YEAR), "conclusions": "Итоги", "next_tasks": many})
        assert r.status_code == 422 and "не более 30" in r.text and "Задача 30" in r.text
        r = await c.submit(f"{base}/save", {"year": "1999", "conclusions": "", "next_tasks": ""})
        assert r.status_code == 422
        async with db.read() as s:
            assert await s.scalar(select(func.count(AnnualAnalysis.id))) == 0

        conclusions = "План выполнен на 50 %.\nАктивность педагогов <b>выросла</b>."
        r = await c.submit(
            f"{base}/save", {"year": str(YEAR), "conclusions": conclusions, "next_tasks": TASKS}
        )
        assert r.status_code == 303 and r.headers["location"] == f"{base}?year={YEAR}"
        page = (await c.get(r.headers["location"])).text
        assert "Выводы и задачи сохранены." in page
        assert "Активность педагогов &lt;b&gt;выросла&lt;/b&gt;." in page and "<b>выросла</b>" not in page
        assert "1. Организовать наставничество для молодых педагогов." in _text(page)
        assert "3. Провести конкурс открытых уроков." in _text(page)

        # Tasks -> next year's plan, twice: three rows, once.
        for expected in (
            "добавлено строк: 3; уже были в плане: 0",
            "добавлено строк: 0; уже были в плане: 3",
        ):
            r = await c.submit(f"{base}/transfer", {"year": str(YEAR)})
            assert r.status_code == 303
            assert expected in (await c.get(r.headers["location"])).text
        async with db.read() as s:
            plan = await s.scalar(
                select(WorkPlan).where(
                    WorkPlan.association_id == y.association_id, WorkPlan.school_year == YEAR + 1
                )
            )
            assert plan is not None
            rows = list(
                await s.scalars(select(PlanRow).where(PlanRow.plan_id == plan.id).order_by(PlanRow.position))
            )
            assert [(r.position, r.topic, r.source) for r in rows] == [
                (1, "Организовать наставничество для молодых педагогов", PlanRowSource.analysis),
                (2, "Пополнить ресурсную базу", PlanRowSource.analysis),
                (3, "Провести конкурс открытых уроков", PlanRowSource.analysis),
            ]
            assert plan.tasks.splitlines() == [r.topic for r in rows]

        # DOCX: the text and two inline chart images.
        r = await c.get(f"{base}.docx?year={YEAR}")
        assert r.status_code == 200
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        document = docx.Document(io.BytesIO(r.content))
        body = "\n".join(p.text for p in document.paragraphs)
        body += "\n" + "\n".join(cell.text for t in document.tables for row in t.rows for cell in row.cells)
        for figure in (*FIGURES, "План выполнен на 50 %.", "2. Пополнить ресурсную базу."):
            assert figure in body, figure
        assert len(document.inline_shapes) == 2

        r = await c.get(f"{base}.pdf?year={YEAR}")
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        pdf = re.sub(
            r"\s+",
            " ",
            " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(r.content)).pages),
        )
        for figure in (
            "АНАЛИЗ РАБОТЫ",
            "Средняя посещаемость заседаний — 63 %",
            "Кузнецова Елена Петровна — 17",
        ):
            assert figure in pdf, figure

        # Publishing adds a version (DOCX + PDF) to the documents section.
        for version in (1, 2):
            r = await c.submit(f"{base}/publish", {"year": str(YEAR)})
            assert r.status_code == 303
            assert f"(версия {version})" in (await c.get(r.headers["location"])).text
        async with db.read() as s:
            versions = list(
                await s.scalars(
                    select(LibraryVersion)
                    .join(LibraryDocument)
                    .where(
                        LibraryDocument.association_id == y.association_id,
                        LibraryDocument.kind == LibraryKind.analysis,
                        LibraryDocument.school_year == YEAR,
                    )
                    .order_by(LibraryVersion.version)
                )
            )
            assert [v.version for v in versions] == [1, 2]
            assert all(v.file_id and v.pdf_file_id for v in versions)
    finally:
        await c.aclose()


async def test_analysis_role_matrix(server: LiveServer) -> None:
    y = await seed_analysis(server)
    db = server.runtime.db
    base = f"/associations/{y.association_id}/analysis"
    guest = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    try:
        for url in (f"{base}?year={YEAR}", f"{base}.docx?year={YEAR}"):
            r = await guest.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
    finally:
        await guest.aclose()
    form = {"year": str(YEAR), "conclusions": "Чужие выводы", "next_tasks": "Чужая задача"}
    for who in ("member", "mo_head", "outsider"):
        c = await logged_in_client(server, y.emails[who])
        try:
            r = await c.get(f"{base}?year={YEAR}")
            if who == "outsider":
                assert r.status_code == 403
            else:
                assert r.status_code == 200
                assert "Анализ работы готовит сетевой методист" in r.text
                assert 'id="analysis-document"' not in r.text and "Кузнецова" not in r.text
            for url in (f"{base}.docx?year={YEAR}", f"{base}.pdf?year={YEAR}"):
                assert (await c.get(url)).status_code == 403, (who, url)
            for action in ("save", "transfer", "publish"):
                assert (await c.submit(f"{base}/{action}", form)).status_code == 403, (who, action)
        finally:
            await c.aclose()
    c = await logged_in_client(server, y.emails["methodist"])
    try:
        r = await c.post(f"{base}/save", data=form)  # no CSRF token
        assert r.status_code == 403
        assert (await c.get(f"/associations/{y.other_association_id}/analysis")).status_code == 403
    finally:
        await c.aclose()
    async with db.read() as s:
        assert await s.scalar(select(func.count(AnnualAnalysis.id))) == 0
        assert await s.scalar(select(func.count(LibraryVersion.id))) == 0
        assert await s.scalar(select(func.count(WorkPlan.id)).where(WorkPlan.school_year == YEAR + 1)) == 0
    admin = await logged_in_client(server, y.emails["admin"])
    try:
        r = await admin.get(f"{base}?year={YEAR}")
        assert r.status_code == 200 and 'id="analysis-document"' in r.text
        assert (await admin.submit(f"{base}/save", form)).status_code == 303
        assert (await admin.get("/associations/999999/analysis")).status_code == 404
        assert (await admin.get("/associations/999999/analysis.docx")).status_code == 404
        assert (await admin.submit("/associations/999999/analysis/save", form)).status_code == 404
    finally:
        await admin.aclose()
    async with db.read() as s:
        record = await s.scalar(select(AnnualAnalysis))
        assert (
            record is not None
            and record.updated_by_id == y.ids["admin"]
            and record.conclusions == "Чужие выводы"
        )
