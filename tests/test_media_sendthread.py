"""The SFU's sending thread (realtime/media/_sendthread.c, sendthread.py): datagrams leave in
order from a thread without the GIL, a leg keeps its socket until its last datagram is sent,
bad arguments are typed errors, a forked child gets a thread of its own, and a real
publisher -> SFU -> subscriber flow goes through it (and, switched off, through the loop)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import time
from collections.abc import Iterator

import pytest

from realtime.media import sendthread
from realtime.media.config import MediaConfig
from realtime.media.sfu import Sfu
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.test_media_sfu import join

pytestmark = pytest.mark.skipif(not sendthread.available(), reason="the C extension is not built")


def pair() -> tuple[socket.socket, socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    return receiver, sender


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    receiver, sender = pair()
    yield receiver, sender
    receiver.close()
    sender.close()


def test_datagrams_leave_in_order_with_their_bytes(sockets: tuple[socket.socket, socket.socket]) -> None:
    from realtime.media._dataplane import SendThread

    receiver, sender = sockets
    thread = SendThread(64)
    leg = thread.leg(sender.fileno(), "127.0.0.1", receiver.getsockname()[1])
    buffer = bytearray(1500)
    got: list[bytes] = []
    for burst in range(20):  # bursts of 50 (the ring holds 64; the receiver's buffer ~200 kB)
        for i in range(burst * 50, burst * 50 + 50):
            buffer[0:4] = i.to_bytes(4, "big")
            buffer[4:1200] = bytes([i & 0xFF]) * 1196
            assert thread.push(leg, buffer, 4 + (i % 1196))
        thread.flush()
        for _ in range(50):
            data, source = receiver.recvfrom(2000)
            assert source == sender.getsockname()
            got.append(data)
    numbers = [int.from_bytes(d[:4], "big") for d in got]
    assert numbers == list(range(1000))  # all, in order, none twice
    for data, i in zip(got, numbers, strict=True):
        assert len(data) == 4 + (i % 1196)
        assert data[4:] == bytes([i & 0xFF]) * (len(data) - 4)
    thread.close()
    final = thread.stats()
    assert (
        final["sent"] == 1000
        and final["dropped"] == 0
        and final["pending"] == 0
        and final["send_errors"] == 0
    )
    assert final["running"] is False


def test_a_leg_keeps_its_socket_until_its_datagrams_are_sent(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    from realtime.media._dataplane import SendThread

    receiver, sender = sockets
    thread = SendThread(16)
    leg = thread.leg(sender.fileno(), "127.0.0.1", receiver.getsockname()[1])
    sent_from = sender.getsockname()
    sender.close()  # aioice closed its socket; the leg's duplicate still sends from the same port
    assert thread.push(leg, b"after close", 11)
    thread.flush()
    data, source = receiver.recvfrom(100)
    assert data == b"after close" and source == sent_from
    del leg
    thread.close()


def descriptors_of(sock: socket.socket) -> int:
    """How many of this process's descriptors are that socket (the socket's own and dup()s)."""
    target = os.readlink(f"/proc/self/fd/{sock.fileno()}")  # socket:[inode]
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == target
        except OSError:  # closed meanwhile (another thread's descriptor)
            pass
    return count


def test_a_dropped_leg_closes_its_socket_after_its_last_datagram_even_with_the_ring_full(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    """The Leg object dies with its datagrams still queued and no room left in the ring: its
    release waits behind them, every one is sent from its socket, then its descriptor closes
    (and a hundred legs made and dropped leave no descriptor behind)."""
    from realtime.media._dataplane import SendThread

    receiver, sender = sockets
    thread = SendThread(8)
    assert descriptors_of(sender) == 1
    leg = thread.leg(sender.fileno(), "127.0.0.1", receiver.getsockname()[1])
    assert descriptors_of(sender) == 2  # the leg's own duplicate of the socket
    queued = [i for i in range(8) if thread.push(leg, i.to_bytes(2, "big"), 2)]
    del leg  # no flush: the ring may well be full here
    got = sorted(int.from_bytes(receiver.recvfrom(100)[0], "big") for _ in queued)
    assert got == queued and len(queued) >= 1
    for _ in range(100):
        thread.push(thread.leg(sender.fileno(), "127.0.0.1", receiver.getsockname()[1]), b"x", 1)
    thread.close()  # sends what is queued, the release items included
    assert descriptors_of(sender) == 1
    stats = thread.stats()
    assert stats["send_errors"] == 0 and stats["sent"] == len(queued) + 100 - stats["dropped"]


def test_bad_arguments_are_typed_errors(sockets: tuple[socket.socket, socket.socket]) -> None:
    from realtime.media._dataplane import SendThread

    receiver, sender = sockets
    with pytest.raises(ValueError):
        SendThread(3)  # not a power of two
    thread = SendThread(8)
    port = receiver.getsockname()[1]
    with pytest.raises(ValueError):
        thread.leg(sender.fileno(), "localhost", port)  # names are not resolved here
    with pytest.raises(ValueError):
        thread.leg(sender.fileno(), "127.0.0.1", 0)
    with pytest.raises(OSError):
        thread.leg(-1, "127.0.0.1", port)
    leg = thread.leg(sender.fileno(), "127.0.0.1", port)
    with pytest.raises(TypeError):
        thread.push("not a leg", b"x", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        thread.push(leg, b"abc", 4)  # longer than the buffer
    with pytest.raises(ValueError):
        thread.push(leg, bytes(1600), 1501)  # longer than a datagram
    with pytest.raises(TypeError):
        thread.push(leg, 42, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        thread.emit(leg, 0x80, 96, 1, 1, 1, b"", b"x")  # a leg without an SRTP session
    with pytest.raises(ValueError):
        thread.leg(sender.fileno(), "127.0.0.1", port, 12345)  # a session without its owner
    with pytest.raises(TypeError):
        thread.emit(leg, 0x80, 96, 1, 1, 1, b"")  # type: ignore[call-arg]
    assert thread.stats()["sent"] == 0
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    v6.bind(("::1", 0))
    v6.settimeout(5)
    try:
        assert thread.push(thread.leg(v6.fileno(), "::1", v6.getsockname()[1]), b"v6", 2)
        thread.flush()
        assert v6.recvfrom(10)[0] == b"v6"
    finally:
        v6.close()
        thread.close()


def _child_sends(port: int) -> None:
    sendthread.configure(True)
    thread = sendthread.current()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        thread.push(thread.leg(s.fileno(), "127.0.0.1", port), b"from the child", 14)
        sendthread.flush()
        deadline = time.monotonic() + 5
        while thread.pending() and time.monotonic() < deadline:
            time.sleep(0.01)


def test_a_forked_child_gets_a_thread_of_its_own(sockets: tuple[socket.socket, socket.socket]) -> None:
    receiver, sender = sockets
    # The parent's process-wide thread is running before the fork (as in a forking server).
    parent = sendthread.current()
    assert parent is not None
    parent.push(parent.leg(sender.fileno(), "127.0.0.1", receiver.getsockname()[1]), b"parent", 6)
    sendthread.flush()
    assert receiver.recvfrom(100)[0] == b"parent"
    child = multiprocessing.get_context("fork").Process(
        target=_child_sends, args=(receiver.getsockname()[1],)
    )
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert receiver.recvfrom(100)[0] == b"from the child"


@pytest.mark.parametrize("send_thread", [True, False], ids=["thread", "event-loop"])
async def test_forwarded_media_goes_through_the_thread_when_on(send_thread: bool) -> None:
    sfu = Sfu(MediaConfig(send_thread=send_thread))
    before = sendthread.stats().get("sent", 0)
    alice = ClientPeer()
    alice.publish(ToneTrack(), "mic")
    alice.publish(PatternTrack(), "camera")
    bob = ClientPeer()
    try:
        await join(sfu, 1, "u:1", alice)
        await join(sfu, 1, "u:2", bob)
        await wait_for(
            lambda: bob.frames("video") >= 10 and bob.frames("audio") >= 20, 15, what="media at bob"
        )
        await asyncio.sleep(0.2)
        forwarded = sum(
            slot.packets_sent for peer in sfu.room(1).peers.values() for slot in peer.slots.values()
        )
        through_thread = sendthread.stats().get("sent", 0) - before
        if send_thread:
            assert through_thread >= forwarded * 0.9 > 0
            # one leg (one duplicated socket) per connection, shared by its slots
            bound = [s for s in sfu.room(1).peers["u:2"].slots.values() if s.packets_sent]
            assert len(bound) >= 2
            assert len({id(s._emit.leg) for s in bound}) == 1  # type: ignore[attr-defined]
        else:
            assert through_thread == 0

        # The SFU's sender reports reach Bob (through the thread when on, aiortc's path when off).
        async def sender_reports() -> int:
            stats = await bob.pc.getStats()
            return sum(1 for s in stats.values() if s.type == "remote-outbound-rtp")

        for _ in range(50):  # up to 10 s
            if await sender_reports() >= 2:
                break
            await asyncio.sleep(0.2)
        assert await sender_reports() >= 2
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
        sendthread.configure(True)
