"""The room across real server processes: kill -9 and restart without losing an acknowledged
event; two processes on one PostgreSQL + Redis where every client sees every event once, in
sequence order."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.proc import ServerProcess, start_server_process
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

FAST_CHAT = {"SMO_CHAT_MESSAGES_PER_10S": "100000"}


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    for c in cast.clients:
        await c.close()


@pytest.fixture
async def processes() -> AsyncIterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for p in started:
        await p.stop()


async def chatter(c: RoomClient, who: str, acked: list[tuple[int, str]], stop: asyncio.Event) -> None:
    """Send messages until told to stop or the server goes away; keep what was acknowledged."""
    i = 0
    while not stop.is_set():
        text = f"{who} {i}"
        try:
            ack = await c.emit_ack("chat.send", {"text": text}, timeout=2)
        except Exception:
            return
        if ack.get("ok"):
            acked.append((ack["seq"], text))
        i += 1


async def test_kill9_mid_meeting_loses_no_acknowledged_event(
    server: LiveServer, cast: Cast, database_url: str, tmp_path: Path, processes: list[ServerProcess]
) -> None:
    secret = server.runtime.secret_key
    a = await start_server_process(database_url, tmp_path / "a", secret_key=secret, extra_env=FAST_CHAT)
    processes.append(a)
    host, _ = await cast.joined("methodist", url=a.url)
    member, _ = await cast.joined("member", url=a.url)
    await host.ok("meeting.start")
    hand = await member.ok("hand.raise")
    acked: list[tuple[int, str]] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(chatter(host, "host", acked, stop)),
        asyncio.create_task(chatter(member, "member", acked, stop)),
    ]
    await wait_for(lambda: len(acked) >= 20, 30, what="messages acknowledged before the kill")
    a.kill9()
    await asyncio.gather(*tasks)
    seen = max(member.seqs() or [0])

    b = await start_server_process(database_url, tmp_path / "b", secret_key=secret, extra_env=FAST_CHAT)
    processes.append(b)
    back = await cast.client("member", b.url).connect()
    ack = await back.ok("join", {"meeting_id": cast.meeting.id, "last_seq": seen})
    replay = (await back.ok("sync", {"last_seq": 0}))["events"]
    seqs = [e["seq"] for e in replay]
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free, no duplicate
    texts = {e["seq"]: e["payload"].get("text") for e in replay if e["type"] == "chat.message"}
    for seq, text in acked:
        assert texts.get(seq) == text, (seq, text)
    assert [e["seq"] for e in ack["events"]] == [s for s in seqs if s > seen]
    assert hand["seq"] in seqs
    fresh = await cast.client("methodist", b.url).connect()
    state = (await fresh.ok("join", {"meeting_id": cast.meeting.id}))["state"]
    assert state["hands"] == [cast.key("member")]
    assert state["meeting"]["status"] == "live"
    await fresh.ok("chat.send", {"text": "после перезапуска"})


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_processes_every_client_sees_every_event_once_in_order(
    server: LiveServer,
    cast: Cast,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    processes: list[ServerProcess],
) -> None:
    secret = server.runtime.secret_key
    prefix = f"t{secrets.token_hex(4)}"
    for name in ("a", "b"):
        p = await start_server_process(
            database_url,
            tmp_path / name,
            secret_key=secret,
            redis_url=redis_url,
            redis_prefix=prefix,
            extra_env=FAST_CHAT,
        )
        processes.append(p)
    a, b = processes
    placement = {"methodist": a, "member": b, "mo_head": a, "teacher2": b, "admin": b, "guest": a}
    clients: dict[str, RoomClient] = {}
    snapshot_seq: dict[str, int] = {}
    for role, proc in placement.items():
        c, ack = await cast.joined(role, url=proc.url)
        clients[role] = c
        snapshot_seq[role] = ack["state"]["last_seq"]
    host = clients["methodist"]
    await host.ok("meeting.start")

    async def burst(role: str) -> None:
        c = clients[role]
        for i in range(8):
            await c.ok("chat.send", {"text": f"{role} {i}"})
            if i == 3:
                await c.ok("hand.raise")
        await c.ok(
            "chat.send",
            {"text": f"{role}: лично", "to": cast.key("teacher2" if role != "teacher2" else "member")},
        )

    # a late joiner comes in on the other process while messages are flowing: its snapshot plus
    # its live stream must have no gap and no duplicate (the fence)
    acked: list[tuple[int, str]] = []
    stop = asyncio.Event()
    flow = asyncio.create_task(chatter(clients["mo_head"], "поток", acked, stop))
    bursts = asyncio.gather(*(burst(role) for role in clients))
    await wait_for(lambda: len(acked) >= 5, 20, what="traffic before the late join")
    late, ack = await cast.joined("teacher3", url=b.url)
    clients["teacher3"] = late
    snapshot_seq["teacher3"] = ack["state"]["last_seq"]
    await bursts
    stop.set()
    await flow
    final = (await host.ok("chat.send", {"text": "конец"}))["seq"]
    for c in clients.values():
        await c.wait_seq(final, timeout=20)

    for role, c in clients.items():
        seqs = c.seqs()
        assert seqs == sorted(set(seqs)), (role, seqs)  # once each, in order
        visible = (await c.ok("sync", {"last_seq": snapshot_seq[role]}))["events"]
        expected = [e["seq"] for e in visible if e["seq"] <= final]
        assert seqs == expected, role
    teacher = cast.key("teacher2")
    private_to_teacher = [
        e for e in clients["teacher2"].of_type("chat.message") if e["payload"]["to"] == teacher
    ]
    assert len(private_to_teacher) == len(placement) - 1
    guest = cast.key("guest")
    assert all(
        e["payload"]["to"] is None or e["actor"] == guest for e in clients["guest"].of_type("chat.message")
    )
    presence: dict[str, Any] = (await clients["admin"].ok("join", {"meeting_id": cast.meeting.id}))["state"]
    assert all(p["connected"] for p in presence["participants"].values()), presence["participants"]
