"""The needs report (PROTOCOL.md §4) as DOCX and PDF read back, published into the documents
section, and the top needs turned into plan rows once."""

from __future__ import annotations

import io

import docx
import pypdf
from sqlalchemy import select

from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.plans import PlanRow, PlanRowSource, WorkPlan
from server.domain.year.plans import current_school_year
from tests.support.live import LiveServer
from tests.test_questionnaires_support import World, make_world, publish, question_ids

TOPICS = (
    "Обновлённые ФГОС и федеральные рабочие программы",
    "Формирование функциональной грамотности",
    "Подготовка обучающихся к ГИА (ОГЭ, ЕГЭ)",
)


async def _answered_needs(w: World) -> int:
    m = await w.as_("methodist")
    r = await m.submit(f"/associations/{w.association_id}/questionnaires/needs-template")
    qid = int(r.headers["location"].split("/")[2])
    await publish(m, qid)
    ids = await question_ids(w.server, qid)
    base = {f"q{ids[4]}": "2", f"q{ids[5]}": "4", f"q{ids[6]}": "3"}
    answers = {
        "member": {f"q{ids[0]}": "0", f"q{ids[1]}[]": ["0", "1", "2"], f"q{ids[7]}": "Опыт проектов", **base},
        "mo_head": {f"q{ids[0]}": "3", f"q{ids[1]}[]": ["1", "2"], **base},
        "teacher1": {f"q{ids[0]}": "3", f"q{ids[1]}[]": ["1"], f"q{ids[8]}": "Больше практики", **base},
    }
    for role, data in answers.items():
        r = await (await w.as_(role)).submit(f"/questionnaires/{qid}/answer", data)
        assert r.status_code == 303, (role, r.text[:300])
    return qid


async def test_needs_report_docx_pdf_and_publish(server: LiveServer) -> None:
    w = await make_world(server, teachers=1)
    try:
        qid = await _answered_needs(w)
        m = await w.as_("methodist")
        r = await m.get(f"/questionnaires/{qid}/report.docx")
        assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
        d = docx.Document(io.BytesIO(r.content))
        text = "\n".join(p.text for p in d.paragraphs)
        assert "Сведения о профессиональных потребностях педагогов" in text
        assert "Количество респондентов: 3 из 4 членов СМО (охват 75 %)" in text
        assert "Средняя оценка: 3,00 (ответили: 3 человека)." in text
        assert "— Опыт проектов" in text and "— Больше практики" in text
        assert "Предлагаемые темы для плана работы СМО" in text
        assert f"1. {TOPICS[1]} (3, 100 %)" in text
        assert f"2. {TOPICS[2]} (2, 66,7 %)" in text
        assert f"3. {TOPICS[0]} (1, 33,3 %)" in text
        assert len(d.inline_shapes) == 1  # the topics chart
        tables = [[[c.text for c in row.cells] for row in t.rows] for t in d.tables]
        topics_table = next(
            t for t in tables if t[0] == ["Вариант ответа", "Количество", "%"] and t[1][0] == TOPICS[1]
        )
        assert topics_table[1:4] == [
            [TOPICS[1], "3", "100 %"],
            [TOPICS[2], "2", "66,7 %"],
            [TOPICS[0], "1", "33,3 %"],
        ]
        cross = next(t for t in tables if t[0][0] == "Тема")
        assert cross[0] == ["Тема", "до 3 лет", "3–10 лет", "11–20 лет", "более 20 лет"]
        assert cross[1] == [TOPICS[1], "1", "0", "0", "2"]

        r = await m.get(f"/questionnaires/{qid}/report.pdf")
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        pdf_text = " ".join((p.extract_text() or "") for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
        flat = " ".join(pdf_text.split())
        assert "Сведения о профессиональных потребностях педагогов" in flat
        assert "Количество респондентов: 3 из 4" in flat

        r = await m.submit(f"/questionnaires/{qid}/report/publish")
        assert r.status_code == 303
        r = await m.submit(f"/questionnaires/{qid}/report/publish")
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            doc = await s.scalar(
                select(LibraryDocument).where(LibraryDocument.kind == LibraryKind.needs_report)
            )
            assert doc is not None and doc.association_id == w.association_id
            assert doc.school_year == current_school_year()
            versions = (
                await s.scalars(select(LibraryVersion).where(LibraryVersion.document_id == doc.id))
            ).all()
        assert sorted(v.version for v in versions) == [1, 2]
        assert all(v.file_id and v.pdf_file_id for v in versions)

        # only managers
        for role in ("member", "mo_head", "outsider"):
            c = await w.as_(role)
            assert (await c.get(f"/questionnaires/{qid}/report.docx")).status_code == 403
            assert (await c.get(f"/questionnaires/{qid}/report.pdf")).status_code == 403
            assert (await c.submit(f"/questionnaires/{qid}/report/publish")).status_code == 403
        assert (await (await w.as_("admin")).get(f"/questionnaires/{qid}/report.docx")).status_code == 200
    finally:
        await w.close()


async def test_top_needs_become_plan_rows_once(server: LiveServer) -> None:
    w = await make_world(server, teachers=1)
    try:
        qid = await _answered_needs(w)
        m = await w.as_("methodist")
        page = (await m.get(f"/questionnaires/{qid}/results")).text
        # the three most frequent topics are pre-ticked, the others not
        for label in TOPICS:
            assert f'value="{label}" checked' in page
        assert 'value="Работа с одарёнными детьми">' in page
        year = current_school_year()

        # members cannot; a topic that is not in the results is refused; nothing is added
        r = await (await w.as_("member")).submit(
            f"/questionnaires/{qid}/plan", {"labels[]": list(TOPICS), "school_year": str(year)}
        )
        assert r.status_code == 403
        r = await m.submit(
            f"/questionnaires/{qid}/plan", {"labels[]": ["Выдуманная тема"], "school_year": str(year)}
        )
        assert r.status_code == 303
        r = await m.submit(
            f"/questionnaires/{qid}/plan", {"labels[]": [TOPICS[0]], "school_year": str(year + 5)}
        )
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            assert (await s.scalars(select(PlanRow))).all() == []

        r = await m.submit(
            f"/questionnaires/{qid}/plan", {"labels[]": list(TOPICS), "school_year": str(year + 1)}
        )
        assert r.status_code == 303
        r = await m.submit(
            f"/questionnaires/{qid}/plan", {"labels[]": list(TOPICS), "school_year": str(year + 1)}
        )
        assert r.status_code == 303
        follow = await m.get(r.headers["location"].split("#")[0])
        assert "В план работы добавлено тем: 0; уже были в плане: 3." in follow.text
        async with server.runtime.db.read() as s:
            plan = await s.scalar(select(WorkPlan).where(WorkPlan.association_id == w.association_id))
            assert plan is not None and plan.school_year == year + 1
            rows = (
                await s.scalars(select(PlanRow).where(PlanRow.plan_id == plan.id).order_by(PlanRow.position))
            ).all()
        assert [(r.position, r.topic, r.source) for r in rows] == [
            (1, TOPICS[0], PlanRowSource.needs),
            (2, TOPICS[1], PlanRowSource.needs),
            (3, TOPICS[2], PlanRowSource.needs),
        ]
        assert "выбрали 3 из 3 (100 %)" in rows[1].note
    finally:
        await w.close()
