"""Benchmark: breakout groups' media (docs/groups.md) against one meeting of the same size.

N participants (default 60) each publish a camera (pre-encoded VP8, small: 320×180, 8 fps by default) and
a microphone (Opus, 50 packets/s) and receive with as many slots as the page opens (3 audio,
last_n + 1 video), under the forwarding policy as shipped. The SFU runs in a child process
(``realtime.media.sfu.Sfu``, rooms keyed as in the app: the meeting's id, or (meeting, group));
its CPU is measured alone (``getrusage``). The participants run in this process and count
packets without decoding (bench/sfu.py's technique).

Phases: everyone joins the meeting's main room, which is measured; everyone is moved into G
groups (default 6 × 10), measured again; everyone is moved back. Figures: forwarded packets per
server CPU-second in each layout (goal: groups within 10 % of one meeting), and the time from
the move until every participant receives audio and video from its new room (goal < 2 s each
way). The move is the app's own (``Sfu.move_many``, what the media node does on ``regroup``):
the connections stay, the peers change rooms. A participant counts as moved when the server
has forwarded it audio and a key frame from its new room's people and the participant's own
receivers then count packets on those slots (packets are not decoded). In the app the log's
transaction and the push of the new slot maps come before it (milliseconds).

    .venv/bin/python bench/groups.py [--participants 60] [--groups 6] [--seconds 8] [--fps 8]
        [--batch 20] [--verbose]

The generator is one Python process (at 60 participants near a full core); the forwarding
figures are the server's alone. Figures of a run: docs/groups.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _rtc import Replay, encode_opus, encode_vp8, enlarge_receive_buffers, inbound_totals
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from realtime.media import hooks
from realtime.media.config import MediaConfig
from realtime.media.forwarding import PackOnlyEncoder
from realtime.media.sfu import RoomKey, Sfu

MEETING = 1
WIDTH, HEIGHT = 320, 180


# --- the SFU (child process) -------------------------------------------------------------------
def server_main(conn: Connection) -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    """Requests ``(id, op, ...)`` are handled concurrently (as the app handles each Socket.IO
    message in its own task); replies ``(id, result)``."""
    loop = asyncio.get_running_loop()
    sfu = Sfu(MediaConfig(ice_timeout=60), lambda *a: None)
    tasks: set[asyncio.Task[None]] = set()
    marks: dict[Any, int] = {}  # packets each slot had sent when the last move was made

    async def handle(rid: int, op: str, args: tuple[Any, ...]) -> None:
        if op == "offer":
            key, who, sdp, sources = args
            result: Any = await sfu.room(key).offer(who, sdp, sources)
        elif op == "move":  # {who: room}: the app's move between a meeting's rooms
            (moves,) = args
            marks.clear()
            sfu.move_many(moves)
            for key in [k for k, r in sfu.rooms.items() if r.idle]:  # as the media node reaps
                await sfu.rooms.pop(key).close()
            for room in sfu.rooms.values():
                for peer in room.peers.values():
                    for slot in peer.slots.values():
                        marks[slot] = slot.packets_sent
            result = True
        elif op == "moved":  # who receives audio and video (a key frame on) from their new room
            result = []
            for room in sfu.rooms.values():
                for who, peer in room.peers.items():
                    kinds = {
                        s.kind
                        for s in peer.slots.values()
                        if s.source is not None
                        and getattr(s.source, "participant", None) in room.peers
                        and s.packets_sent > marks.get(s, 0)
                        and not s.waiting_keyframe
                    }
                    if kinds == {"audio", "video"}:
                        result.append(who)
        else:  # stats
            usage = resource.getrusage(resource.RUSAGE_SELF)
            sent = sum(
                s.packets_sent + s.retransmitted
                for room in sfu.rooms.values()
                for p in room.peers.values()
                for s in p.slots.values()
            )
            result = (usage.ru_utime + usage.ru_stime, sent, sorted(map(str, sfu.rooms)))
        conn.send((rid, result))

    while True:
        rid, op, *args = await loop.run_in_executor(None, conn.recv)
        if op == "quit":
            await asyncio.gather(*tasks, return_exceptions=True)
            await sfu.close()
            conn.send((rid, "bye"))
            return
        task = asyncio.ensure_future(handle(rid, op, tuple(args)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


# --- the participants (this process) ----------------------------------------------------------
def encode_media(fps: int, seconds: float = 4.0) -> tuple[list[bytes], list[bytes]]:
    return encode_vp8(WIDTH, HEIGHT, fps, seconds, 250_000), encode_opus()


@dataclass
class Member:
    key: str
    room: RoomKey = MEETING
    pc: RTCPeerConnection | None = None
    audio: int = 0  # packets received on the current connection
    video: int = 0

    @property
    def flowing(self) -> bool:
        return self.audio > 0 and self.video > 0


@dataclass
class Bench:
    args: argparse.Namespace
    conn: Connection
    video: list[bytes]
    audio: list[bytes]
    members: list[Member] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    phases: dict[str, float] = field(default_factory=dict)
    reader: asyncio.Future[None] | None = None
    next_id: int = 0
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)

    async def call(self, *msg: Any) -> Any:
        """A request to the SFU process; several may be in flight (replies carry the id)."""
        loop = asyncio.get_running_loop()
        if self.reader is None:
            self.reader = asyncio.ensure_future(self._read())
        rid = self.next_id = self.next_id + 1
        future = self.waiting[rid] = loop.create_future()
        async with self.lock:
            self.conn.send((rid, *msg))
        return await future

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            rid, result = await loop.run_in_executor(None, self.conn.recv)
            self.waiting.pop(rid).set_result(result)
            if result == "bye":
                return

    async def connect(self, m: Member, room: RoomKey) -> None:
        """The participant's one media connection, offered into ``room``."""
        m.room, m.audio, m.video = room, 0, 0
        pc = m.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        sources = {}
        for kind, frames, rate, step in (
            ("video", self.video, self.args.fps, 90000 // self.args.fps),
            ("audio", self.audio, 50, 960),
        ):
            track = Replay(kind, frames, rate, step)
            t = pc.addTransceiver(track, direction="sendonly")
            hooks.install_sender_encoder(t.sender, PackOnlyEncoder(kind))
            hooks.install_sender_keyframe_hook(t.sender, lambda track=track: setattr(track, "keyframe", True))
            sources[t] = "camera" if kind == "video" else "mic"
        config = MediaConfig()
        for kind in ["audio"] * config.max_audio + ["video"] * (config.last_n + 1):
            t = pc.addTransceiver(kind, direction="recvonly")

            def count(codec: Any, frame: Any, kind: str = kind, pc: RTCPeerConnection = pc) -> None:
                if m.pc is pc:
                    if kind == "audio":
                        m.audio += 1
                    else:
                        m.video += 1

            hooks.install_receiver_passthrough(t.receiver, count)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await self.call(
            "offer", room, m.key, pc.localDescription.sdp, {str(t.mid): s for t, s in sources.items()}
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        enlarge_receive_buffers([pc])

    async def join(self, rooms: list[RoomKey]) -> float:
        """Everyone connects into their room; seconds until everyone receives audio and video."""
        t0 = time.monotonic()
        batch = self.args.batch
        for i in range(0, len(self.members), batch):
            await asyncio.gather(
                *(
                    self.connect(m, r)
                    for m, r in zip(self.members[i : i + batch], rooms[i : i + batch], strict=True)
                )
            )
        self.phases = {"offered": time.monotonic() - t0}
        deadline = t0 + 120
        while not all(m.flowing for m in self.members):
            if "audio" not in self.phases and all(m.audio for m in self.members):
                self.phases["audio"] = time.monotonic() - t0
            if "connected" not in self.phases and all(
                m.pc is not None and m.pc.connectionState == "connected" for m in self.members
            ):
                self.phases["connected"] = time.monotonic() - t0
            if self.args.verbose and int((time.monotonic() - t0) * 50) % 250 == 0:
                waiting = [m for m in self.members if not m.flowing]
                states = sorted({m.pc.connectionState if m.pc else "-" for m in waiting})
                print(f"  {time.monotonic() - t0:.0f} s: {len(waiting)} waiting {states}", flush=True)
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"media did not flow again: {sum(not m.flowing for m in self.members)} waiting"
                )
            await asyncio.sleep(0.02)
        self.phases["flowing"] = time.monotonic() - t0
        print("join phases:", {k: round(v, 2) for k, v in self.phases.items()})
        return time.monotonic() - t0

    async def move(self, rooms: list[RoomKey]) -> float:
        """Everyone into their new room over their connection; seconds until the server forwards
        each of them audio and video from the new room and each receives it."""
        t0 = time.monotonic()
        await self.call("move", {m.key: r for m, r in zip(self.members, rooms, strict=True)})
        for m, r in zip(self.members, rooms, strict=True):
            m.room = r
        moved_call = time.monotonic() - t0
        deadline = t0 + 60
        while len(await self.call("moved")) < len(self.members):
            if time.monotonic() > deadline:
                raise SystemExit("media did not flow in the new rooms within 60 s")
            await asyncio.sleep(0.02)
        forwarded = time.monotonic() - t0
        counts = [(m.audio, m.video) for m in self.members]
        while any(m.audio <= a or m.video <= v for m, (a, v) in zip(self.members, counts, strict=True)):
            if time.monotonic() > deadline:
                stalled = [
                    (m.key, m.audio - a, m.video - v)
                    for m, (a, v) in zip(self.members, counts, strict=True)
                    if m.audio <= a or m.video <= v
                ]
                raise SystemExit(f"the participants did not receive media in the new rooms: {stalled}")
            await asyncio.sleep(0.02)
        took = time.monotonic() - t0
        print(
            f"move: server moved in {moved_call:.3f} s, forwarding from new rooms at {forwarded:.2f} s, "
            f"received at {took:.2f} s"
        )
        return took

    async def measure(self, label: str) -> dict[str, Any]:
        await asyncio.sleep(self.args.settle)
        cpu0, sent0, rooms = await self.call("stats")
        t0, mine0 = time.monotonic(), time.process_time()
        await asyncio.sleep(self.args.seconds)
        cpu1, sent1, _ = await self.call("stats")
        elapsed, mine = time.monotonic() - t0, time.process_time() - mine0
        cpu, forwarded = cpu1 - cpu0, sent1 - sent0
        lost, received = await inbound_totals([m.pc for m in self.members if m.pc is not None])
        return {
            "layout": label,
            "rooms": len(rooms),
            "forwarded_pps": round(forwarded / elapsed),
            "server_cpu_share": round(cpu / elapsed, 3),
            "packets_per_cpu_second": round(forwarded / cpu) if cpu else None,
            "generator_cpu_share": round(mine / elapsed, 3),
            "loss_share": round(lost / (lost + received), 4) if lost + received else 0.0,
        }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=60)
    ap.add_argument("--groups", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--settle", type=float, default=3, help="seconds after a move before measuring")
    # 8 fps: at 15 the one generator process cannot receive 60 people's video on this 2-core
    # machine (its receivers fall behind and stop assembling frames), which measures the
    # generator, not the server.
    ap.add_argument("--fps", type=int, default=8)
    ap.add_argument(
        "--batch", type=int, default=20, help="connections offered at once (the generator is one process)"
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    video, audio = encode_media(args.fps)
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=server_main, args=(child,), daemon=True)
    proc.start()
    bench = Bench(args, parent, video, audio)
    bench.members = [Member(f"u:{i + 1}") for i in range(args.participants)]
    main_room: list[RoomKey] = [MEETING] * args.participants
    group_rooms: list[RoomKey] = [(MEETING, 1 + i % args.groups) for i in range(args.participants)]
    try:
        first_join = await bench.join(main_room)
        one = await bench.measure("one meeting")
        into = await bench.move(group_rooms)
        groups = await bench.measure(f"{args.groups} groups")
        back = await bench.move(main_room)
        _, _, rooms_after = await bench.call("stats")
    finally:
        for m in bench.members:
            if m.pc is not None:
                await m.pc.close()
        await bench.call("quit")
        if bench.reader is not None:
            await bench.reader
        proc.join(5)
    ratio = (
        round(groups["packets_per_cpu_second"] / one["packets_per_cpu_second"], 3)
        if one["packets_per_cpu_second"] and groups["packets_per_cpu_second"]
        else None
    )
    for r in (one, groups):
        print(
            f"{r['layout']:>12}: {r['rooms']} room(s), {r['forwarded_pps']} pkt/s forwarded, server "
            f"{r['server_cpu_share'] * 100:.0f}% of a core, {r['packets_per_cpu_second']} pkt per CPU-s, "
            f"loss {r['loss_share'] * 100:.2f}%, generator {r['generator_cpu_share'] * 100:.0f}% of a core"
        )
    print(
        f"first join {first_join:.2f} s; into groups {into:.2f} s; back {back:.2f} s; rooms after: {rooms_after}"
    )
    summary = {
        "participants": args.participants,
        "groups": args.groups,
        "one_meeting": one,
        "in_groups": groups,
        "packets_per_cpu_second_ratio": ratio,
        "move_into_groups_seconds": round(into, 2),
        "move_back_seconds": round(back, 2),
        "rooms_after": rooms_after,
        "goals": {
            "forwarding_within_10_percent": ratio is not None and ratio >= 0.9,
            "moves_under_2_s": into < 2 and back < 2,
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
