"""Feedback after a meeting (5.3): ending the meeting in the live room creates the anonymous
form once and mails its link to each person who attended; the results appear on the meeting
page; ``feedback_summary`` gives the annual analysis its numbers. And the pre-meeting
questionnaire's invitation on the meeting page."""

from __future__ import annotations

from sqlalchemy import func, select

from server.db.models import Meeting, OutboxMessage, User
from server.db.models.questionnaires import (
    Questionnaire,
    QuestionnairePurpose,
    QuestionnaireStatus,
)
from server.domain.protocol import russian as ru
from server.domain.protocol.workflow import school_year_of
from server.domain.year.feedback import feedback_summary, meeting_day
from tests.support.factories import logged_in_client, make_meeting
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import seed_cast
from tests.support.smtp import Inbox, body_text
from tests.test_questionnaires_support import add_question, create_draft, make_world, publish, question_ids


async def test_meeting_end_creates_feedback_mails_attendees_and_shows_results(
    server: LiveServer, inbox: Inbox
) -> None:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    try:
        async with db.read() as s:
            emails = {
                role: (await s.get(User, cast.ids[role])).email
                for role in ("methodist", "member", "teacher2")
            }  # type: ignore[union-attr]
        host, _ = await cast.joined("methodist")
        await cast.joined("member")
        await cast.joined("guest")
        await host.ok("meeting.start")
        await host.ok("meeting.end")

        async def form() -> Questionnaire | None:
            async with db.read() as s:
                return await s.scalar(
                    select(Questionnaire).where(
                        Questionnaire.meeting_id == cast.meeting.id,
                        Questionnaire.purpose == QuestionnairePurpose.feedback,
                    )
                )

        q = await wait_for(form, 15, what="feedback form created")
        assert q.anonymous and q.status == QuestionnaireStatus.open
        ids = await question_ids(server, q.id)
        assert len(ids) == 3

        # one mail per attendee with an account: the methodist and the member, not teacher2
        for role in ("methodist", "member"):
            msgs = await wait_for(
                lambda role=role: inbox.to(emails[role]), 20, what=f"feedback mail to {role}"
            )
            assert len(msgs) == 1
            assert f"/questionnaires/{q.id}" in body_text(msgs[0])
            assert "Отзыв о заседании" in str(msgs[0]["Subject"])
        async with db.read() as s:
            jobs = await s.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.kind == "questionnaires.feedback_mail"
                )
            )
            mails = await s.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.dedupe_key.like(f"mail:feedback:{q.id}:%")
                )
            )
        assert jobs == 1 and mails == 2
        assert inbox.to(emails["teacher2"]) == []

        # answers over HTTP, shown on the meeting page to members
        member = await logged_in_client(server, emails["member"])
        methodist = await logged_in_client(server, emails["methodist"])
        teacher2 = await logged_in_client(server, emails["teacher2"])
        try:
            page = await member.get(f"/meetings/{cast.meeting.id}")
            assert "Оставить отзыв о заседании" in page.text
            r = await member.submit(
                f"/questionnaires/{q.id}/answer",
                {f"q{ids[0]}": "4", f"q{ids[1]}": "Практические примеры <i>"},
            )
            assert r.status_code == 303
            r = await methodist.submit(
                f"/questionnaires/{q.id}/answer",
                {f"q{ids[0]}": "5", f"q{ids[2]}": "Больше времени на вопросы"},
            )
            assert r.status_code == 303
            r = await teacher2.submit(f"/questionnaires/{q.id}/answer", {f"q{ids[1]}": "без оценки"})
            assert r.status_code == 422 and "Это обязательный вопрос." in r.text
            page = (await teacher2.get(f"/meetings/{cast.meeting.id}")).text
            assert "Отзывов: 2" in page and "средняя оценка полезности: 4.5 из 5" in page
            assert "Практические примеры &lt;i&gt;" in page and "Больше времени на вопросы" in page
            assert "Оставить отзыв о заседании" in page  # teacher2 may still answer
            assert "Оставить отзыв о заседании" not in (await member.get(f"/meetings/{cast.meeting.id}")).text
        finally:
            for c in (member, methodist, teacher2):
                await c.aclose()

        async with db.read() as s:
            held = await s.get(Meeting, cast.meeting.id)
            assert held is not None and held.started_at is not None
            year = school_year_of(meeting_day(held))
            lines = await feedback_summary(s, cast.meeting.association_id, year)
            other_year = await feedback_summary(s, cast.meeting.association_id, year + 1)
        assert len(lines) == 1 and other_year == []
        line = lines[0]
        assert (line.meeting_id, line.title, line.responses, line.average) == (
            cast.meeting.id,
            cast.meeting.title,
            2,
            4.5,
        )
        assert line.date == meeting_day(held) == ru.moscow(held.started_at).date()
    finally:
        await cast.close_all(server.runtime.sio)


async def test_pre_meeting_questionnaire_on_the_meeting_page(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        meeting = await make_meeting(server.runtime.db, w.association_id, title="Семинар по ФГОС")
        m = await w.as_("methodist")
        qid = await create_draft(m, w.association_id, title="Перед семинаром", meeting_id=str(meeting.id))
        assert (
            await add_question(m, qid, "text", "Какие вопросы обсудить?", required=True)
        ).status_code == 303
        # a second questionnaire cannot take the same meeting
        r = await m.submit(
            f"/associations/{w.association_id}/questionnaires",
            {"title": "Ещё одна", "meeting_id": str(meeting.id)},
        )
        assert r.status_code == 422 and "К этому заседанию уже прикреплена анкета." in r.text
        c = await w.as_("member")
        assert (
            "Заполните анкету перед заседанием" not in (await c.get(f"/meetings/{meeting.id}")).text
        )  # draft
        await publish(m, qid)
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.purpose == QuestionnairePurpose.pre and q.meeting_id == meeting.id
        page = (await c.get(f"/meetings/{meeting.id}")).text
        assert "Заполните анкету перед заседанием" in page and f'href="/questionnaires/{qid}"' in page
        ids = await question_ids(server, qid)
        assert (
            await c.submit(f"/questionnaires/{qid}/answer", {f"q{ids[0]}": "Оценивание"})
        ).status_code == 303
        page = (await c.get(f"/meetings/{meeting.id}")).text
        assert "Спасибо, вы заполнили анкету перед заседанием." in page
        # an outsider sees nothing of it
        outsider = await (await w.as_("outsider")).get(f"/meetings/{meeting.id}")
        assert outsider.status_code == 403 or "Заполните анкету" not in outsider.text
        # the home page lists open questionnaires not yet answered
        home = (await (await w.as_("mo_head")).get("/")).text
        assert "Перед семинаром" in home
    finally:
        await w.close()
