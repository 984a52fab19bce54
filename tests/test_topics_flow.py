"""Topic proposals over HTTP: propose (methodists notified), support once per person (also
under concurrency), sorting by support, accept into the plan once, decline with a reason,
the proposer notified, and the role matrix."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from server.db.models import Notification, NotificationKind, PlanRow, PlanRowSource, Role, WorkPlan
from server.db.models.topics import TopicProposal, TopicStatus, TopicSupport
from server.domain.year.plans import current_school_year
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer


async def _world(server: LiveServer) -> dict[str, int]:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей географии")
    b = await make_association(db, name="СМО учителей музыки")
    ids = {"a": a.id, "b": b.id}
    for name, role, assoc in (
        ("methodist", Role.methodist, a.id),
        ("head", Role.mo_head, a.id),
        ("t1", Role.member, a.id),
        ("t2", Role.member, a.id),
        ("outsider", Role.methodist, b.id),
    ):
        u = await make_user(db, f"{name}@example.org", last_name=name.capitalize())
        await add_member(db, assoc, u.id, role)
        ids[name] = u.id
    ids["admin"] = (await make_user(db, "admin@example.org", is_admin=True)).id
    return ids


async def _proposal_ids(server: LiveServer) -> dict[str, int]:
    async with server.runtime.db.read() as s:
        return {p.title: p.id for p in await s.scalars(select(TopicProposal))}


async def _supports(server: LiveServer, pid: int) -> int:
    async with server.runtime.db.read() as s:
        return int(
            await s.scalar(select(func.count(TopicSupport.id)).where(TopicSupport.proposal_id == pid)) or 0
        )


async def test_propose_support_accept_decline(server: LiveServer) -> None:
    ids = await _world(server)
    c = {
        n: await logged_in_client(server, f"{n}@example.org")
        for n in ("methodist", "head", "t1", "t2", "outsider", "admin")
    }
    url = f"/associations/{ids['a']}/topics"
    try:
        r = await c["t1"].submit(
            url,
            {
                "title": "Функциональная грамотность на уроках географии",
                "rationale": "Новые задания PISA, см. https://example.org/pisa",
            },
        )
        assert r.status_code == 303
        r = await c["t2"].submit(url, {"title": "Работа с картой в 5–6 классах", "rationale": ""})
        assert r.status_code == 303
        r = await c["head"].submit(
            url, {"title": "Подготовка к ОГЭ: практикум", "rationale": "Просьба коллег"}
        )
        assert r.status_code == 303
        p = await _proposal_ids(server)
        fg, karta, oge = (
            p["Функциональная грамотность на уроках географии"],
            p["Работа с картой в 5–6 классах"],
            p["Подготовка к ОГЭ: практикум"],
        )
        async with server.runtime.db.read() as s:
            told = list(
                await s.scalars(
                    select(Notification).where(Notification.kind == NotificationKind.topic_proposal)
                )
            )
        assert {n.user_id for n in told} == {ids["methodist"]} and len(told) == 3

        # Support: twice at the same time from the same person → one row; toggling off and on.
        r1, r2 = await asyncio.gather(
            c["t2"].submit(f"/topics/{karta}/support", {"on": "1"}),
            c["t2"].submit(f"/topics/{karta}/support", {"on": "1"}),
        )
        assert (r1.status_code, r2.status_code) == (303, 303)
        assert await _supports(server, karta) == 1
        for who in ("t1", "head", "methodist"):
            assert (await c[who].submit(f"/topics/{karta}/support", {"on": "1"})).status_code == 303
        assert (await c["t1"].submit(f"/topics/{oge}/support", {"on": "1"})).status_code == 303
        assert await _supports(server, karta) == 4
        assert (await c["t1"].submit(f"/topics/{karta}/support", {"on": "0"})).status_code == 303
        assert await _supports(server, karta) == 3
        # Sorted by support; my support shows as a pressed button.
        page = await c["t1"].get(url)
        order = [int(x) for x in re.findall(r'id="topic-(\d+)"', page.text)]
        assert order == [karta, oge, fg]
        assert 'href="https://example.org/pisa"' in page.text
        block = page.text.split(f'id="topic-{oge}"')[1][:900]
        assert 'aria-pressed="true"' in block
        assert "Включить в план" not in page.text  # members do not decide
        assert "Включить в план" in (await c["methodist"].get(url)).text

        # Accept twice at once → one plan row; the second gets a conflict.
        year = current_school_year()
        ra, rb = await asyncio.gather(
            c["methodist"].submit(f"/topics/{karta}/accept", {"school_year": str(year)}),
            c["admin"].submit(f"/topics/{karta}/accept", {"school_year": str(year)}),
        )
        assert sorted([ra.status_code, rb.status_code]) == [303, 409]
        async with server.runtime.db.read() as s:
            rows = list(
                await s.execute(select(PlanRow, WorkPlan).join(WorkPlan, WorkPlan.id == PlanRow.plan_id))
            )
            prop = await s.get(TopicProposal, karta)
        assert len(rows) == 1
        plan_row, plan = rows[0]
        assert plan.association_id == ids["a"] and plan.school_year == year
        assert plan_row.topic == "Работа с картой в 5–6 классах" and plan_row.source == PlanRowSource.topic
        assert "поддержали: 3" in plan_row.note
        assert prop is not None and prop.status == TopicStatus.accepted and prop.plan_row_id == plan_row.id
        page = await c["t2"].get(url)
        assert "Включено в план" in page.text and f"/associations/{ids['a']}/plan?year={year}" in page.text
        # Supporting a decided topic: conflict, nothing changes.
        r = await c["t1"].submit(f"/topics/{karta}/support", {"on": "1"})
        assert r.status_code == 409 and await _supports(server, karta) == 3
        # A year outside (current, next): 422, nothing changes.
        r = await c["methodist"].submit(f"/topics/{oge}/accept", {"school_year": str(year + 5)})
        assert r.status_code == 422

        # Decline needs a reason.
        r = await c["methodist"].submit(f"/topics/{fg}/decline", {"reason": ""})
        assert r.status_code == 422 and "Укажите причину" in r.text
        r = await c["methodist"].submit(f"/topics/{fg}/decline", {"reason": "Тема уже была в прошлом году"})
        assert r.status_code == 303
        page = await c["t1"].get(url)
        assert "Отклонено" in page.text and "Тема уже была в прошлом году" in page.text
        async with server.runtime.db.read() as s:
            decided = list(
                await s.scalars(
                    select(Notification)
                    .where(Notification.dedupe_key.like("topic:%:decided"))
                    .order_by(Notification.id)
                )
            )
        assert [(n.user_id, "включена в план" in n.title) for n in decided] == [
            (ids["t2"], True),
            (ids["t1"], False),
        ]
        assert "Причина: Тема уже была в прошлом году" in decided[1].body
    finally:
        for x in c.values():
            await x.aclose()


async def test_role_matrix(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    ids = await _world(server)
    url = f"/associations/{ids['a']}/topics"
    r = await client.get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    c = {
        n: await logged_in_client(server, f"{n}@example.org")
        for n in ("methodist", "head", "t1", "outsider", "admin")
    }
    try:
        assert (await c["outsider"].get(url)).status_code == 403
        assert (await c["outsider"].submit(url, {"title": "Чужая тема для обсуждения"})).status_code == 403
        assert (await c["admin"].get(url)).status_code == 200
        # Bad input: 422 with a Russian message by the field, nothing stored.
        r = await c["t1"].submit(url, {"title": "abc"})
        assert r.status_code == 422 and "Тема: от 5 до 300 символов." in r.text
        r = await c["t1"].submit(url, {"title": "Нормальная тема", "rationale": "x" * 2001})
        assert r.status_code == 422
        async with server.runtime.db.read() as s:
            assert await s.scalar(select(func.count(TopicProposal.id))) == 0
        assert (await c["t1"].submit(url, {"title": "Проектная деятельность"})).status_code == 303
        pid = (await _proposal_ids(server))["Проектная деятельность"]
        for who in ("t1", "head", "outsider"):
            r = await c[who].submit(f"/topics/{pid}/accept", {"school_year": str(current_school_year())})
            assert r.status_code == 403, who
            r = await c[who].submit(f"/topics/{pid}/decline", {"reason": "нет"})
            assert r.status_code == 403, who
        assert (await c["outsider"].submit(f"/topics/{pid}/support", {"on": "1"})).status_code == 403
        assert (await c["t1"].submit("/topics/99999999999/support", {"on": "1"})).status_code == 404
        assert (await c["t1"].submit(f"/topics/{pid}/support", {"on": "7"})).status_code == 422
        assert (await c["t1"].post(f"/topics/{pid}/support", data={"on": "1"})).status_code == 403  # no CSRF
        assert await _supports(server, pid) == 0
        async with server.runtime.db.read() as s:
            assert (await s.get(TopicProposal, pid)).status == TopicStatus.open  # type: ignore[union-attr]
            assert await s.scalar(select(func.count(PlanRow.id))) == 0
    finally:
        for x in c.values():
            await x.aclose()
