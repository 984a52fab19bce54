"""The protocol workflow on both databases: assembled once by the durable job when the meeting
ends, edited (with history), reviewed, approved and numbered within the school year."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.db.models import (
    AgendaItem,
    Association,
    Meeting,
    MeetingProtocol,
    Membership,
    Organisation,
    OutboxMessage,
    ProtocolEdit,
    ProtocolStatus,
    Role,
    User,
)
from server.domain.meeting.meeting_log import append_events
from server.domain.protocol import InvalidProtocolEdit, render_text
from server.domain.protocol.workflow import (
    ProtocolRemarksOpen,
    ProtocolReviewClosed,
    add_remark,
    approve_protocol,
    assemble_draft,
    edit_protocol,
    enqueue_assembly,
    resolve_remark,
    school_year_of,
    start_review,
    version_model,
)
from server.errors import Forbidden
from server.workers import wake_outbox
from tests.support.live import LiveServer
from tests.support.net import wait_for

START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
NAMES = [("Абрамова", "Анна", "Сергеевна"), ("Белов", "Борис", "Петрович"), ("Васильева", "Вера", "Ивановна")]


async def _seed(s: AsyncSession, when: datetime = START, association: Association | None = None) -> dict:
    """An association of three (methodist, secretary, member) and one ended meeting with a log."""
    if association is None:
        org = Organisation(name=f"МБОУ «СОШ № {secrets.randbelow(10**6)}»")
        s.add(org)
        await s.flush()
        users = [
            User(email=f"{secrets.token_hex(4)}@example.org", password_hash="x", last_name=a, first_name=b,
                 middle_name=c, organisation_id=org.id)
            for a, b, c in NAMES
        ]  # fmt: skip
        association = Association(name="СМО учителей математики", founder_name="Управление образования")
        s.add_all([*users, association])
        await s.flush()
        for user, role in zip(users, (Role.methodist, Role.member, Role.member), strict=True):
            s.add(Membership(association_id=association.id, user_id=user.id, role=role))
    else:
        users = list(
            await s.scalars(
                select(User)
                .join(Membership)
                .where(Membership.association_id == association.id)
                .order_by(User.id)
            )
        )
    meeting = Meeting(
        association_id=association.id, title="Итоги четверти", starts_at=when, ends_at=when + timedelta(hours=1),
        secretary_id=users[1].id, guest_token=secrets.token_hex(16), started_at=when,
    )  # fmt: skip
    s.add(meeting)
    await s.flush()
    item = AgendaItem(meeting_id=meeting.id, position=1, title="О плане работы", rapporteur_id=users[0].id)
    s.add(item)
    await s.flush()
    joins = [
        ("participant.joined", f"u:{u.id}",
         {"participant": f"u:{u.id}", "name": u.full_name, "short_name": u.short_name, "role": "member"})
        for u in users[:2]
    ]  # fmt: skip
    await append_events(s, meeting.id, [("meeting.started", "system", {}), *joins], at=when)
    await append_events(
        s,
        meeting.id,
        [
            ("agenda.item.started", "system", {"item_id": item.id, "position": 1, "title": item.title}),
            ("floor.granted", "system", {"participant": f"u:{users[1].id}"}),
        ],
        at=when + timedelta(minutes=1),
    )
    await append_events(
        s,
        meeting.id,
        [("floor.ended", "system", {"participant": f"u:{users[1].id}"})],
        at=when + timedelta(minutes=6),
    )
    await append_events(s, meeting.id, [("meeting.ended", "system", {})], at=when + timedelta(minutes=30))
    return {"association": association, "users": users, "meeting": meeting, "item": item}


async def test_two_builders_at_once_make_one_draft(server: LiveServer, backend: str) -> None:
    """The job and a direct build (or two processes) racing for a meeting with no draft yet:
    both finish, one row. On PostgreSQL both read "no row" before either inserts."""
    db = server.runtime.db
    async with db.transaction() as s:
        meeting_id = (await _seed(s))["meeting"].id

    async def build() -> int:
        async with db.transaction() as s:
            row = await assemble_draft(s, meeting_id)
            assert row is not None
            return row.id

    ids = await asyncio.gather(*(build() for _ in range(4)))
    async with db.read() as s:
        rows = list(await s.scalars(select(MeetingProtocol).where(MeetingProtocol.meeting_id == meeting_id)))
    assert len(rows) == 1 and set(ids) == {rows[0].id} and rows[0].text


async def test_draft_is_assembled_once_by_the_durable_job(server: LiveServer, backend: str) -> None:
    db = server.runtime.db
    async with db.transaction() as s:
        seed = await _seed(s)
        assert await enqueue_assembly(s, seed["meeting"].id)
    async with db.transaction() as s:
        assert not await enqueue_assembly(s, seed["meeting"].id)  # the meeting is the dedupe key
    wake_outbox(server.runtime)

    async def drafted() -> bool:
        async with db.read() as s:
            job = await s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "protocol.assemble"))
            return job is not None and job.status == "sent"

    await wait_for(drafted, 20, what="protocol.assemble job done")
    async with db.transaction() as s:
        await assemble_draft(s, seed["meeting"].id)  # running again (after a crash) changes nothing
    async with db.read() as s:
        rows = list(await s.scalars(select(MeetingProtocol)))
    assert len(rows) == 1 and rows[0].status == ProtocolStatus.draft and rows[0].number is None
    text = rows[0].text
    assert "25.11.2026 № ___" in text and "Председатель — А.С. Абрамова" in text
    assert "Присутствовали: А.С. Абрамова, Б.П. Белов" in text
    assert "Кворум имеется: присутствуют 2 из 3 членов СМО." in text
    assert "Б.П. Белов — выступление 5 мин." in text


async def test_edit_review_approve_and_number(server: LiveServer) -> None:
    db = server.runtime.db
    async with db.transaction() as s:
        seed = await _seed(s)
        row = await assemble_draft(s, seed["meeting"].id)
        assert row is not None
        pid = row.id
    methodist, secretary, member = seed["users"]
    item_key = f"item.{seed['item'].id}.summary"

    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await edit_protocol(s, member, pid, {item_key: "x"})
        with pytest.raises(InvalidProtocolEdit):
            await edit_protocol(s, secretary, pid, {"item.999.summary": "no such item"})
    async with db.transaction() as s:
        await edit_protocol(s, secretary, pid, {item_key: "План на второе полугодие <одобрен>"})
    async with db.transaction() as s:
        row = await edit_protocol(s, secretary, pid, {item_key: "План работы на второе полугодие"})
        assert "А.С. Абрамова — План работы на второе полугодие." in row.text
        assert await s.scalar(select(func.count(ProtocolEdit.id))) == 2  # the history is kept

    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await start_review(s, secretary, pid, clock.now() + timedelta(days=3))
        with pytest.raises(ProtocolReviewClosed):
            await add_remark(s, member, pid, "Не указан срок")
    async with db.transaction() as s:
        await start_review(s, methodist, pid, clock.now() + timedelta(days=3))
        remark = await add_remark(s, member, pid, "Не указан срок исполнения")
        remark_id = remark.id
    async with db.transaction() as s:
        with pytest.raises(ProtocolRemarksOpen):
            await approve_protocol(s, methodist, pid)
    async with db.transaction() as s:
        await resolve_remark(s, methodist, remark_id, "Срок добавлен")
        v1 = await approve_protocol(s, methodist, pid)
        assert (v1.version, v1.number) == (1, 1)
        assert "25.11.2026 № 1 " in v1.text and "к протоколу от 25.11.2026 № 1" in v1.text
        # A later meeting of the same school year gets № 2; one after 1 September, № 1 again.
        second = await _seed(s, START + timedelta(days=30), seed["association"])
        next_year = await _seed(s, datetime(2027, 9, 10, 7, tzinfo=UTC), seed["association"])
        numbers = []
        for m in (second["meeting"], next_year["meeting"]):
            draft = await assemble_draft(s, m.id)
            assert draft is not None
            numbers.append((await approve_protocol(s, methodist, draft.id)).number)
        assert numbers == [2, 1]

    # A correction after approval: a new version with the same number, the first one kept.
    async with db.transaction() as s:
        row = await edit_protocol(s, methodist, pid, {item_key: "Уточнённая формулировка"})
        assert row.status == ProtocolStatus.draft
        v2 = await approve_protocol(s, secretary, pid)
        assert (v2.version, v2.number) == (2, 1)
        model = await version_model(s, v1, seed["meeting"].id)
        assert render_text(model) == v1.text
        assert "Уточнённая формулировка" in v2.text and "Уточнённая" not in v1.text


def test_school_year_runs_from_september() -> None:
    assert school_year_of(datetime(2026, 9, 1).date()) == 2026
    assert school_year_of(datetime(2027, 8, 31).date()) == 2026
    assert school_year_of(datetime(2026, 8, 31).date()) == 2025
