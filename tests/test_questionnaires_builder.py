"""The questionnaire builder over HTTP: every question kind, reordering, validation errors in
Russian (422, nothing changed), publishing with notifications, the needs template, and the
role matrix of every action."""

from __future__ import annotations

from sqlalchemy import func, select

from server.db.models.notifications import Notification, NotificationKind
from server.db.models.questionnaires import (
    Question,
    Questionnaire,
    QuestionnaireStatus,
    QuestionnaireTemplate,
    QuestionTag,
)
from tests.support.live import LiveServer
from tests.test_questionnaires_support import (
    ROLES,
    add_question,
    create_draft,
    make_world,
    publish,
    question_ids,
)


async def _questions(server: LiveServer, qid: int) -> list[Question]:
    async with server.runtime.db.read() as s:
        return list(
            (
                await s.scalars(
                    select(Question).where(Question.questionnaire_id == qid).order_by(Question.position)
                )
            ).all()
        )


async def test_build_every_kind_reorder_and_publish(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        m = await w.as_("methodist")
        qid = await create_draft(
            m,
            w.association_id,
            title="Анкета перед семинаром",
            description="Ответьте, пожалуйста",
            opens_at="2026-01-10T09:00",
            closes_at="2099-01-20T18:00",
        )
        assert (
            await add_question(m, qid, "single", "Ваш стаж", ("до 5 лет", "5 лет и более"), required=True)
        ).status_code == 303
        r = await add_question(m, qid, "multiple", "Темы", ("ФГОС", "ГИА", "ИКТ"), allow_other=True)
        assert r.status_code == 303
        assert (await add_question(m, qid, "scale", "Оцените готовность", required=True)).status_code == 303
        # allow_other and options are ignored for a free-text question
        assert (
            await add_question(m, qid, "text", "Предложения", ("лишнее", "ещё"), allow_other=True)
        ).status_code == 303

        rows = await _questions(server, qid)
        assert [(q.kind.value, q.position, q.required) for q in rows] == [
            ("single", 1, True),
            ("multiple", 2, False),
            ("scale", 3, True),
            ("text", 4, False),
        ]
        assert rows[1].options == ["ФГОС", "ГИА", "ИКТ"] and rows[1].allow_other
        assert rows[3].options == [] and not rows[3].allow_other
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.anonymous and q.status == QuestionnaireStatus.draft
            assert q.opens_at is not None and q.opens_at.hour == 6  # 09:00 Moscow = 06:00 UTC

        # reorder: the scale question goes up, then the first goes down
        r = await m.submit(f"/questionnaires/{qid}/questions/{rows[2].id}/move", {"direction": "-1"})
        assert r.status_code == 303
        r = await m.submit(f"/questionnaires/{qid}/questions/{rows[0].id}/move", {"direction": "1"})
        assert r.status_code == 303
        assert await question_ids(server, qid) == [rows[2].id, rows[0].id, rows[1].id, rows[3].id]

        # edit and delete
        r = await m.submit(
            f"/questionnaires/{qid}/questions/{rows[3].id}",
            {"kind": "text", "text": "Ваши предложения по работе СМО", "options": ""},
        )
        assert r.status_code == 303
        r = await m.submit(f"/questionnaires/{qid}/questions/{rows[0].id}/delete")
        assert r.status_code == 303
        after = await _questions(server, qid)
        assert [q.position for q in after] == [1, 2, 3]
        assert after[-1].text == "Ваши предложения по работе СМО"

        page = await m.get(f"/questionnaires/{qid}/edit")
        assert page.status_code == 200 and "Ваши предложения по работе СМО" in page.text

        await publish(m, qid)
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.status == QuestionnaireStatus.open and q.published_at is not None
            notes = (
                await s.scalars(select(Notification).where(Notification.dedupe_key == f"questionnaire:{qid}"))
            ).all()
        assert {n.user_id for n in notes} == {w.ids["member"], w.ids["mo_head"], w.ids["methodist"]}
        assert all(
            n.kind == NotificationKind.announcement and n.url == f"/questionnaires/{qid}" for n in notes
        )
        assert all("Анкета перед семинаром" in n.title for n in notes)

        # once published, the questions are frozen
        r = await add_question(m, qid, "text", "Поздний вопрос")
        assert r.status_code == 409
        assert len(await _questions(server, qid)) == 3
        member_page = await (await w.as_("member")).get(f"/associations/{w.association_id}/questionnaires")
        assert "Анкета перед семинаром" in member_page.text
    finally:
        await w.close()


async def test_validation_errors_are_russian_and_change_nothing(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        m = await w.as_("methodist")
        r = await m.submit(
            f"/associations/{w.association_id}/questionnaires", {"title": "  ", "anonymous": "1"}
        )
        assert r.status_code == 422 and "Заполните это поле." in r.text
        r = await m.submit(
            f"/associations/{w.association_id}/questionnaires",
            {"title": "Анкета", "opens_at": "2026-02-10T10:00", "closes_at": "2026-02-01T10:00"},
        )
        assert r.status_code == 422 and "Дата закрытия должна быть позже даты открытия." in r.text
        r = await m.submit(
            f"/associations/{w.association_id}/questionnaires", {"title": "Анкета", "closes_at": "вчера"}
        )
        assert r.status_code == 422 and "Укажите дату и время" in r.text
        r = await m.submit(f"/associations/{w.association_id}/questionnaires", {"title": "x" * 301})
        assert r.status_code == 422 and "Слишком длинный текст." in r.text
        async with server.runtime.db.read() as s:
            assert await s.scalar(select(func.count(Questionnaire.id))) == 0

        qid = await create_draft(m, w.association_id)
        r = await add_question(m, qid, "single", "Один вариант", ("только один",))
        assert r.status_code == 422 and "Укажите не меньше двух вариантов ответа" in r.text
        r = await add_question(m, qid, "multiple", "Повтор", ("А", "а"))
        assert r.status_code == 422 and "Варианты ответа не должны повторяться." in r.text
        r = await add_question(m, qid, "multiple", "", ("А", "Б"))
        assert r.status_code == 422 and "Заполните это поле." in r.text
        r = await add_question(m, qid, "matrix", "Неизвестный тип", ("А", "Б"))
        assert r.status_code == 422 and "Выберите значение из списка." in r.text
        r = await add_question(m, qid, "single", "Слишком много", tuple(f"вариант {i}" for i in range(31)))
        assert r.status_code == 422 and "Не больше 30 вариантов ответа." in r.text
        assert await question_ids(server, qid) == []

        # publishing an empty questionnaire is refused with a message, nothing changes
        r = await m.submit(f"/questionnaires/{qid}/publish")
        assert r.status_code == 409 and "Добавьте в анкету хотя бы один вопрос." in r.text
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.status == QuestionnaireStatus.draft
            assert await s.scalar(select(func.count(Notification.id))) == 0

        # a bad id is a 404, a foreign question id too
        assert (await m.get("/questionnaires/987654")).status_code == 404
        assert (await m.get("/questionnaires/987654/results")).status_code == 404
        r = await m.submit(f"/questionnaires/{qid}/questions/987654/delete")
        assert r.status_code == 404
    finally:
        await w.close()


async def test_needs_template_one_click(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        m = await w.as_("methodist")
        r = await m.submit(f"/associations/{w.association_id}/questionnaires/needs-template")
        assert r.status_code == 303
        qid = int(r.headers["location"].split("/")[2])
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.template == QuestionnaireTemplate.needs and q.anonymous
            assert q.title.startswith("Диагностика профессиональных потребностей педагогов")
        rows = await _questions(server, qid)
        kinds = {q.kind.value for q in rows}
        assert kinds == {"single", "multiple", "scale", "text"}
        topics = [q for q in rows if q.tag == QuestionTag.needs_topics]
        assert len(topics) == 1 and topics[0].kind.value == "multiple" and topics[0].allow_other
        assert any(q.tag == QuestionTag.experience for q in rows)
        page = await m.get(f"/questionnaires/{qid}/edit")
        assert "Формирование функциональной грамотности" in page.text
    finally:
        await w.close()


async def test_role_matrix(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        m = await w.as_("methodist")
        draft = await create_draft(m, w.association_id, title="Черновик")
        await add_question(m, draft, "text", "Вопрос")
        opened = await create_draft(m, w.association_id, title="Открытая", anonymous="")
        await add_question(m, opened, "scale", "Оценка", required=True)
        await publish(m, opened)
        aid = w.association_id

        def login(status: int, location: str | None) -> bool:
            return status == 303 and (location or "").startswith("/login")

        for role in ROLES:
            c = await w.as_(role)
            manager = role in ("methodist", "admin")
            reader = role in ("member", "mo_head", "methodist", "admin")

            def expect(
                r: object, ok: int | tuple[int, ...], deny: int, who: bool = manager, role: str = role
            ) -> None:
                status, loc = r.status_code, r.headers.get("location")  # type: ignore[attr-defined]
                if role == "guest":
                    assert login(status, loc), (role, status, loc)
                elif who:
                    assert status in ((ok,) if isinstance(ok, int) else ok), (role, status, loc)
                else:
                    assert status == deny, (role, status, loc)

            expect(await c.get(f"/associations/{aid}/questionnaires"), 200, 403, reader)
            expect(await c.submit(f"/associations/{aid}/questionnaires", {"title": f"от {role}"}), 303, 403)
            expect(await c.submit(f"/associations/{aid}/questionnaires", {"title": ""}), 422, 403)
            expect(await c.submit(f"/associations/{aid}/questionnaires/needs-template"), 303, 403)
            expect(await c.get(f"/questionnaires/{draft}/edit"), 200, 403)
            # a draft is invisible to members (404), forbidden to outsiders
            r = await c.get(f"/questionnaires/{draft}")
            if role in ("member", "mo_head"):
                assert r.status_code == 404
            else:
                expect(r, 200, 403)
            expect(await add_question(c, draft, "text", f"вопрос {role}"), 303, 403)
            expect(await c.submit(f"/questionnaires/{draft}/edit", {"title": f"Черновик {role}"}), 303, 403)
            expect(await c.get(f"/questionnaires/{opened}"), 200, 403, reader)
            expect(await c.get(f"/questionnaires/{opened}/results"), 200, 403)
            expect(await c.get(f"/questionnaires/{opened}/results.csv"), 200, 403)
            # answering: members of the association only (the admin is not one)
            r = await c.submit(
                f"/questionnaires/{opened}/answer", {f"q{(await question_ids(server, opened))[0]}": "4"}
            )
            expect(r, 303, 403, role in ("member", "mo_head", "methodist"))
        # the methodist's and the admin's actions took effect, no one else's
        async with server.runtime.db.read() as s:
            titles = set((await s.scalars(select(Questionnaire.title))).all())
            q = await s.get(Questionnaire, draft)
            assert q is not None
        assert "от methodist" in titles and "от admin" in titles
        assert not titles & {"от member", "от mo_head", "от outsider"}
        assert q.title == "Черновик admin"
        texts = {x.text for x in await _questions(server, draft)}
        assert texts == {"Вопрос", "вопрос methodist", "вопрос admin"}

        # publish, close, delete: managers only
        for role in ("guest", "outsider", "member", "mo_head"):
            c = await w.as_(role)
            for url in (
                f"/questionnaires/{draft}/publish",
                f"/questionnaires/{opened}/close",
                f"/questionnaires/{draft}/delete",
            ):
                r = await c.submit(url)
                assert r.status_code in (303, 403) and (r.status_code == 403) == (role != "guest"), (
                    role,
                    url,
                )
        r = await (await w.as_("admin")).submit(f"/questionnaires/{opened}/close")
        assert r.status_code == 303
        r = await m.submit(f"/questionnaires/{draft}/delete")
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            assert await s.get(Questionnaire, draft) is None
            closed = await s.get(Questionnaire, opened)
            assert closed is not None and closed.status == QuestionnaireStatus.closed
    finally:
        await w.close()
