"""Benchmark: a region's busiest hour on one node (or two): K meetings of 15 people at once.

Each meeting: 6 cameras in a grid (360p VP8, 30 fps), two of those people with open
microphones (Opus, voiced), everyone receiving with the page's slots, chat at 1 message per
second per meeting (to everyone in the meeting) and a poll every 5 minutes (``--poll-every``;
the first opens with the window; everyone but the moderator votes). The app runs as its own
uvicorn process(es); the participants are bench/_light.py's light participants in worker
processes, plus a decoding witness in the first meeting(s) (``--witnesses``, default 1: it decodes 6 cameras).
Each meeting also has two chat observers without media in a process of their own: one sends
the chat, both time it (``chat_observer_latency``, the server's latency; ``chat_latency`` is
as the media receivers saw it, their own busy event loops included).

Several K in one command (``--meetings 4 6 8``) give the largest K within the goals of
issue #18 (loss < 1 %, added latency p99 < 150 ms, witnesses at 30 fps on every camera
slot with no freeze > 500 ms, every chat message once and in order) — the sizing rule of
docs/deployment.md.

    .venv/bin/python bench/region.py [--meetings 4 6 8] [--seconds 30] [--poll-every 300]
    .venv/bin/python bench/region.py --nodes 2 --database-url postgresql+asyncpg://... \\
        --redis-url redis://127.0.0.1:6379/14 [--meetings 4]

``--nodes 2``: two app processes on one PostgreSQL + Redis, as deployed; meeting m's
publishers signal through node m % 2 (so the placement puts half of the meetings on each
node), the other people of every meeting alternate between the two nodes (so each meeting
has people on both nodes and its chat crosses Redis). Both servers' CPU is reported.

``--node-cpu 0.4`` (root): every node in a cgroup of its own with that CPU quota
(bench/_cpu_budget.py), so that one budgeted node can be compared with two on a machine whose
cores cannot hold two unbudgeted nodes beside the generator; each node's throttling is
reported (``node_throttling``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _light
from _cpu_budget import CpuBudget
from _light import (
    Pool,
    Server,
    Shared,
    Spec,
    chat_check,
    cpu_seconds,
    goals,
    measure,
    on_off_option,
    rss_mb,
    seed,
    start_server,
)

from server.db.migrate import upgrade_async
from tests.support.sio import user_cookie

PEOPLE = 15
CAMERAS = 6
OBSERVERS = 2  # per meeting, besides its 15: chat only, no media (one sends the chat)


def plan(
    urls: list[str], meetings: list[tuple[int, list[int]]], secret: str, args: argparse.Namespace
) -> list[list[Spec]]:
    publishers: list[Spec] = []
    witnesses: list[Spec] = []
    light: list[Spec] = []
    observers: list[Spec] = []
    for m, (meeting_id, ids) in enumerate(meetings):
        for i, uid in enumerate(ids[PEOPLE:]):
            # The chat is sent and timed by people without media in a process of their own, so
            # its latency is the server's, not that of a generator loop busy with RTP.
            s = Spec(meeting_id, user_cookie(secret, uid), urls[(m + i) % len(urls)], PEOPLE + i)
            s.chat, s.media = i == 0, False
            observers.append(s)
        for i, uid in enumerate(ids[:PEOPLE]):
            # The publishers signal through node m % nodes (so the placement, taken by the first
            # offer, puts the meeting there), the others alternate between the nodes.
            url = urls[m % len(urls)] if i < CAMERAS else urls[(m + i) % len(urls)]
            s = Spec(meeting_id, user_cookie(secret, uid), url, i)
            if i < CAMERAS:
                s.publish = ["camera", "mic"] if i < 2 else ["camera"]
                s.moderator = i == 0
                publishers.append(s)
                continue
            if i == PEOPLE - 1 and m < args.witnesses:
                s.witness = True
                witnesses.append(s)
            else:
                light.append(s)
    groups = [publishers[w :: args.publisher_workers] for w in range(args.publisher_workers)]
    groups += [witnesses]
    groups += [light[w :: args.workers] for w in range(args.workers)]
    groups += [observers]
    return [g for g in groups if g]


async def run(k: int, args: argparse.Namespace, send_thread: str = "on") -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="smo-region-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade_async(url)
    meetings = await seed(url, k, PEOPLE + OBSERVERS)
    secret = secrets.token_urlsafe(32)
    servers: list[Server] = []
    budgets: list[CpuBudget] = []
    prefix = f"bench{secrets.token_hex(3)}"
    for n in range(args.nodes):
        extra = {"SMO_MEDIA_NODE_ID": f"node-{n}", "SMO_MEDIA_SEND_THREAD": str(send_thread == "on")}
        if args.redis_url:
            extra.update(SMO_REDIS_URL=args.redis_url, SMO_REDIS_PREFIX=prefix)
        servers.append(await start_server(url, tmp / f"node{n}", secret, extra, name=f"node{n}"))
        if args.node_cpu:
            budgets.append(CpuBudget(args.node_cpu, f"node{n}"))
            budgets[-1].add(servers[-1].pid)
    pool = Pool(plan([s.url for s in servers], meetings, secret, args), Shared(), args.sample)
    throttled: list[dict[str, Any]] = []
    try:
        t0 = time.monotonic()
        # The publishers first: their offers place each meeting (on node m % nodes with two).
        publishers = range(args.publisher_workers)
        joined = await pool.ask("join", args.concurrency, False, only=publishers)
        rest = range(args.publisher_workers, len(pool.conns))
        joined += await pool.ask("join", args.concurrency, False, only=rest)
        join_wall = time.monotonic() - t0
        print(
            f"{k} meetings x {PEOPLE}: {sum(j['joined'] for j in joined)} joined in {join_wall:.1f}s"
            f" (errors: {[e for j in joined for e in j['errors']][:3]})",
            flush=True,
        )
        c0 = [cpu_seconds(s.pid) for s in servers]
        b0 = [b.stats() for b in budgets]
        w0 = time.monotonic()
        r = await measure(servers[0], pool, args.seconds, args.warm, (args.chat_rate, args.poll_every))
        c1 = [cpu_seconds(s.pid) for s in servers]
        # throttling over the warm-up and the window
        throttled = [b.throttling_since(before) for b, before in zip(budgets, b0, strict=True)]
        wall = time.monotonic() - w0
        await asyncio.sleep(3)  # the last chat messages reach everyone
        order = chat_check(await pool.ask("order"))
        rss = [round(rss_mb(s.pid)) for s in servers]
    finally:
        await pool.close()
        for s in servers:
            s.stop()
        for b in budgets:
            b.remove()
    # measure() read node 0 over its window; every node over the warm-up + window, per second:
    per_node = [round((b - a) / wall, 3) for a, b in zip(c0, c1, strict=True)]
    r = {
        "meetings": k,
        "send_thread": send_thread,
        "people": k * PEOPLE,
        "nodes": args.nodes,
        "join_wall_s": round(join_wall, 1),
        **r,
        **order,
        "node_cpu_cores": per_node,
        "node_rss_mb": rss,
        "node_cpu_budget_cores": args.node_cpu,
        "node_throttling": throttled,
    }
    if args.nodes > 1:
        r["server_cpu_cores"] = round(sum(per_node), 3)
        r["server_share_of_2_cores"] = round(sum(per_node) / 2, 3)
    r["server_cpu_cores_per_meeting"] = round(r["server_cpu_cores"] / k, 4)
    r["goals"] = goals(r, k * (PEOPLE + OBSERVERS), all_slots=True)
    r["goals"]["chat_once_and_in_order"] = (
        r["chat_seen_twice"] == 0 and r["chat_order_mismatch"] == 0 and r["chat_missing"] == 0
    )
    # every chat message of the window reached its meeting (a few may be in flight at the end)
    expected = int(args.seconds * args.chat_rate) - 2
    r["goals"]["chat_delivered"] = min(r["chat_messages_per_meeting"], default=0) >= expected
    r["within_goals"] = all(r["goals"].values())
    return r


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meetings", type=int, nargs="+", default=[4, 6, 8])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warm", type=float, default=4)
    ap.add_argument("--chat-rate", type=float, default=1.0, help="chat messages per second per meeting")
    ap.add_argument("--poll-every", type=float, default=300.0, help="seconds between polls per meeting")
    ap.add_argument("--workers", type=int, default=3, help="processes of light receivers")
    ap.add_argument("--publisher-workers", type=int, default=2)
    ap.add_argument(
        "--witnesses", type=int, default=1, help="meetings with a decoding witness (each decodes 6 cameras)"
    )
    ap.add_argument("--concurrency", type=int, default=6, help="joins at once per worker")
    ap.add_argument("--sample", type=int, default=8, help="decrypt every n-th video packet")
    ap.add_argument("--nodes", type=int, default=1, choices=(1, 2))
    on_off_option(ap, "--send-thread", "the SFU's sending thread")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--redis-url", default=None)
    ap.add_argument(
        "--node-cpu",
        type=float,
        default=None,
        metavar="CORES",
        help="each node's CPU budget (a cgroup CPU quota, root only): one budgeted node against two,"
        " so that two nodes' capacity can be compared with one's on this machine",
    )
    args = ap.parse_args()
    if args.nodes > 1 and not (args.redis_url and args.database_url):
        raise SystemExit("--nodes 2 needs --database-url (PostgreSQL) and --redis-url")
    _light.CLIPS.update(camera=_light.video_clip(640, 360, 30, 2, 600_000), mic=_light.audio_clip())
    for name, clip in _light.CLIPS.items():
        print(f"{name}: {_light.clip_summary(clip)}")
    results = []
    for k in args.meetings:
        for mode in args.send_thread:
            r = await run(k, args, mode)
            results.append(r)
            print(
                f"{k} meetings ({r['people']} people, {args.nodes} node(s)), send thread {mode}:"
                f" server {r['server_cpu_cores']:.2f} cores ({r['server_share_of_2_cores'] * 100:.0f}% of 2;"
                f" per node {r['node_cpu_cores']}; node 0's event loop {r['server_loop_cpu_cores']}),"
                f" RSS {r['node_rss_mb']} MB,"
                f" generator {r['generator_cpu_cores']:.2f} cores; forwarded/received {r['received_pps']} pkt/s,"
                f" loss {r['loss']}, latency p50 {r['latency_ms_p50']} / p99 {r['latency_ms_p99']} ms;"
                f" witnesses fps min {r['witness_video_fps_min']}, freezes {r['witness_freezes']};"
                f" chat p99 {r['chat_latency_ms_p99']} ms (observers {r['chat_observer_latency_ms_p99']} ms),"
                f" twice {r['chat_seen_twice']}, order {r['chat_order_mismatch']},"
                f" missing {r['chat_missing']}; polls seen {r['polls_seen']}; load {r['load_average']};"
                f" budget {args.node_cpu} cores/node, throttling {r['node_throttling']};"
                f" within goals: {r['within_goals']} {r['goals']}",
                flush=True,
            )
    fitting = [r["meetings"] for r in results if r["within_goals"] and r["send_thread"] == "on"]
    print(
        json.dumps(
            {
                "bench": "region",
                "nodes": args.nodes,
                "largest_within_goals": max(fitting) if fitting else None,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
