"""Breakout groups in the protocol (docs/groups.md): a golden text from a scripted log, the
rounds under the right items, each group's final document attached; and the same through the
real server: groups worked, the meeting ended, the assembled protocol holds them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db.models import MeetingProtocol
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import assemble_protocol, render_text
from server.domain.protocol.model import MeetingInfo
from tests.support.doc_peer import DocPeer
from tests.support.live import LiveServer
from tests.support.logs import LogBuilder, meeting_info
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast

GOLDEN = Path(__file__).parent / "golden" / "protocol" / "groups.txt"
DIAG = "О результатах диагностических работ"
WORKSHOP = "Практикум: разбор заданий ОГЭ"


def scenario() -> tuple[MeetingInfo, list[LoggedEvent]]:
    """Two items; during the second, two rounds of groups: the first (2 groups, 15 minutes, one
    person moved, one group's document written, the other's left empty) ended by the moderator,
    the second cut short by the meeting's end (its document captured at meeting.ended)."""
    info = meeting_info(6, agenda=((DIAG, 1), (WORKSHOP, 0)))
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).item(101, 1, DIAG).at(8).item_end(101).at(9).item(102, 2, WORKSHOP)
    groups = [
        {
            "id": 1,
            "name": "Практики",
            "task": "Разобрать задание 21",
            "members": [m[0].key, m[1].key, m[2].key],
        },
        {"id": 2, "name": "Группа 2", "task": "", "members": [m[3].key, m[4].key, m[5].key], "doc_id": 12},
    ]
    groups[0]["doc_id"] = 11
    created = {"round": 1, "groups": groups, "duration": 900, "assignment": "manual"}
    b.at(10).add("groups.created", created, m[0].key)
    ends = (b.now + timedelta(minutes=15)).isoformat()
    b.add("groups.started", {"round": 1, "ends_at": ends}, m[0].key)
    b.at(12).add("chat.message", {"text": "Начнём с условия", "group": 1}, m[1].key)
    b.add("groups.assigned", {"participant": m[2].key, "group": 2}, m[0].key)
    b.at(25).add("groups.ended", {"round": 1, "reason": "moderator"}, m[0].key)
    b.add(
        "doc.snapshot",
        {
            "doc_id": 11,
            "title": "Результаты группы 1: Практики",
            "text": "Типичная ошибка — потеря корня.\n\nПредлагаем памятку для учащихся.",
            "reason": "groups_ended",
        },
    )
    second = [
        {
            "id": 3,
            "name": "Группа 1",
            "task": "Подобрать задачи",
            "members": [m[4].key, m[5].key],
            "doc_id": 13,
        },
    ]
    b.at(30).add("groups.created", {"round": 2, "groups": second, "duration": 600}, m[0].key)
    b.add("groups.started", {"round": 2, "ends_at": (b.now + timedelta(minutes=10)).isoformat()}, m[0].key)
    b.at(34).item_end(102).end()
    b.snapshot(13, "Результаты группы 1", "Задачи 5, 7 и 12 из сборника.")
    return info, b.events


def test_golden_groups() -> None:
    info, events = scenario()
    protocol = assemble_protocol(info, events, form="full")
    text = render_text(protocol)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    first, second = protocol.items
    assert first.groups == ()
    assert [len(w.groups) for w in second.groups] == [2, 1]
    # the moved person is listed where the round left them; the empty document is not attached
    first_round = second.groups[0]
    assert len(first_round.groups[0].members) == 2 and len(first_round.groups[1].members) == 4
    assert first_round.groups[1].document == ""
    assert "Результаты группы 1: Практики" in [d.title for d in protocol.documents]
    assert assemble_protocol(info, list(reversed(events)), form="full") == protocol


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def test_the_assembled_protocol_holds_the_groups_and_their_documents(
    server: LiveServer, cast: Cast
) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    await cast.joined("teacher2")
    plan = [
        {"name": "Практики", "task": "Разобрать задание 21", "members": [cast.key("member")]},
        {"name": "", "task": "Подобрать задачи", "members": [cast.key("teacher2")]},
    ]
    await host.ok("groups.start", {"groups": plan, "duration": 600})
    created = (await host.wait_event(lambda e: e["type"] == "groups.created"))["payload"]["groups"]
    writer = DocPeer(member, created[0]["doc_id"])
    await writer.open()
    assert (await writer.add_paragraph("Памятка по заданию 21 готова"))["ok"] is True
    await host.ok("groups.end")
    await host.wait_event(lambda e: e["type"] == "doc.snapshot" and e["payload"]["reason"] == "groups_ended")
    await host.ok("meeting.end")

    async def assembled() -> str:
        async with server.runtime.db.read() as s:
            row = await s.scalar(select(MeetingProtocol).where(MeetingProtocol.meeting_id == cast.meeting.id))
            return row.text if row is not None else ""

    text = await wait_for(assembled, 30, what="protocol assembled")
    assert "Работа в группах: 2 группы" in text
    assert "1) «Практики»: А.П. Петрова. Задание: Разобрать задание 21." in text
    assert "Памятка по заданию 21 готова" in text
    assert "Итоги — документ «Результаты группы 1: Практики» (в приложениях)." in text
    assert "ИТОГОВЫЙ ТЕКСТ СОВМЕСТНОГО ДОКУМЕНТА «Результаты группы 1: Практики»" in text
