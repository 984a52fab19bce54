"""Micro-benchmark: the SFU's per-packet forwarding path alone, split into its parts.

One video publication (1,100-byte VP8 payloads) forwarded to S slots through the production
code: ``Publication.on_packet`` -> ``SlotTrack.forward`` -> ``hooks.rtp_emitter`` (header
packed into the SRTP buffer, payload copied, libsrtp AES-GCM protect, ``sendto``). Three
emitters, so the cost splits into the Python of the path, the SRTP protect and the kernel's
send:

- ``python``: the emit is a no-op (on_packet + forward only);
- ``srtp``: the real fused emit with a socket whose ``sendto`` does nothing;
- ``send``: the real fused emit on a UDP socket to a local socket nobody reads (the kernel's
  send without waking a receiver; on loopback with a reader the receive path runs inside
  the sender's ``sendto`` too, see docs/media.md);
- ``thread``: as shipped, the sending thread's emit (``SendThread.emit``: header, payload
  and libsrtp's protect in its ring, on this thread) and its ``sendto`` on the other thread,
  to the same unread socket. Two figures: this (the event loop's) thread's CPU per packet
  (``thread_loop``, ``time.thread_time``) and the whole process's (``thread``, both threads,
  ``getrusage``), the ring drained before the clock stops; the feeding pauses whenever half
  the ring is queued, so nothing is dropped.

    .venv/bin/python bench/forwarding.py [--slots 40] [--packets 20000] [--rounds 5]

Each mode runs ``--rounds`` times, interleaved; the JSON has the median µs per forwarded
packet of each mode and the differences (SRTP, send).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import socket
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aioice.ice import StunProtocol
from aiortc.rtp import RtpPacket
from pylibsrtp import Policy, Session

from realtime.media import hooks, sendthread
from realtime.media.config import MediaConfig
from realtime.media.forwarding import SlotTrack
from realtime.media.peer import Publication

EXT = b"\xbe\xde\x00\x01\x10\x35\x00\x00"  # MID "5" (id 1), padded: what a leg's packets carry


class NullSocket:
    def sendto(self, data: Any, addr: Any) -> None:
        pass


def bound_slot(mode: str, target: tuple[str, int], sock: socket.socket) -> SlotTrack:
    """A slot bound as ``SlotTrack._bind`` does, with its own SRTP session (AES-128-GCM)."""
    slot = SlotTrack("video", "5")
    slot._ext = EXT
    slot._b0, slot._hlen = 0x90, 12 + len(EXT)
    slot._header = header = __import__("struct").Struct(f"!BBHII{len(EXT)}s")
    slot._pt, slot._ssrc = 96, secrets.randbits(32)
    pair = SimpleNamespace(protocol=StunProtocol(None), remote_addr=target)  # type: ignore[arg-type]
    raw = sock if mode in ("send", "thread") else NullSocket()
    pair.protocol.transport = SimpleNamespace(
        _sock=raw, get_extra_info=lambda key: raw if key == "socket" else None
    )
    slot._pair = pair
    slot._nominated = {1: pair}
    if mode == "python":
        slot._emit = lambda b0, b1, seq, ts, ssrc, ext, payload: None
    else:
        policy = Policy(
            key=os.urandom(28),
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        )
        session = Session(policy)
        slot.__dict__["_bench_session"] = session  # the emitter holds libsrtp's context, not the session
        # with the sending thread (mode "thread") the emit as shipped: SendThread.emit on the leg
        thread = sendthread.current() if mode == "thread" else None
        slot._emit = hooks.rtp_emitter(session, header, None, pair, thread)  # type: ignore[arg-type]
    slot._bound = True
    slot._waiting_keyframe = False
    return slot


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(mode: str, slots: int, packets: int) -> tuple[float, float]:
    """µs per forwarded packet (on_packet's work per publisher packet shared by its slots): the
    elapsed time, or for ``thread`` this thread's CPU; and the process's CPU."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    room = SimpleNamespace(config=MediaConfig(max_packets_per_second=10**9), spawn=lambda c: c.close())
    pub = Publication(room, "u:1", "video", "camera", "0", None, 96)  # type: ignore[arg-type]
    for _ in range(slots):
        slot = bound_slot(mode, rx.getsockname(), tx)
        slot.assign(pub)
        slot._waiting_keyframe = False
        pub.slots.add(slot)
    payload = bytes([0x80, 0x80, 0x81, 0x02]) + os.urandom(1100)
    batch = []
    for i in range(packets):
        p = RtpPacket(payload_type=96, sequence_number=i & 0xFFFF, timestamp=(i // 3) * 3000, ssrc=1234)
        p.marker = int(i % 3 == 2)
        p.payload = payload
        batch.append(p)
    thread = sendthread.current() if mode == "thread" else None
    cpu0, loop0, started = process_cpu(), time.thread_time(), time.perf_counter()
    if thread is None:
        for p in batch:
            pub.on_packet(p, b"")
    else:
        half = sendthread.CAPACITY // 2
        for p in batch:
            pub.on_packet(p, b"")  # its fan-out ends with sendthread.flush()
            while thread.pending() > half:
                time.sleep(0.0005)
        while thread.pending():
            time.sleep(0.0005)
        if thread.stats()["dropped"]:
            raise SystemExit("the sending thread's ring overflowed: the figures would not count every packet")
    elapsed = time.perf_counter() - started
    loop, cpu = time.thread_time() - loop0, process_cpu() - cpu0
    rx.close()
    tx.close()
    n = packets * slots
    return (loop if thread is not None else elapsed) / n * 1e6, cpu / n * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=40)
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    modes = ("python", "srtp", "send", "thread")
    times: dict[str, list[float]] = {m: [] for m in (*modes, "thread_loop")}
    if not sendthread.available():
        raise SystemExit("the sending thread is not built (realtime/media/_sendthread.c): make install")
    for _ in range(args.rounds):
        for m in modes:
            own, cpu = run(m, args.slots, args.packets // args.slots * 10)
            if m == "thread":
                times["thread_loop"].append(own)
                times["thread"].append(cpu)
            else:
                times[m].append(own)
    med = {m: round(statistics.median(v), 2) for m, v in times.items()}
    for m in times:
        print(f"{m:11}: {med[m]} µs per forwarded packet (runs: {[round(x, 2) for x in times[m]]})")
    print(
        json.dumps(
            {
                "bench": "forwarding",
                "slots": args.slots,
                "load_average": os.getloadavg()[0],
                "us_per_packet": med,
                "python_us": med["python"],
                "srtp_us": round(med["srtp"] - med["python"], 2),
                "send_us": round(med["send"] - med["srtp"], 2),
                "thread_loop_us": med["thread_loop"],
                "thread_process_us": med["thread"],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
