"""Benchmark: the server's CPU per join offer (docs/media.md, "Join cost").

A page joins with one offer: its microphone and camera to send, 3 audio and 7 video receive
slots (``media.config``). The SFU answers it with aiortc (SDP parse, transceivers, codecs, the
answer). This measures the CPU of ``MediaRoom.offer`` for N such offers, made beforehand by
aiortc clients, in two configurations in the same run:

- ``eager``: aiortc as shipped, which builds a ``RemoteBitrateEstimator`` (a ``RateCounter`` of
  1,000 ``RateBucket`` objects) for every video receiver, also the receive slots' that never
  receive;
- ``lazy``: as the app runs (``hooks.use_lazy_bitrate_estimators``): the C estimator
  (``_remb.c``), which allocates its buckets on the first packet.

ICE and DTLS are not part of it (no connection is made): they are the same in both.

    .venv/bin/python bench/join.py [--offers 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, rtcrtpreceiver

from realtime.media import hooks
from realtime.media.config import MediaConfig
from realtime.media.sfu import Sfu


async def offers(count: int) -> list[tuple[RTCPeerConnection, str]]:
    config = MediaConfig()
    made = []
    for _ in range(count):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        for kind in ["audio"] * config.max_audio + ["video"] * (config.last_n + 1):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        made.append((pc, pc.localDescription.sdp))
    return made


async def answer_all(made: list[tuple[RTCPeerConnection, str]], lazy: bool) -> float:
    """CPU seconds per offer answered by one room."""
    sfu = Sfu(MediaConfig(ice_timeout=60))  # installs the lazy estimators
    if not lazy:
        rtcrtpreceiver.RemoteBitrateEstimator = hooks._EAGER_ESTIMATOR  # type: ignore[misc]
    room = sfu.room(1)
    t0 = time.process_time()
    for i, (_pc, sdp) in enumerate(made):
        await room.offer(f"u:{i}", sdp, {"0": "mic", "1": "camera"})
    spent = time.process_time() - t0
    await sfu.close()
    return spent / len(made)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    made = await offers(args.offers)
    results: dict[str, list[float]] = {"eager": [], "lazy": []}
    try:
        for _ in range(args.rounds):  # alternate, so both see the same machine
            for mode in ("eager", "lazy"):
                results[mode].append(await answer_all(made, lazy=mode == "lazy"))
    finally:
        for pc, _ in made:
            await pc.close()
    eager = statistics.median(results["eager"]) * 1000
    lazy = statistics.median(results["lazy"]) * 1000
    print(
        f"CPU per join offer (median of {args.rounds} rounds of {args.offers}): eager {eager:.1f} ms, lazy {lazy:.1f} ms"
    )
    print(
        json.dumps(
            {
                "offers": args.offers,
                "rounds": args.rounds,
                "eager_ms_per_offer": round(eager, 2),
                "lazy_ms_per_offer": round(lazy, 2),
                "speedup": round(eager / lazy, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
