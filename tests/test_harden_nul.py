"""A NUL character in any inbound text (PostgreSQL's text cannot hold one, and no browser sends
one) is refused at the edge as ``validation_failed`` / ``control_chars`` and changes nothing:
in room messages, however deep, and in forms; on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.db.models import Association, MeetingEvent
from server.errors import nul_field
from tests.support.client import WebClient
from tests.support.factories import logged_in_client, make_user
from tests.support.live import LiveServer
from tests.support.room_seed import seed_cast
from tests.test_accounts import GOOD, count_users
from tests.test_admin import NEW


def test_the_first_field_holding_a_nul_is_named() -> None:
    assert nul_field({"text": "ok", "poll": {"options": ["да", "н\x00ет"]}}) == "poll.options.1"
    assert nul_field({"k\x00": "v"}) == "k\x00"
    assert nul_field("a\x00") == "_"
    assert nul_field({"text": "всё хорошо", "n": 3, "b": b"\x00"}) is None  # bytes are not text


async def test_room_messages_with_a_nul_are_refused(server: LiveServer) -> None:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    try:
        host, _ = await cast.joined("methodist")
        await host.ok("meeting.start")
        ack = await host.emit_ack("chat.send", {"text": "при\x00вет"})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_failed", ack
        assert ack["error"]["details"]["fields"] == {"text": "control_chars"}
        ack = await host.emit_ack(
            "poll.create", {"question": "Утвердить?", "options": ["За", "Про\x00тив"], "kind": "single"}
        )
        assert ack["ok"] is False and ack["error"]["details"]["fields"] == {"options.1": "control_chars"}, ack
        await host.ok("chat.send", {"text": "привет"})  # the connection is fine
        async with server.runtime.db.read() as session:
            chats = await session.scalar(
                select(func.count()).select_from(MeetingEvent).where(MeetingEvent.type == "chat.message")
            )
            polls = await session.scalar(
                select(func.count()).select_from(MeetingEvent).where(MeetingEvent.type.like("poll.%"))
            )
        assert chats == 1 and polls == 0
    finally:
        await cast.close_all(server.runtime.sio)


@pytest.mark.parametrize("field", ["name", "description", "place"])
async def test_forms_with_a_nul_are_refused(server: LiveServer, field: str) -> None:
    await make_user(server.runtime.db, "admin@example.org", is_admin=True)
    admin = await logged_in_client(server, "admin@example.org")
    try:
        data: dict[str, Any] = {**NEW, field: f"{NEW[field][:5]}\x00{NEW[field][5:]}"}
        r = await admin.submit("/admin/associations/new", data)
        assert r.status_code == 422 and "Проверьте правильность заполнения полей" in r.text, r.status_code
        r = await admin.submit("/admin/associations/new", data, headers={"Accept": "application/json"})
        error = r.json()["error"]
        assert error["code"] == "validation_failed" and error["details"]["fields"] == {field: "control_chars"}
        async with server.runtime.db.read() as session:
            assert await session.scalar(select(func.count(Association.id))) == 0
        assert (await admin.submit("/admin/associations/new", NEW)).status_code == 303
    finally:
        await admin.aclose()


async def test_registration_with_a_nul_is_refused(server: LiveServer, client: WebClient) -> None:
    r = await client.submit("/register", {**GOOD, "last_name": "Иван\x00ов"})
    assert r.status_code == 422 and "Проверьте правильность заполнения полей" in r.text
    assert await count_users(server) == 0
