"""doc.awareness edge cases over the real server with Python clients: a removed client's state
(null) is relayed and applied; malformed awareness gets a typed error, never a traceback."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator

import pytest
from pycrdt import Decoder, Encoder, write_message

from realtime.docs.rooms import doc_rooms
from tests.support.doc_peer import DocPeer
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


async def peer(cast: Cast, role: str, doc_id: int | None = None) -> DocPeer:
    c, _ = await cast.joined(role)
    docs = (await c.ok("doc.list"))["documents"]
    p = DocPeer(c, doc_id or docs[0]["id"])
    await p.open()
    return p


def awareness(entries: list[tuple[int, int, bytes]]) -> str:
    """A y-websocket awareness message; each state is raw bytes (so malformed ones too)."""
    enc = Encoder()
    enc.write_var_uint(len(entries))
    for client_id, clock, state in entries:
        enc.write_var_uint(client_id)
        enc.write_var_uint(clock)
        enc.write_var_uint(len(state))
        enc.stream.append(state)
    return base64.b64encode(bytes([1]) + write_message(enc.to_bytes())).decode()


def relayed(item: str) -> list[tuple[int, int, str]]:
    update = Decoder(base64.b64decode(item)[1:]).read_message()
    d = Decoder(update or b"")
    return [(d.read_var_uint(), d.read_var_uint(), d.read_var_string()) for _ in range(d.read_var_uint())]


async def test_removed_state_is_relayed_and_applied(server: LiveServer, cast: Cast) -> None:
    host = await peer(cast, "methodist")
    member = await peer(cast, "member", host.doc_id)
    state = json.dumps({"user": {"name": "x", "color": "#1f6feb"}, "cursor": None}).encode()
    await member.client.ok("doc.awareness", {"doc_id": host.doc_id, "data": awareness([(4242, 1, state)])})
    await wait_for(lambda: len(host.awareness) == 1, 10, what="state relayed")
    room = doc_rooms(server.runtime).held(host.doc_id)
    assert room is not None and 4242 in room.get_awareness().states
    # The tab's editor closes: y-protocols sends the removal as the JSON text "null", clock + 1.
    ack = await member.client.emit_ack(
        "doc.awareness", {"doc_id": host.doc_id, "data": awareness([(4242, 2, b"null")])}
    )
    assert ack == {"ok": True}, ack
    await wait_for(lambda: len(host.awareness) == 2, 10, what="removal relayed")
    assert relayed(host.awareness[1]) == [(4242, 2, "null")]
    assert 4242 not in room.get_awareness().states
    # ... an empty state string means the same.
    await member.client.ok("doc.awareness", {"doc_id": host.doc_id, "data": awareness([(4243, 1, state)])})
    await member.client.ok("doc.awareness", {"doc_id": host.doc_id, "data": awareness([(4243, 2, b"")])})
    await wait_for(lambda: len(host.awareness) == 4, 10, what="second removal relayed")
    assert relayed(host.awareness[3]) == [(4243, 2, "null")]
    # A late opener is not told about the removed clients.
    late = await peer(cast, "mo_head", host.doc_id)
    assert late.open_ack["awareness"] is None


async def test_malformed_awareness_gets_a_typed_error(
    server: LiveServer, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    host = await peer(cast, "methodist")
    member = await peer(cast, "member", host.doc_id)
    bad = [
        [(1, 1, b"{not json")],  # not JSON
        [(1, 1, b'{"user": "\xff\xfe"}')],  # not UTF-8
        [(1, 1, b"[1, 2]")],  # JSON, not an object
        [(1, 1, b'"null"')],  # a JSON string
        [(1, 1, b"1" * 5000)],  # an integer too long to parse
        [(1, 1, b"[" * 3000 + b"]" * 3000)],  # nested past the recursion limit
    ]
    with caplog.at_level(logging.ERROR):
        for entries in bad:
            ack = await member.client.emit_ack(
                "doc.awareness", {"doc_id": host.doc_id, "data": awareness(entries)}
            )
            assert ack["ok"] is False and ack["error"]["code"] in (
                "doc_update_malformed",
                "doc_update_too_large",
            ), (
                entries,
                ack,
            )
        # Framing: a state longer than the message, a count with no entries.
        truncated = base64.b64encode(bytes([1]) + write_message(b"\x01\x01\x01\x09null")).decode()
        missing = base64.b64encode(bytes([1]) + write_message(b"\x02\x01\x01\x04null")).decode()
        for data in (truncated, missing):
            ack = await member.client.emit_ack("doc.awareness", {"doc_id": host.doc_id, "data": data})
            assert ack["ok"] is False and ack["error"]["code"] == "doc_update_malformed", ack
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert host.awareness == []  # nothing malformed was relayed
