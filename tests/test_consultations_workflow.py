"""Consultations over HTTP on both databases: ask, members reply, named experts and methodists
give expert answers, the solution, notifications, search, the live consultation; the role
matrix; the annual summary and the activity metric."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from server.db.models import Meeting, MeetingForm, Notification, NotificationKind, Role
from server.db.models.consultations import ConsultationAnswer, ConsultationExpert, ConsultationQuestion
from server.domain.year.activity import METRICS
from server.domain.year.consultations import consultations_summary
from server.search import search
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

ROLES = {
    "methodist": Role.methodist,
    "asker": Role.member,
    "expert": Role.member,
    "member": Role.member,
    "mo_head": Role.mo_head,
}


async def _setup(server: LiveServer) -> tuple[int, int, dict[str, int], dict[str, WebClient]]:
    db = server.runtime.db
    a = await make_association(db)
    other = await make_association(db, name="СМО учителей физики")
    ids: dict[str, int] = {}
    clients: dict[str, WebClient] = {}
    for role, member_role in ROLES.items():
        u = await make_user(db, f"{role}@example.org", last_name=role.capitalize())
        await add_member(db, a.id, u.id, member_role)
        ids[role] = u.id
    out = await make_user(db, "outsider@example.org", last_name="Outsider")
    await add_member(db, other.id, out.id, Role.methodist)
    ids["outsider"] = out.id
    admin = await make_user(db, "admin@example.org", is_admin=True)
    ids["admin"] = admin.id
    for role in ids:
        clients[role] = await logged_in_client(server, f"{role}@example.org")
    return a.id, other.id, ids, clients


async def _close(clients: dict[str, WebClient]) -> None:
    for c in clients.values():
        await c.aclose()


def _qid(r: httpx.Response) -> int:
    assert r.status_code == 303, (r.status_code, r.text[:1500])
    m = re.fullmatch(r"/consultations/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


async def _ask(c: WebClient, assoc_id: int, title: str, body: str) -> httpx.Response:
    return await c.submit(f"/associations/{assoc_id}/consultations/new", {"title": title, "body": body})


async def _answer_ids(server: LiveServer, qid: int) -> dict[int, ConsultationAnswer]:
    async with server.runtime.db.read() as s:
        return {
            a.author_id or 0: a
            for a in (
                await s.scalars(select(ConsultationAnswer).where(ConsultationAnswer.question_id == qid))
            ).all()
        }


async def test_thread_expert_answers_solution_and_search(server: LiveServer) -> None:
    aid, other_id, ids, c = await _setup(server)
    try:
        qid = _qid(
            await _ask(c["asker"], aid, "Как провести открытые уроки?", "Нужны советы по подготовке уроков.")
        )
        # Bad input: 422 with a Russian message next to the field, nothing created.
        bad = await _ask(c["asker"], aid, "", "текст")
        assert bad.status_code == 422 and "Заполните это поле" in bad.text
        # The methodist names an expert among the members.
        r = await c["methodist"].submit(
            f"/associations/{aid}/consultations/experts", {"user_id": str(ids["expert"])}
        )
        assert r.status_code == 303
        r = await c["methodist"].submit(
            f"/associations/{aid}/consultations/experts", {"user_id": str(ids["outsider"])}
        )
        assert r.status_code == 422 and "только участника" in r.text
        # A member replies (not an expert answer); the expert and the methodist answer.
        for role, text in (
            ("member", "Я бы начал с плана."),
            ("expert", "Составьте технологическую карту урока."),
            ("methodist", "Посмотрите ресурсы объединения."),
        ):
            assert (await c[role].submit(f"/consultations/{qid}/answers", {"body": text})).status_code == 303
        empty = await c["member"].submit(f"/consultations/{qid}/answers", {"body": "  "})
        assert empty.status_code == 422
        answers = await _answer_ids(server, qid)
        assert len(answers) == 3
        assert [answers[ids[k]].is_expert for k in ("member", "expert", "methodist")] == [False, True, True]
        # The asker is told of every answer, once each.
        async with server.runtime.db.read() as s:
            notes = (await s.scalars(select(Notification).where(Notification.user_id == ids["asker"]))).all()
        assert len(notes) == 3 and {n.kind for n in notes} == {NotificationKind.question_answered}
        assert sum("Ответ эксперта" in n.title for n in notes) == 2
        page = await c["asker"].get(f"/consultations/{qid}")
        assert page.text.count("Ответ эксперта") >= 2 and "Решено" not in page.text
        # Only the asker or a methodist marks the solution.
        expert_answer = answers[ids["expert"]].id
        for role in ("member", "expert", "mo_head"):
            r = await c[role].submit(f"/consultations/{qid}/answers/{expert_answer}/solution")
            assert r.status_code == 403, role
        assert (
            await c["outsider"].submit(f"/consultations/{qid}/answers/{expert_answer}/solution")
        ).status_code == 404
        assert (
            await c["asker"].submit(f"/consultations/{qid}/answers/{expert_answer}/solution")
        ).status_code == 303
        page = await c["member"].get(f"/consultations/{qid}")
        assert "Решено" in page.text
        listing = await c["member"].get(f"/associations/{aid}/consultations")
        assert "Решено" in listing.text and "Как провести открытые уроки?" in listing.text
        # The methodist moves the solution: still one per thread.
        methodist_answer = answers[ids["methodist"]].id
        r = await c["methodist"].submit(f"/consultations/{qid}/answers/{methodist_answer}/solution")
        assert r.status_code == 303
        answers = await _answer_ids(server, qid)
        assert [a.id for a in answers.values() if a.is_solution] == [methodist_answer]
        # An answer of another thread cannot be marked here.
        q2 = _qid(await _ask(c["member"], aid, "Олимпиада", "Где взять задачи?"))
        assert (
            await c["methodist"].submit(f"/consultations/{q2}/answers/{expert_answer}/solution")
        ).status_code == 404
        # Search: members find by word forms; the question is members-only.
        found = await c["member"].get(f"/associations/{aid}/consultations?q=урок")
        assert "Как провести открытые уроки?" in found.text and "Олимпиада" not in found.text
        async with server.runtime.db.read() as s:
            hits = await search(s, "уроков", association_ids={aid}, kinds={"question"})
            assert [h.object_id for h in hits] == [qid]
            assert await search(s, "уроков", association_ids={other_id}, kinds={"question"}) == []
            # Expert answers are searchable with the question.
            assert [h.object_id for h in await search(s, "технологическая карта", association_ids={aid})] == [
                qid
            ]
        # Another association's member sees nothing.
        assert (await c["outsider"].get(f"/consultations/{qid}")).status_code == 404
        assert (await c["outsider"].get(f"/associations/{aid}/consultations")).status_code == 403
        assert (await c["outsider"].submit(f"/consultations/{qid}/answers", {"body": "x"})).status_code == 404
    finally:
        await _close(c)


async def test_live_consultation_and_role_matrix(server: LiveServer) -> None:
    aid, _, ids, c = await _setup(server)
    guest = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    try:
        qid = _qid(await _ask(c["asker"], aid, "Формирующее оценивание", "Как организовать?"))
        expected_ask = {
            "asker": 303,
            "member": 303,
            "mo_head": 303,
            "methodist": 303,
            "admin": 303,
            "outsider": 403,
        }
        for role, status in expected_ask.items():
            assert (await _ask(c[role], aid, f"Вопрос {role}", "текст")).status_code == status, role
        assert (await _ask(guest, aid, "Гость", "текст")).headers["location"].startswith("/login")
        for role, status in {"member": 200, "mo_head": 200, "admin": 200, "outsider": 404}.items():
            assert (await c[role].get(f"/consultations/{qid}")).status_code == status, role
        assert (await guest.get(f"/consultations/{qid}")).status_code == 303
        assert (await c["member"].get("/consultations/999999")).status_code == 404
        # Naming experts: methodists and administrators only.
        for role, status in {
            "member": 403,
            "mo_head": 403,
            "asker": 403,
            "outsider": 403,
            "admin": 303,
        }.items():
            r = await c[role].submit(
                f"/associations/{aid}/consultations/experts", {"user_id": str(ids["expert"])}
            )
            assert r.status_code == status, role
        async with server.runtime.db.read() as s:
            assert await s.scalar(select(func.count()).select_from(ConsultationExpert)) == 1
        r = await c["member"].submit(f"/associations/{aid}/consultations/experts/{ids['expert']}/delete")
        assert r.status_code == 403
        r = await c["methodist"].submit(f"/associations/{aid}/consultations/experts/{ids['expert']}/delete")
        assert r.status_code == 303
        r = await c["methodist"].submit(f"/associations/{aid}/consultations/experts/{ids['expert']}/delete")
        assert r.status_code == 404
        # The live consultation: methodists only; one meeting per thread, of the form «консультация».
        for role, status in {"asker": 403, "member": 403, "mo_head": 403, "outsider": 404}.items():
            assert (await c[role].submit(f"/consultations/{qid}/live")).status_code == status, role
        r = await c["methodist"].submit(f"/consultations/{qid}/live")
        assert r.status_code == 303
        mid = int(re.fullmatch(r"/meetings/(\d+)/edit", r.headers["location"]).group(1))  # type: ignore[union-attr]
        again = await c["methodist"].submit(f"/consultations/{qid}/live")
        assert again.headers["location"] == f"/meetings/{mid}/edit"
        async with server.runtime.db.read() as s:
            meeting = await s.get(Meeting, mid)
            q = await s.get(ConsultationQuestion, qid)
            assert meeting is not None and q is not None
            assert meeting.form == MeetingForm.consultation and meeting.association_id == aid
            assert meeting.title == "Консультация: Формирующее оценивание"
            assert q.meeting_id == mid
            assert await s.scalar(select(func.count()).select_from(Meeting)) == 1
        page = await c["asker"].get(f"/consultations/{qid}")
        assert f'href="/meetings/{mid}"' in page.text and "Провести онлайн-консультацию" not in page.text
        assert "Провести онлайн-консультацию" not in (await c["member"].get(f"/consultations/{q.id}")).text
    finally:
        await guest.aclose()
        await _close(c)


async def test_summary_and_activity_metric(server: LiveServer) -> None:
    aid, _, ids, c = await _setup(server)
    try:
        await c["methodist"].submit(
            f"/associations/{aid}/consultations/experts", {"user_id": str(ids["expert"])}
        )
        q1 = _qid(await _ask(c["asker"], aid, "Вопрос 1", "текст"))
        q2 = _qid(await _ask(c["asker"], aid, "Вопрос 2", "текст"))
        q3 = _qid(await _ask(c["member"], aid, "Вопрос 3", "текст"))
        old = _qid(await _ask(c["member"], aid, "Прошлогодний", "текст"))
        posts: list[tuple[str, int]] = [
            ("expert", q1),
            ("expert", q2),
            ("methodist", q1),
            ("member", q3),
            ("expert", old),
        ]
        for role, qid in posts:
            assert (
                await c[role].submit(f"/consultations/{qid}/answers", {"body": "ответ"})
            ).status_code == 303
        ans = await _answer_ids(server, q1)
        await c["asker"].submit(f"/consultations/{q1}/answers/{ans[ids['expert']].id}/solution")
        member_reply = (await _answer_ids(server, q3))[ids["member"]]
        await c["member"].submit(f"/consultations/{q3}/answers/{member_reply.id}/solution")
        now = datetime.now(UTC)
        async with server.runtime.db.transaction() as s:
            past = now - timedelta(days=400)
            await s.execute(
                update(ConsultationQuestion).where(ConsultationQuestion.id == old).values(created_at=past)
            )
            await s.execute(
                update(ConsultationAnswer)
                .where(ConsultationAnswer.question_id == old)
                .values(created_at=past)
            )
        start, end = now - timedelta(days=30), now + timedelta(days=1)
        async with server.runtime.db.read() as s:
            summary = await consultations_summary(s, aid, start, end)
            assert (summary.questions, summary.answered, summary.solved) == (3, 2, 2)
            metric = METRICS["consultation_answers"]
            values: dict[int, Any] = await metric.source(s, aid, start, end)
            assert values == {ids["expert"]: 2.0, ids["methodist"]: 1.0}
            assert metric.weight > 0
            whole = await metric.source(s, aid, now - timedelta(days=500), end)
            assert whole[ids["expert"]] == 3.0
    finally:
        await _close(c)
