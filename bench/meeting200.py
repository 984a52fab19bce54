"""Benchmark: one meeting of many participants through the SFU on this machine.

A presenter publishes 360p video (≈ 2.5 kB/frame, 30 fps) and a screen share (≈ 6 kB/frame,
5 fps); two participants keep their microphones open (Opus, 50 packets/s); everyone receives
three audio and two video slots. Media is synthetic and pre-built: the SFU never decodes, so
frames are opaque bytes carrying their send time, which gives the added latency (publisher
send -> subscriber frame reassembled). The SFU runs in a child process (its CPU measured
alone); all participants run in this process with counting receivers (no decoding). Latency is
taken when the first packet of a frame arrives at a subscriber (before its jitter buffer).

If the load generator cannot keep up (it receives N × ~150 packets/s), the figures that carry
over are the SFU's CPU per participant and per forwarded packet: capacity ≈ 1 / share.

    .venv/bin/python bench/meeting200.py [--participants 200] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import statistics
import struct
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _rtc import inbound_totals
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import vp8_depayload
from aiortc.mediastreams import MediaStreamTrack

from realtime.media import hooks
from realtime.media.config import MediaConfig
from realtime.media.forwarding import EncodedFrame, PackOnlyEncoder
from realtime.media.room import MediaRoom


def server_main(conn: Connection) -> None:
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    room = MediaRoom(1, MediaConfig(ice_timeout=120), lambda *a: None)
    while True:
        msg = await loop.run_in_executor(None, conn.recv)
        if msg[0] == "offer":
            conn.send(await room.offer(msg[1], msg[2], msg[3]))
        elif msg[0] == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            sent = sum(s.packets_sent for p in room.peers.values() for s in p.slots.values())
            conn.send((usage.ru_utime + usage.ru_stime, sent, len(room.peers)))
        else:
            await room.close()
            conn.send("bye")
            return


class Synthetic(MediaStreamTrack):
    """Opaque frames: a VP8 key-frame tag, the send time, padding."""

    def __init__(self, kind: str, size: int, rate: float, step: int) -> None:
        super().__init__()
        self.kind = kind
        self.size, self.rate, self.step = size, rate, step
        self.i = 0
        self.start = time.monotonic()

    async def recv(self) -> EncodedFrame:  # type: ignore[override]
        wait = self.start + self.i / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.i += 1
        head = b"\x10" + struct.pack("!d", time.monotonic())
        return EncodedFrame(head + bytes(self.size - len(head)), self.i * self.step)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()

    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=server_main, args=(child,), daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()

    async def call(*msg: Any) -> Any:
        parent.send(msg)
        return await loop.run_in_executor(None, parent.recv)

    pcs: list[RTCPeerConnection] = []
    latencies: list[float] = []
    frames = {"video": 0, "audio": 0}
    per_peer: dict[str, int] = {}

    def sink(kind: str, key: str) -> Any:
        def on_frame(codec: Any, frame: Any) -> None:
            frames[kind] += 1
            if kind == "video":
                per_peer[key] = per_peer.get(key, 0) + 1

        return on_frame

    def first_packet(packet: Any) -> None:
        """The first packet of a frame carries its send time (after the VP8 descriptor)."""
        try:
            data = vp8_depayload(packet.payload)
        except ValueError:
            return
        if len(data) >= 9 and data[0] == 0x10:
            latencies.append(time.monotonic() - struct.unpack("!d", data[1:9])[0])

    async def join(key: str, publish: list[tuple[str, Synthetic]]) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pcs.append(pc)
        sources = {}
        for source, track in publish:
            t = pc.addTransceiver(track, direction="sendonly")
            hooks.install_sender_encoder(t.sender, PackOnlyEncoder(track.kind))
            sources[t] = source
        for kind, n in (("audio", 3), ("video", 2)):
            for _ in range(n):
                t = pc.addTransceiver(kind, direction="recvonly")
                hooks.install_receiver_passthrough(t.receiver, sink(kind, key))
                if kind == "video":
                    hooks.install_receiver_tap(t.receiver, first_packet)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await call(
            "offer", key, pc.localDescription.sdp, {str(t.mid): s for t, s in sources.items()}
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    t0 = time.monotonic()
    await join(
        "u:1",
        [("camera", Synthetic("video", 2500, 30, 3000)), ("screen", Synthetic("video", 6000, 5, 18000))],
    )
    await join("u:2", [("mic", Synthetic("audio", 80, 50, 960))])
    await join("u:3", [("mic", Synthetic("audio", 80, 50, 960))])
    for i in range(4, args.participants + 1):
        await join(f"u:{i}", [])
    print(f"{args.participants} participants connected in {time.monotonic() - t0:.1f}s")
    await asyncio.sleep(3)
    cpu0, sent0, peers = await call("stats")
    f0, lat0, mine0, w0 = dict(frames), len(latencies), time.process_time(), time.monotonic()
    await asyncio.sleep(args.seconds)
    cpu1, sent1, _ = await call("stats")
    counts = sorted(per_peer.get(f"u:{i}", 0) for i in range(2, args.participants + 1))
    print("video frames per subscriber (min, median, max):", counts[0], counts[len(counts) // 2], counts[-1])
    print("client connection states:", sorted({pc.connectionState for pc in pcs}))
    elapsed, mine = time.monotonic() - w0, time.process_time() - mine0
    lost, received = await inbound_totals(pcs)
    await call("quit")
    proc.join(10)
    for pc in pcs:
        await pc.close()

    window = sorted(latencies[lat0:])
    server_share = (cpu1 - cpu0) / elapsed
    expected_video = (args.participants - 1) * 35 * elapsed  # camera 30 + screen 5 fps each
    result = {
        "participants": args.participants,
        "peers_on_server": peers,
        "server_cpu_share": round(server_share, 3),
        "server_cpu_per_participant": round(server_share / args.participants, 5),
        "capacity_one_core_participants": int(args.participants / server_share) if server_share else None,
        "forwarded_frames_per_s": round((sent1 - sent0) / elapsed),
        "video_frames_received_ratio": round((frames["video"] - f0["video"]) / expected_video, 3),
        "loss": round(lost / (lost + received), 4) if received else None,
        "latency_ms_p50": round(1000 * statistics.median(window), 1) if window else None,
        "latency_ms_p99": round(1000 * window[int(len(window) * 0.99) - 1], 1) if window else None,
        "load_generator_cpu_share": round(mine / elapsed, 3),
    }
    print(
        f"server {server_share * 100:.0f}% of a core for {args.participants} participants "
        f"({result['server_cpu_per_participant'] * 100:.2f}% each, ≈{result['capacity_one_core_participants']} per core); "
        f"video frames received {result['video_frames_received_ratio'] * 100:.0f}% of sent, loss {result['loss']}, "
        f"latency p50 {result['latency_ms_p50']} ms p99 {result['latency_ms_p99']} ms; "
        f"load generator {result['load_generator_cpu_share'] * 100:.0f}% of a core"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
