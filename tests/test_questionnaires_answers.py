"""Answering over HTTP: one response per person (also under a concurrent double submit),
validation, exact results (counts, percentages, means), CSV, anonymity by schema and by what
pages and exports show, named questionnaires, and ``needs_summary``."""

from __future__ import annotations

import asyncio
import csv
import io

from sqlalchemy import func, inspect, select

from server.db.models.questionnaires import (
    QuestionnaireAnswer,
    QuestionnaireAuthor,
    QuestionnaireParticipant,
    QuestionnaireResponse,
)
from server.domain.year.anonymous import sealed_answers
from server.domain.year.needs import NeedLine, needs_summary
from server.domain.year.plans import current_school_year
from server.domain.year.questionnaires import response_count
from tests.support.live import LiveServer
from tests.test_questionnaires_support import (
    NAMES,
    World,
    add_question,
    create_draft,
    make_world,
    publish,
    question_ids,
)


async def _survey(w: World, anonymous: bool) -> tuple[int, list[int]]:
    m = await w.as_("methodist")
    qid = await create_draft(m, w.association_id, title="Итоги полугодия", anonymous="1" if anonymous else "")
    for args, kw in (
        (("single", "Форма", ("Семинар", "Круглый стол", "Мастер-класс")), {"required": True}),
        (("multiple", "Темы", ("ФГОС", "ГИА", "ИКТ")), {"allow_other": True}),
        (("scale", "Полезность"), {"required": True}),
        (("text", "Комментарий"), {}),
    ):
        assert (await add_question(m, qid, *args, **kw)).status_code == 303
    await publish(m, qid)
    return qid, await question_ids(w.server, qid)


def _answer(
    ids: list[int], single: str, multiple: list[str], scale: str, text: str = "", other: str = ""
) -> dict[str, object]:
    return {
        f"q{ids[0]}": single,
        f"q{ids[1]}[]": multiple,
        f"q{ids[1]}_other": other,
        f"q{ids[2]}": scale,
        f"q{ids[3]}": text,
    }


async def _counts(server: LiveServer, qid: int) -> tuple[int, int]:
    """(responses, participants); an anonymous questionnaire's responses stay sealed until the
    close (server/domain/year/anonymous.py), so both kinds are counted."""
    async with server.runtime.db.read() as s:
        responses = await response_count(s, qid)
        people = await s.scalar(
            select(func.count())
            .select_from(QuestionnaireParticipant)
            .where(QuestionnaireParticipant.questionnaire_id == qid)
        )
    return int(responses or 0), int(people or 0)


async def test_answers_results_csv_and_anonymity(server: LiveServer) -> None:
    w = await make_world(server, teachers=2)
    try:
        qid, ids = await _survey(w, anonymous=True)
        answers = {
            "member": _answer(ids, "0", ["0", "1"], "5", "Очень полезно <b>спасибо</b>"),
            "mo_head": _answer(ids, "0", ["1", "other"], "4", other="Театральная педагогика"),
            "teacher1": _answer(ids, "2", ["1"], "3"),
            "teacher2": _answer(ids, "1", ["0"], "4"),
        }
        # validation first: nothing is stored for a bad answer
        c = await w.as_("member")
        bad = dict(answers["member"], **{f"q{ids[2]}": ""})
        r = await c.submit(f"/questionnaires/{qid}/answer", bad)
        assert r.status_code == 422 and "Это обязательный вопрос." in r.text
        r = await c.submit(f"/questionnaires/{qid}/answer", dict(answers["member"], **{f"q{ids[2]}": "7"}))
        assert r.status_code == 422 and "Выберите оценку от 1 до 5." in r.text
        r = await c.submit(f"/questionnaires/{qid}/answer", dict(answers["member"], **{f"q{ids[0]}": "9"}))
        assert r.status_code == 422 and "Выберите значение из списка." in r.text
        r = await c.submit(f"/questionnaires/{qid}/answer", _answer(ids, "0", ["other"], "3"))
        assert r.status_code == 422 and "Напишите свой вариант ответа." in r.text
        assert await _counts(server, qid) == (0, 0)

        for role, data in answers.items():
            r = await (await w.as_(role)).submit(f"/questionnaires/{qid}/answer", data)
            assert r.status_code == 303, (role, r.status_code, r.text[:300])
        assert await _counts(server, qid) == (4, 4)

        # a second submit: a clear message, nothing changes
        r = await c.submit(f"/questionnaires/{qid}/answer", answers["member"])
        assert r.status_code == 409 and "Вы уже ответили на эту анкету" in r.text
        assert await _counts(server, qid) == (4, 4)
        page = await c.get(f"/questionnaires/{qid}")
        assert "Спасибо! Ваш ответ принят." in page.text

        # results: exact counts, percentages (of those who answered the question) and the mean
        m = await w.as_("methodist")
        res = await m.get(f"/questionnaires/{qid}/results")
        assert res.status_code == 200
        html = res.text
        for label, n, pct in (
            ("Семинар", 2, "50.0"),
            ("Круглый стол", 1, "25.0"),
            ("Мастер-класс", 1, "25.0"),
            ("ФГОС", 2, "50.0"),
            ("ГИА", 3, "75.0"),
            ("ИКТ", 0, "0.0"),
            ("Другое", 1, "25.0"),
            ("3", 1, "25.0"),
            ("4", 2, "50.0"),
            ("5", 1, "25.0"),
            ("1", 0, "0.0"),
        ):
            row = f'<tr><td>{label}</td><td class="num">{n}</td><td class="num">{pct}</td></tr>'
            assert row in html, row
        assert "среднее: 4.0" in html
        assert "Ответили: 4 из 5 членов СМО (80.0 %)" in html
        assert "Театральная педагогика" in html
        assert "Очень полезно &lt;b&gt;спасибо&lt;/b&gt;" in html and "<b>спасибо</b>" not in html
        assert html.count("<svg") >= 3  # charts of the two choice questions and the scale
        for last, _first in NAMES.values():
            assert last not in html.split('class="whoami"')[1].split("</span>", 1)[1]

        # CSV: one row per response, no names
        r = await m.get(f"/questionnaires/{qid}/results.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == ["1. Форма", "2. Темы", "3. Полезность", "4. Комментарий"]
        assert sorted(rows[1:]) == sorted(
            [
                ["Семинар", "ФГОС; ГИА", "5", "Очень полезно <b>спасибо</b>"],
                ["Семинар", "ГИА; Другое: Театральная педагогика", "4", ""],
                ["Мастер-класс", "ГИА", "3", ""],
                ["Круглый стол", "ФГОС", "4", ""],
            ]
        )
        text = r.content.decode("utf-8-sig")
        for last, _first in NAMES.values():
            assert last not in text
        assert "Учителева" not in text

        # anonymity by schema: the responses and answers carry no person and no time, and
        # nothing links a participant to a response; authors exist only for named forms
        async with server.runtime.db.read() as s:
            conn = await s.connection()
            columns = await conn.run_sync(
                lambda sync: {
                    t: {c["name"] for c in inspect(sync).get_columns(t)}
                    for t in (
                        "questionnaire_responses",
                        "questionnaire_answers",
                        "questionnaire_participants",
                    )
                }
            )
            authors = await s.scalar(select(func.count()).select_from(QuestionnaireAuthor))
            response_ids = (await s.scalars(select(QuestionnaireResponse.id))).all()
        assert columns["questionnaire_responses"] == {"id", "questionnaire_id"}
        assert columns["questionnaire_answers"] == {
            "response_id",
            "question_id",
            "choices",
            "other",
            "value",
            "text",
        }
        assert columns["questionnaire_participants"] == {"questionnaire_id", "user_id"}
        assert authors == 0
        assert all(len(rid) == 32 and not rid.isdigit() for rid in response_ids)
    finally:
        await w.close()


async def test_concurrent_double_submit_stores_one_response(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        qid, ids = await _survey(w, anonymous=True)
        c = await w.as_("member")
        data = _answer(ids, "1", ["2"], "2", "Двойной клик")
        token = await c.csrf()
        results = await asyncio.gather(
            *(c.post(f"/questionnaires/{qid}/answer", data={**data, "csrf_token": token}) for _ in range(3))
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses == [303, 409, 409], statuses
        assert await _counts(server, qid) == (1, 1)
        async with server.runtime.db.read() as s:
            stored = await s.scalar(select(func.count()).select_from(QuestionnaireAnswer))
            assert (stored or 0) + len(await sealed_answers(s, [qid])) == 4
    finally:
        await w.close()


async def test_named_questionnaire_shows_who_answered_what(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        qid, ids = await _survey(w, anonymous=False)
        r = await (await w.as_("member")).submit(
            f"/questionnaires/{qid}/answer", _answer(ids, "2", ["0"], "5", "Хочу мастер-класс")
        )
        assert r.status_code == 303
        m = await w.as_("methodist")
        html = (await m.get(f"/questionnaires/{qid}/results")).text
        assert "Кто что ответил" in html
        assert (
            "<td>Петрова Анна Петровна</td><td>Мастер-класс</td><td>ФГОС</td><td>5</td><td>Хочу мастер-класс</td>"
            in html
        )
        rows = list(
            csv.reader(
                io.StringIO((await m.get(f"/questionnaires/{qid}/results.csv")).content.decode("utf-8-sig")),
                delimiter=";",
            )
        )
        assert rows[0][0] == "Участник"
        assert rows[1] == ["Петрова Анна Петровна", "Мастер-класс", "ФГОС", "5", "Хочу мастер-класс"]
    finally:
        await w.close()


async def test_needs_summary_over_the_years_diagnostics(server: LiveServer) -> None:
    w = await make_world(server, teachers=1)
    try:
        m = await w.as_("methodist")
        r = await m.submit(f"/associations/{w.association_id}/questionnaires/needs-template")
        qid = int(r.headers["location"].split("/")[2])
        await publish(m, qid)
        ids = await question_ids(server, qid)
        page = (await m.get(f"/questionnaires/{qid}")).text
        assert "Формирование функциональной грамотности" in page
        # questions of the template: 0 experience, 1 topics, 2 forms, 3 difficulties, 4-6 scales, 7-8 text
        base = {f"q{ids[4]}": "3", f"q{ids[5]}": "4", f"q{ids[6]}": "5"}
        plan = {
            "member": {f"q{ids[0]}": "0", f"q{ids[1]}[]": ["1", "2"], **base},
            "mo_head": {
                f"q{ids[0]}": "2",
                f"q{ids[1]}[]": ["1", "other"],
                f"q{ids[1]}_other": "Медиация в школе",
                **base,
            },
            "teacher1": {
                f"q{ids[0]}": "2",
                f"q{ids[1]}[]": ["1", "other"],
                f"q{ids[1]}_other": "  медиация   в школе ",
                **base,
            },
        }
        for role, data in plan.items():
            r = await (await w.as_(role)).submit(f"/questionnaires/{qid}/answer", data)
            assert r.status_code == 303, (role, r.text[:300])
        async with server.runtime.db.read() as s:
            summary = await needs_summary(s, w.association_id, current_school_year())
            empty = await needs_summary(s, w.association_id, current_school_year() - 1)
        assert summary.respondents == 3
        assert summary.lines[:3] == [
            NeedLine("Формирование функциональной грамотности", 3, 100.0),
            NeedLine("Медиация в школе", 2, 66.7),
            NeedLine("Подготовка обучающихся к ГИА (ОГЭ, ЕГЭ)", 1, 33.3),
        ]
        assert all(line.count == 0 for line in summary.lines[3:]) and len(summary.lines) == 10
        assert empty.respondents == 0 and empty.lines == []
    finally:
        await w.close()
