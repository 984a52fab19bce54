"""Hypothesis over every room message: malformed payloads (random JSON, wrong types, huge
strings, unknown fields, unknown message names) get a typed error acknowledgement, change
nothing, and the connection keeps working. ``make fuzz`` raises the number of examples."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from realtime.meeting.registry import all_handlers
from server.db.models import Meeting
from tests.support.fuzzing import draws_beside_the_server
from tests.support.live import LiveServer
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

FUZZ_EXAMPLES = int(os.environ.get("SMO_FUZZ_EXAMPLES", "300"))
OTHER_AREAS = ("poll.", "vote.", "media.", "doc.", "mic.", "screen.")
ROOM_MESSAGES = sorted(n for n in all_handlers() if not n.startswith(OTHER_AREAS))
TYPED = {"validation_failed", "unknown_event"}

# Under the transport limit (max_http_buffer_size 1 MB: a bigger packet closes the connection).
huge = st.sampled_from(["x" * 2001, "я" * 5000, "\u0000" * 10, "<script>alert(1)</script>" * 100])
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    huge,
)
json_values = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def payloads(name: str) -> st.SearchStrategy[Any]:
    """Random JSON, and objects with the schema's own field names holding random values."""
    fields = list(all_handlers()[name].schema.model_fields)
    shaped = st.fixed_dictionaries(
        {}, optional={f: json_values for f in fields} | {"extra": json_values, "": json_values}
    )
    return st.one_of(json_values, shaped)


def schema_accepts(name: str, payload: Any) -> bool:
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return False
    try:
        all_handlers()[name].schema.model_validate(payload)
    except ValidationError:
        return False
    return True


@pytest.fixture
async def room(server: LiveServer) -> AsyncIterator[tuple[Cast, RoomClient]]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    yield cast, host
    await cast.close_all(server.runtime.sio)


async def last_seq(server: LiveServer, meeting_id: int) -> int:
    async with server.runtime.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.last_seq


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@draws_beside_the_server
async def test_fuzz_every_room_message(server: LiveServer, room: tuple[Cast, RoomClient]) -> None:
    cast, host = room
    loop = asyncio.get_running_loop()
    before = await last_seq(server, cast.meeting.id)

    def call(name: str, payload: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(host.emit_ack(name, payload), loop).result(30)

    def check(ack: Any) -> None:
        assert isinstance(ack, dict) and ack.get("ok") is False, ack
        error = ack["error"]
        assert error["code"] in TYPED, ack
        assert error["message_ru"] and error["message_en"] and not error["message_ru"].startswith("error.")

    def fuzz(name: str) -> None:
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.filter_too_much,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(payload=payloads(name))
        def one(payload: Any) -> None:
            assume(not schema_accepts(name, payload))
            check(call(name, payload))

        one()

    @settings(max_examples=max(FUZZ_EXAMPLES // 3, 20), deadline=None, database=None)
    @given(name=st.text(max_size=40), payload=json_values)
    def unknown(name: str, payload: Any) -> None:
        assume(name not in all_handlers() and name not in ("connect", "disconnect", "connect_error"))
        check(call(name, payload))

    for name in ROOM_MESSAGES:
        await asyncio.to_thread(fuzz, name)
        assert (await host.ok("sync", {"last_seq": before}))["events"] == []  # still works, nothing new
    await asyncio.to_thread(unknown)
    assert await last_seq(server, cast.meeting.id) == before
    assert host.connected
    # several arguments and a non-object are typed errors too
    for args in (("chat.send", {"text": "a"}, {"text": "b"}), ("chat.send", "text"), ("chat.send", [1, 2])):
        ack = await host.sio.call(args[0], args[1:] if len(args) > 2 else args[1], timeout=10)
        check(ack)
    await host.ok("chat.send", {"text": "соединение живо"})
