"""Benchmark: the SFU's forwarding cost against aiortc's transcoding MediaRelay, same run.

P publishers send pre-encoded 720p VP8 (30 fps) + Opus (50 packets/s); S subscribers each
receive every publisher. The server runs in a child process (its CPU is measured alone with
``resource.getrusage``); the publishers and subscribers run in this process and count frames
without decoding. Figures: forwarded RTP packets per second, per server CPU-second, subscriber
frame rate and loss; then the same through ``MediaRelay`` (decode once, encode per subscriber).

    .venv/bin/python bench/sfu.py [--publishers 2] [--subscribers 16] [--seconds 12] [--loop uvloop]
    .venv/bin/python bench/sfu.py --recording [--rounds 2]   # forwarding with and without recording
    .venv/bin/python bench/sfu.py --transcription [--rounds 2]   # ... with and without transcription
    .venv/bin/python bench/sfu.py --skip-relay --rtcp off   # diagnostic: RTCP loops at 1000 s (what RTCP costs)

``--recording``: alternating runs without and with every published track written to WebM files
(realtime/media/recorder.py, a writer thread per track), no relay; the JSON's
``recording_cost_ratio`` is server CPU per forwarded packet with recording / without (goal ≤ 1.1).

``--transcription``: alternating runs without and with transcription on in the server process:
every microphone's packets are captured for transcription (realtime/media/capture.py) and the
Whisper engine runs back to back on a festival phrase in a thread all along (the worst case:
the engine never idles, as when the transcript has fallen behind). The JSON's
``transcription_forwarding`` compares the forwarding (packets forwarded per second, subscriber
frame rate, loss) with against without: inference must not slow the room.

Defaults: 2 × 16 — a meeting's shape (one or two cameras / a screen share, 16-40 people
watching); the server runs on uvloop, as under uvicorn, with the garbage collector set up as the
app sets it (server/gc_policy.py: survivors of full collections frozen) and the receivers'
bandwidth estimators as the app's ``Sfu`` builds them. Server CPU is getrusage of the child
(all its threads, the kernel's work in its syscalls included) for both paths.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _rtc import Replay, encode_opus, encode_vp8, enlarge_receive_buffers, inbound_totals
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from realtime.media import hooks
from realtime.media.config import MediaConfig
from realtime.media.forwarding import PackOnlyEncoder
from realtime.media.room import MediaRoom

WIDTH, HEIGHT, FPS = 1280, 720, 30


# --- server (child process) ------------------------------------------------------------------
def server_main(conn: Connection, mode: str, profile: bool = False, loop: str = "uvloop") -> None:
    if loop == "uvloop":  # what uvicorn runs the app on when uvloop is installed (it is)
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    if not profile:
        asyncio.run(_serve(conn, mode))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(asyncio.run, _serve(conn, mode))
    pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(
        int(os.environ.get("PROFILE_LINES", "25"))
    )


def _recording_opener(directory: Path) -> Any:
    from realtime.media.peer import Publication
    from realtime.media.recorder import TrackWriter

    def open_track(pub: Publication) -> TrackWriter:
        loop = asyncio.get_running_loop()
        path = directory / f"{pub.participant.replace(':', '')}-{pub.source}.webm"
        return TrackWriter(
            path, pub.kind, lambda result: None, lambda: loop.call_soon_threadsafe(pub.request_keyframe)
        )

    return open_track


def _transcribe_forever(stop: Any, ready: Any, done: list[float]) -> None:
    """The server's transcription thread at full tilt: the engine on a phrase, again and again."""
    from server.transcription.audio import decode_file
    from server.transcription.engine import Engine, EngineOptions

    engine = Engine(EngineOptions())
    if not engine.load():
        raise SystemExit(f"transcription unavailable: {engine.reason}")
    audio = decode_file(Path(__file__).resolve().parents[1] / "tests" / "speech" / "plan.wav")
    while not stop.is_set():
        started = time.perf_counter()
        engine.transcribe(audio)
        done.append((time.perf_counter() - started) / (len(audio) / 16000))
        ready.set()


async def _serve(conn: Connection, mode: str) -> None:
    import tempfile
    import threading

    loop = asyncio.get_running_loop()
    from realtime.media import sendthread
    from server.gc_policy import GcPolicy

    # the collector as the app's runtime sets it up (server/runtime.py): what exists now is
    # frozen, and the survivors of each full collection are frozen after it
    gc.collect()
    gc.freeze()
    collector = GcPolicy()
    collector.install(loop)

    hooks.use_lazy_bitrate_estimators()  # the receivers' estimators as the app's Sfu sets them up
    sendthread.configure(mode != "sfu-loop")  # sfu-loop: the event loop sends every packet itself
    room = MediaRoom(1, MediaConfig(max_audio=64, last_n=64, ice_timeout=60), lambda *a: None)
    recordings = tempfile.TemporaryDirectory(prefix="bench-rec-")
    if mode == "sfu+rec":
        room.set_recording(_recording_opener(Path(recordings.name)))
    rtfs: list[float] = []
    stop = threading.Event()
    if mode == "sfu+tr":
        room.set_transcribing(True)
        ready = threading.Event()
        threading.Thread(target=_transcribe_forever, args=(stop, ready, rtfs), daemon=True).start()
        await loop.run_in_executor(None, ready.wait)  # the model loaded and warm before the measurement
    relay = MediaRelay()
    relay_pcs: list[RTCPeerConnection] = []
    relay_tracks: list[MediaStreamTrack] = []
    while True:
        msg = await loop.run_in_executor(None, conn.recv)
        if msg[0] == "offer":
            _, key, sdp, sources = msg
            if mode.startswith("sfu"):
                conn.send(await room.offer(key, sdp, sources))
                for pub in room.publications:  # every microphone "speaks": captured all along
                    if pub.capture is not None and not pub.capture.active:
                        pub.capture.started(time.monotonic())
            else:
                conn.send(await _relay_offer(sdp, relay, relay_pcs, relay_tracks))
        elif msg[0] == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            loop_usage = resource.getrusage(resource.RUSAGE_THREAD)  # this is the event loop's thread
            # The SFU's legs count what the RTP fast path sent; the relay's senders count theirs.
            sent = sum(
                s.packets_sent + s.retransmitted for p in room.peers.values() for s in p.slots.values()
            )
            for pc in relay_pcs:
                for t in pc.getTransceivers():
                    if t.sender.track is not None:
                        for s in (await t.sender.getStats()).values():
                            if s.type == "outbound-rtp":
                                sent += s.packetsSent
            slots = [s for p in room.peers.values() for s in p.slots.values()]
            extra = {
                "dropped": sum(s.packets_dropped for s in slots),
                "retransmitted": sum(s.retransmitted for s in slots),
                "keyframe_requests": sum(p.keyframe_requests for p in room.publications),
                "lost_for_good": sum(p.lost_for_good for p in room.publications),
                "received": sum(p.packets for p in room.publications),
                "recorded_frames": sum(p.recorder.result.frames for p in room.publications if p.recorder),
                "recorded_bytes": sum(p.recorder.result.bytes for p in room.publications if p.recorder),
                "recording_dropped": sum(p.recorder.result.dropped for p in room.publications if p.recorder),
                "transcriptions": len(rtfs),
                "loop_cpu": loop_usage.ru_utime + loop_usage.ru_stime,
                "rtf": sum(rtfs[-5:]) / len(rtfs[-5:]) if rtfs else 0.0,
                "gc": collector.status(),
            }
            conn.send((usage.ru_utime + usage.ru_stime, sent, extra))
        else:
            stop.set()
            writers = [p.recorder for p in room.publications if p.recorder]
            await room.close()
            for writer in writers:
                await asyncio.to_thread(writer.join, 10)
            recordings.cleanup()
            for pc in relay_pcs:
                await pc.close()
            conn.send("bye")
            return


async def _relay_offer(
    sdp: str, relay: MediaRelay, pcs: list[RTCPeerConnection], tracks: list[MediaStreamTrack]
) -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pcs.append(pc)
    pc.on("track", lambda track: tracks.append(track))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    published = list(tracks)
    for t in pc.getTransceivers():
        if t.receiver.track is None or t.receiver.track not in tracks:  # a receive slot
            source = next((s for s in published if s.kind == t.kind), None)
            if source is not None:
                published.remove(source)
                t.sender.replaceTrack(relay.subscribe(source))
                t.direction = "sendonly"
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)


# --- load generator (this process) -----------------------------------------------------------
def encode_media(seconds: float) -> tuple[list[bytes], list[bytes]]:
    return encode_vp8(WIDTH, HEIGHT, FPS, seconds, 1_500_000), encode_opus()


async def run(mode: str, args: argparse.Namespace, video: list[bytes], audio: list[bytes]) -> dict[str, Any]:
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(
        target=server_main, args=(child, mode, args.profile, args.loop), daemon=True
    )
    proc.start()
    loop = asyncio.get_running_loop()

    async def call(*msg: Any) -> Any:
        parent.send(msg)
        return await loop.run_in_executor(None, parent.recv)

    pcs: list[RTCPeerConnection] = []
    counts: list[int] = []

    async def connect(key: str, publish: bool) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pcs.append(pc)
        sources = {}
        if publish:
            for kind, frames, rate, step in (("video", video, FPS, 3000), ("audio", audio, 50, 960)):
                track = Replay(kind, frames, rate, step)
                t = pc.addTransceiver(track, direction="sendonly")
                hooks.install_sender_encoder(t.sender, PackOnlyEncoder(kind))
                hooks.install_sender_keyframe_hook(
                    t.sender, lambda track=track: setattr(track, "keyframe", True)
                )
                sources[t] = "camera" if kind == "video" else "mic"
        else:
            for _ in range(args.publishers):
                for kind in ("video", "audio"):
                    t = pc.addTransceiver(kind, direction="recvonly")
                    index = len(counts)
                    counts.append(0)

                    def count(codec: Any, frame: Any, index: int = index) -> None:
                        counts[index] += 1

                    hooks.install_receiver_passthrough(t.receiver, count)
                    t.receiver.__dict__["_bench_index"] = index
        await pc.setLocalDescription(await pc.createOffer())
        answer = await call(
            "offer", key, pc.localDescription.sdp, {str(t.mid): s for t, s in sources.items()}
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    for p in range(args.publishers):
        await connect(f"u:{p + 1}", True)
    for s in range(args.subscribers):
        await connect(f"u:{100 + s}", False)
    enlarge_receive_buffers(pcs)
    await asyncio.sleep(2)  # ICE, DTLS, first key frames
    cpu0, sent0, extra0 = await call("stats")
    frames0, t0, mine0 = list(counts), time.monotonic(), time.process_time()
    await asyncio.sleep(args.seconds)
    cpu1, sent1, extra1 = await call("stats")
    elapsed, mine = time.monotonic() - t0, time.process_time() - mine0
    frames = [b - a for a, b in zip(frames0, counts, strict=True)]
    lost, received = await inbound_totals(pcs)
    await call("quit")
    proc.join(5)
    for pc in pcs:
        await pc.close()
    video_fps = [f / elapsed for i, f in enumerate(frames) if i % 2 == 0]
    video_frames = sum(f for i, f in enumerate(frames) if i % 2 == 0)
    server_cpu = cpu1 - cpu0
    forwarded = sent1 - sent0
    return {
        "mode": mode,
        "forwarded_pps": round(forwarded / elapsed),
        "server_cpu_share": round(server_cpu / elapsed, 3),
        "packets_per_cpu_second": round(forwarded / server_cpu) if server_cpu else None,
        "us_per_packet": round(server_cpu / forwarded * 1e6, 1) if forwarded else None,
        # Delivered 720p frames per server CPU-second: the fair basis against the relay, whose
        # encoder makes fewer (smaller) packets per frame than the publishers' 1.5 Mbit/s.
        "video_frames_per_cpu_second": round(video_frames / server_cpu) if server_cpu else None,
        "subscriber_video_fps_min": round(min(video_fps), 1) if video_fps else 0,
        "subscriber_video_fps_mean": round(sum(video_fps) / len(video_fps), 1) if video_fps else 0,
        "loss": round(lost / (lost + received), 4) if received else None,
        "load_generator_cpu_share": round(mine / elapsed, 3),
        **{f"server_{k}": extra1[k] - extra0.get(k, 0) for k in extra1 if k not in ("rtf", "loop_cpu", "gc")},
        # full collections during the window and the longest (server/gc_policy.py)
        "server_gc_full_collections": extra1["gc"]["full_collections"] - extra0["gc"]["full_collections"],
        "server_gc_longest_full_ms": extra1["gc"]["longest_full_ms"],
        # the event loop's own thread per forwarded packet (with the send thread, the kernel's
        # send runs on the other thread)
        "loop_us_per_packet": round((extra1["loop_cpu"] - extra0["loop_cpu"]) / forwarded * 1e6, 1)
        if forwarded
        else None,
        "transcription_rtf": round(extra1["rtf"], 2) if extra1.get("rtf") else None,
    }


def mean(rows: list[dict[str, Any]], key: str) -> float:
    """The mean of ``key`` over the runs that have it (0 when none has)."""
    values = [float(r[key]) for r in rows if r[key] is not None]
    return sum(values) / len(values) if values else 0.0


def slow_rtcp(which: str) -> None:
    """Every aiortc RTCP loop (each sender's SR, each receiver's RR) waits 1000 s instead of
    0.5-1.5 s: in the server (the forked child), the generator (this process) or both. A
    diagnostic for what RTCP costs the server, never how it runs."""
    import random
    import types

    from aiortc import rtcrtpreceiver, rtcrtpsender

    parent = os.getpid()

    def interval() -> float:
        in_server = os.getpid() != parent
        off = which == "off" or (which == "server-off") == in_server
        return 1000.0 if off else random.random()

    rtcrtpsender.random = rtcrtpreceiver.random = types.SimpleNamespace(random=interval)  # type: ignore[assignment]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the server's event loop")
    ap.add_argument("--skip-relay", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print the server process's hottest functions")
    ap.add_argument("--recording", action="store_true", help="runs without and with recording, no relay")
    ap.add_argument(
        "--transcription", action="store_true", help="runs without and with transcription, no relay"
    )
    ap.add_argument(
        "--send-thread", action="store_true", help="runs with and without the SFU's sending thread, no relay"
    )
    ap.add_argument(
        "--rounds", type=int, default=2, help="with --recording/--transcription/--send-thread: pairs of runs"
    )
    ap.add_argument(
        "--rtcp",
        choices=("on", "off", "server-off", "generator-off"),
        default="on",
        help="diagnostic: aiortc's RTCP loops every 1000 s (all, the server's, the generator's) — what RTCP costs",
    )
    args = ap.parse_args()
    if args.rtcp != "on":
        slow_rtcp(args.rtcp)
    video, audio = encode_media(2)
    print(
        f"pre-encoded {len(video)} VP8 frames ({sum(map(len, video)) // len(video)} B avg), {len(audio)} Opus"
    )
    paired = (
        "sfu+rec"
        if args.recording
        else "sfu+tr"
        if args.transcription
        else "sfu-loop"
        if args.send_thread
        else None
    )
    if paired:
        results = []
        for _ in range(args.rounds):
            results.append(await run("sfu", args, video, audio))
            results.append(await run(paired, args, video, audio))
    else:
        results = [await run("sfu", args, video, audio)]
    if not args.skip_relay and not paired:
        results.append(await run("relay", args, video, audio))
    for r in results:
        print(
            f"{r['mode']:5}: {r['forwarded_pps']} pkt/s forwarded, server {r['server_cpu_share'] * 100:.0f}% of a core,"
            f" {r['packets_per_cpu_second']} pkt per CPU-s ({r['us_per_packet']} µs/pkt,"
            f" event loop {r['loop_us_per_packet']} µs/pkt),"
            f" video {r['subscriber_video_fps_mean']} fps (min {r['subscriber_video_fps_min']}), loss {r['loss']}"
            + (
                f", recorded {r['server_recorded_frames']} frames ({r['server_recorded_bytes']} B),"
                f" dropped {r['server_recording_dropped']}"
                if r["mode"] == "sfu+rec"
                else ""
            )
            + (
                f", {r['server_transcriptions']} transcriptions (RTF {r['transcription_rtf']})"
                if r["mode"] == "sfu+tr"
                else ""
            )
        )
    summary: dict[str, Any] = {
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "loop": args.loop,
        "load_average": os.getloadavg()[0],
        "results": results,
    }
    plain = [r for r in results if r["mode"] == "sfu"]
    if args.recording:
        recorded = [r for r in results if r["mode"] == "sfu+rec"]
        if mean(plain, "us_per_packet") and mean(recorded, "us_per_packet"):
            summary["recording_cost_ratio"] = round(
                mean(recorded, "us_per_packet") / mean(plain, "us_per_packet"), 3
            )
            summary["recording_cost_ratio_per_round"] = [
                round(b["us_per_packet"] / a["us_per_packet"], 3)
                for a, b in zip(plain, recorded, strict=False)
                if a["us_per_packet"] and b["us_per_packet"]
            ]
    elif args.transcription:
        busy = [r for r in results if r["mode"] == "sfu+tr"]
        summary["transcription_forwarding"] = {
            "forwarded_pps_ratio": round(mean(busy, "forwarded_pps") / mean(plain, "forwarded_pps"), 3)
            if mean(plain, "forwarded_pps")
            else None,
            "fps_mean_ratio": round(
                mean(busy, "subscriber_video_fps_mean") / mean(plain, "subscriber_video_fps_mean"), 3
            )
            if mean(plain, "subscriber_video_fps_mean")
            else None,
            "loss": [round(mean(plain, "loss"), 4), round(mean(busy, "loss"), 4)],
            "transcriptions": sum(int(r["server_transcriptions"]) for r in busy),
            "transcription_rtf_under_load": round(mean(busy, "transcription_rtf"), 2),
        }
    elif args.send_thread:
        looped = [r for r in results if r["mode"] == "sfu-loop"]
        summary["send_thread"] = {
            # with / without the thread, from alternating runs in this command
            "us_per_packet": [
                round(mean(plain, "us_per_packet"), 1),
                round(mean(looped, "us_per_packet"), 1),
            ],
            "loop_us_per_packet": [
                round(mean(plain, "loop_us_per_packet"), 1),
                round(mean(looped, "loop_us_per_packet"), 1),
            ],
            "packets_per_cpu_second": [
                round(mean(plain, "packets_per_cpu_second")),
                round(mean(looped, "packets_per_cpu_second")),
            ],
            "packets_per_event_loop_cpu_second": [
                round(1e6 / mean(plain, "loop_us_per_packet")) if mean(plain, "loop_us_per_packet") else None,
                round(1e6 / mean(looped, "loop_us_per_packet"))
                if mean(looped, "loop_us_per_packet")
                else None,
            ],
            "loss": [round(mean(plain, "loss"), 4), round(mean(looped, "loss"), 4)],
        }
    elif len(results) == 2 and results[0]["packets_per_cpu_second"] and results[1]["packets_per_cpu_second"]:
        summary["ratio_vs_relay"] = round(
            results[0]["packets_per_cpu_second"] / results[1]["packets_per_cpu_second"], 1
        )
        if results[1]["video_frames_per_cpu_second"]:
            summary["ratio_vs_relay_frames"] = round(
                results[0]["video_frames_per_cpu_second"] / results[1]["video_frames_per_cpu_second"],
                1,
            )
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
