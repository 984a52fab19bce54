"""Hypothesis over the poll messages: malformed payloads get ``validation_failed`` and change
nothing; well-formed but arbitrary ones (unknown polls, odd option indexes, any flags) get a
typed answer, never ``internal``; the connection keeps working. ``SMO_FUZZ_EXAMPLES`` raises
the number of examples (``make fuzz``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from realtime.meeting.registry import all_handlers
from server.db.models import Meeting, Poll
from tests.support.fuzzing import draws_beside_the_server
from tests.support.live import LiveServer
from tests.test_polls_support import DECISION, close_all, create_open, make_world

FUZZ_EXAMPLES = int(os.environ.get("SMO_FUZZ_EXAMPLES", "150"))
MESSAGES = ("poll.create", "poll.open", "poll.close", "vote.cast")
SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
)

huge = st.sampled_from(["x" * 1001, "я" * 5000, "\u0000", "<script>alert(1)</script>" * 50])
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    huge,
)
json_values = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def malformed(name: str) -> st.SearchStrategy[Any]:
    fields = list(all_handlers()[name].schema.model_fields)
    shaped = st.fixed_dictionaries({}, optional={f: json_values for f in fields} | {"extra": json_values})
    return st.one_of(json_values, shaped)


def accepted(name: str, payload: Any) -> bool:
    try:
        all_handlers()[name].schema.model_validate(payload if payload is not None else {})
    except ValidationError:
        return False
    return True


small_ids = st.integers(min_value=1, max_value=12)
well_formed: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "poll.create": st.fixed_dictionaries(
        {
            "question": st.text(min_size=1, max_size=50),
            "kind": st.sampled_from(["decision", "single", "multiple"]),
        },
        optional={
            "options": st.lists(st.text(min_size=1, max_size=20), max_size=6),
            "secret": st.booleans(),
            "agenda_item_id": small_ids,
            "rule": st.sampled_from(["majority_cast", "majority_present", "two_thirds"]),
            "guests_vote": st.booleans(),
            "allow_change": st.booleans(),
            "closes_in_seconds": st.integers(min_value=1000, max_value=86400),
        },
    ),
    "poll.open": st.fixed_dictionaries({"poll_id": small_ids}),
    "poll.close": st.fixed_dictionaries({"poll_id": small_ids}),
    "vote.cast": st.fixed_dictionaries(
        {
            "poll_id": small_ids,
            "choices": st.lists(st.integers(min_value=-2, max_value=25), min_size=1, max_size=5),
        }
    ),
}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@draws_beside_the_server
async def test_fuzz_poll_messages(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Thousands of messages from one person: the room's per-message limits would refuse most of
    # them (tests/test_harden_room.py tests the limits); here the handlers are under test.
    monkeypatch.setattr(server.runtime.settings, "room_rate_factor", 1000.0)
    world = await make_world(server, members=1)
    host = await world.room("methodist")
    try:
        await create_open(host)  # something to vote in
        loop = asyncio.get_running_loop()

        def call(name: str, payload: Any) -> dict[str, Any]:
            return asyncio.run_coroutine_threadsafe(host.call(name, payload), loop).result(30)

        async def last_seq() -> int:
            async with server.runtime.db.read() as s:
                meeting = await s.get(Meeting, world.meeting_id)
                assert meeting is not None
                return meeting.last_seq

        def fuzz_malformed(name: str) -> None:
            @SETTINGS
            @given(payload=malformed(name))
            def one(payload: Any) -> None:
                assume(not accepted(name, payload))
                ack = call(name, payload)
                assert ack["ok"] is False and ack["error"]["code"] == "validation_failed", (
                    name,
                    payload,
                    ack,
                )
                assert not ack["error"]["message_ru"].startswith("error.")

            one()

        def fuzz_well_formed(name: str) -> None:
            @SETTINGS
            @given(payload=well_formed[name])
            def one(payload: dict[str, Any]) -> None:
                ack = call(name, payload)
                if not ack["ok"]:
                    code = ack["error"]["code"]
                    assert code != "internal", (name, payload, ack)
                    assert not ack["error"]["message_ru"].startswith("error."), ack

            one()

        before = await last_seq()
        for name in MESSAGES:
            await asyncio.to_thread(fuzz_malformed, name)
        assert await last_seq() == before  # nothing malformed changed anything
        for name in MESSAGES:
            await asyncio.to_thread(fuzz_well_formed, name)
        async with server.runtime.db.read() as s:
            assert (await s.scalar(select(func.count(Poll.id)))) >= 1
        assert (await host.call("poll.create", DECISION))["ok"]  # the connection still works
    finally:
        await close_all([host])
