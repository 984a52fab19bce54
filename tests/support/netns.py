"""Impaired networks on one machine: network namespaces joined to the root namespace by a
userspace link that drops, delays, reorders and cuts packets (netem's job, for kernels without
``sch_netem``).

    async with impaired_network(2) as net:           # namespaces smo-nf-<tag>-1, -2
        net.links[0].impair(loss=0.05, delay=0.075, reorder=0.01)
        peer = await NamespaceLoop.start(net.links[0].namespace)
        await peer.run(some_coroutine())            # its sockets live in that namespace
        net.links[0].outage(True)

Topology, per link ``i`` (addresses in 10.213.0.0/16, which exist only in these namespaces
and on this machine's own TUN devices; ``n`` = a free block + i):

    root namespace                       relay (thread)                namespace smo-nf-<tag>-i
    10.213.n.1 on TUN nf<tag>r<i>  <-- read / impair / write -->  10.213.n.2 on TUN nf<tag>p<i>

Each TUN device is a point-to-point interface whose far end is the other TUN: the relay reads
the IP packets one namespace routes into its TUN and writes them, impaired, into the other's.
Everything passes: UDP (ICE, DTLS, SRTP) and TCP (Socket.IO), as through a router with netem
on both interfaces. The namespace has a route for 10.213.0.0/16 only: no default route, so
nothing a namespace sends can leave the machine.

Why not ``tc qdisc ... netem``: this machine's kernel is built without CONFIG_NET_SCH_NETEM
(``tc qdisc add dev lo root netem delay 1ms`` answers "Specified qdisc kind is unknown") and
has no loadable modules; :func:`netem_available` tells which kernel you have. The relay applies
netem's semantics: independent loss per direction, a fixed one-way delay, "reorder p" = a
packet is sent at once (overtaking the delayed ones) with probability p.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import random
import secrets
import shutil
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
PREFIX = "10.213"


def missing_requirements() -> str | None:
    """Why impaired networks cannot be built here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is missing"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no TUN support)"
    return None


def netem_available() -> bool:
    """Whether the kernel has the netem qdisc (checked in a throwaway namespace)."""
    if missing_requirements() or shutil.which("tc") is None:
        return False
    name = f"smo-nf-probe-{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")
        probe = subprocess.run(
            ["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
            capture_output=True,
        )
        return probe.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


@dataclass
class Direction:
    """One direction of a link: its impairment and what happened to its packets."""

    loss: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0
    down: bool = False
    packets: int = 0
    dropped: int = 0
    cut: int = 0  # dropped by an outage
    reordered: int = 0


@dataclass
class Link:
    index: int
    namespace: str
    root_address: str  # the root namespace's end (servers bind here)
    address: str  # the namespace's own address
    root_tun: str
    ns_tun: str
    up: Direction = field(default_factory=Direction)  # namespace -> root
    down: Direction = field(default_factory=Direction)  # root -> namespace
    root_fd: int = -1
    ns_fd: int = -1

    def impair(self, loss: float = 0.0, delay: float = 0.0, reorder: float = 0.0) -> None:
        """The same impairment both ways (delay is one-way: RTT = 2 x delay)."""
        for d in (self.up, self.down):
            d.loss, d.delay, d.reorder = loss, delay, reorder

    def outage(self, on: bool) -> None:
        """Cut (or restore) the link both ways: every packet is dropped silently."""
        self.up.down = self.down.down = on

    def counters(self) -> dict[str, dict[str, int]]:
        return {
            name: {"packets": d.packets, "dropped": d.dropped, "cut": d.cut, "reordered": d.reordered}
            for name, d in (("up", self.up), ("down", self.down))
        }


class Relay:
    """The userspace link: a thread with its own event loop moving packets between TUNs."""

    def __init__(self, links: list[Link], seed: int) -> None:
        self.links = links
        self.random = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="netns-relay", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        for link in self.links:
            self.loop.add_reader(link.ns_fd, self._pump, link.ns_fd, link.root_fd, link.up)
            self.loop.add_reader(link.root_fd, self._pump, link.root_fd, link.ns_fd, link.down)
        self.loop.run_forever()
        self.loop.close()

    def _pump(self, src: int, dst: int, d: Direction) -> None:
        rnd = self.random.random
        for _ in range(256):
            try:
                packet = os.read(src, 65535)
            except (BlockingIOError, OSError):
                return
            d.packets += 1
            if d.down:
                d.cut += 1
                continue
            if d.loss and rnd() < d.loss:
                d.dropped += 1
                continue
            delay = d.delay
            if d.reorder and rnd() < d.reorder:
                delay = 0.0
                d.reordered += 1
            if delay > 0:
                self.loop.call_later(delay, _write, dst, packet)
            else:
                _write(dst, packet)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def _write(fd: int, packet: bytes) -> None:
    with contextlib.suppress(OSError):  # the device went away (teardown) or its queue is full
        os.write(fd, packet)


@dataclass
class ImpairedNetwork:
    tag: str
    links: list[Link]
    relay: Relay


@contextlib.asynccontextmanager
async def impaired_network(count: int, seed: int = 15) -> AsyncIterator[ImpairedNetwork]:
    """``count`` namespaces, each linked to the root namespace through the relay; everything
    (namespaces, TUN devices, the relay thread) is removed on exit, also after a failure."""
    reason = missing_requirements()
    if reason:
        raise RuntimeError(reason)
    tag = secrets.token_hex(2)
    links: list[Link] = []
    created: list[str] = []
    relay: Relay | None = None
    try:
        await asyncio.to_thread(_build, tag, count, links, created)
        relay = Relay(links, seed)
        relay.start()
        yield ImpairedNetwork(tag, links, relay)
    finally:
        await asyncio.to_thread(_teardown, relay, links, created)


def _free_block(count: int) -> int:
    """A third octet ``b`` such that 10.213.b+1 .. b+count are not in use on this machine."""
    listing = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    for block in range(0, 250 - count, count + 1):
        if not any(f" {PREFIX}.{block + i}." in listing for i in range(1, count + 1)):
            return block
    raise RuntimeError(f"no free block of {count} links in {PREFIX}.0.0/16")


def _build(tag: str, count: int, links: list[Link], created: list[str]) -> None:
    block = _free_block(count)
    for i in range(1, count + 1):
        net = f"{PREFIX}.{block + i}"
        link = Link(
            index=i,
            namespace=f"smo-nf-{tag}-{i}",
            root_address=f"{net}.1",
            address=f"{net}.2",
            root_tun=f"nf{tag}r{i}",
            ns_tun=f"nf{tag}p{i}",
        )
        _ip("netns", "add", link.namespace)
        created.append(link.namespace)
        links.append(link)
        ns = ("-n", link.namespace)
        _ip(*ns, "link", "set", "lo", "up")
        link.root_fd = _open_tun(link.root_tun)
        link.ns_fd = _open_tun(link.ns_tun)
        _ip("link", "set", link.ns_tun, "netns", link.namespace)
        _ip("addr", "add", f"{link.root_address}/32", "peer", f"{link.address}/32", "dev", link.root_tun)
        _ip("link", "set", link.root_tun, "up")
        _ip(*ns, "addr", "add", f"{link.address}/32", "peer", f"{link.root_address}/32", "dev", link.ns_tun)
        _ip(*ns, "link", "set", link.ns_tun, "up")
        _ip(*ns, "route", "add", f"{PREFIX}.0.0/16", "dev", link.ns_tun)


def _teardown(relay: Relay | None, links: list[Link], created: list[str]) -> None:
    if relay is not None:
        relay.stop()
    for link in links:
        for fd in (link.root_fd, link.ns_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)  # a non-persistent TUN disappears with its last descriptor
    for name in created:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def leftover_namespaces() -> list[str]:
    """Namespaces of this module still present (the tests check that teardown removed them)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in done.stdout.splitlines() if line.startswith("smo-nf-")]


class NamespaceLoop:
    """An event loop on a thread that entered a network namespace: every socket created by
    coroutines run on it (aiortc's ICE, aiohttp's WebSocket) lives in that namespace, and
    interface enumeration (aioice's host candidates) sees that namespace's interfaces."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self._ready: Future[None] = Future()
        self.thread = threading.Thread(target=self._run, name=f"netns-{namespace}", daemon=True)

    @classmethod
    async def start(cls, namespace: str) -> NamespaceLoop:
        self = cls(namespace)
        self.thread.start()
        await asyncio.wrap_future(self._ready)
        return self

    def _run(self) -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{self.namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({self.namespace}): {os.strerror(err)}")
            finally:
                os.close(fd)
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        asyncio.set_event_loop(self.loop)
        self._ready.set_result(None)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the namespace's loop and await its result from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def call(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    async def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.run(cancel_all()), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 10)
