"""A meeting over a bad network: media, chat and votes through the SFU with loss, delay,
reordering and an outage (the scenario of tests/test_media_netfault.py, with knobs).

Needs root (network namespaces, TUN devices); otherwise it says why and prints a JSON line
with "skipped". The server runs in this process (uvicorn, SQLite by default), the two
participants in namespaces of their own behind a userspace impairment relay
(tests/support/netns.py; this machine's kernel has no netem).

    .venv/bin/python bench/netfault.py [--loss 0.05] [--delay 0.075] [--reorder 0.01]
        [--outage 3] [--before 6] [--after 10] [--backend sqlite|postgresql]
        [--trace]

Prints the figures, then one final JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.settings import Settings
from tests.support.databases import drop_pg_database, migrated_database
from tests.support.live import start_live_server
from tests.support.netfault_scenario import Impairment, Report, run
from tests.support.netns import impaired_network, missing_requirements
from tests.support.room_seed import seed_cast


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="smo-netfault-"))
    url = await migrated_database(args.backend, tmp)
    settings = Settings(
        env="test",
        database_url=url,
        var_dir=tmp / "var",
        secret_key="bench-secret-key-0123456789",
        smtp_host="127.0.0.1",
        smtp_port=1,  # nothing is mailed in this scenario
        log_level="WARNING",
    )
    impairment = Impairment(
        loss=args.loss,
        delay=args.delay,
        reorder=args.reorder,
        before_outage=args.before,
        outage=args.outage,
        after_outage=args.after,
    )
    async with impaired_network(2) as net:
        server = await start_live_server(settings, also_on=tuple(link.root_address for link in net.links))
        try:
            cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
            report = await run(server, net, cast, impairment, trace=args.trace)
        finally:
            await server.stop()
            if args.backend == "postgresql":
                await drop_pg_database(url)
    show(report)
    return summary(report)


def show(r: Report) -> None:
    p = r.impairment
    print(
        f"links: loss {p['loss']:.0%} each way, {p['delay'] * 2000:.0f} ms RTT, reorder {p['reorder']:.0%}; "
        f"{p['before_outage']:.0f} s impaired, {p['outage']:.0f} s outage, {p['after_outage']:.0f} s impaired"
    )
    for i, link in enumerate(r.links, 1):
        print(f"  link {i}: {json.dumps(link)}")
    print(f"video frames at Bob per phase: {r.video_frames}")
    print(f"audio frames at Bob per phase: {r.audio_frames}")
    print(
        f"after the outage: first video frame {r.freeze_after_outage_s} s, first audio frame "
        f"{r.audio_gap_after_outage_s} s, longest video freeze {r.longest_video_freeze_after_outage_s} s; "
        f"longest video gap under loss before it {r.longest_video_gap_under_loss_s} s"
    )
    print(f"feedback: {json.dumps(r.feedback)}")
    print(f"sfu: {json.dumps(r.sfu)}")
    print(f"reconnect: {json.dumps(r.reconnect, ensure_ascii=False)}")
    print(f"messages: {r.messages}")
    print(f"log: {json.dumps(r.log)}")
    for note in r.notes:
        print(note)


def summary(r: Report) -> dict[str, Any]:
    bob, alice = r.feedback["bob"], r.feedback["alice"]
    lost = r.messages["acked"] - r.log["chat_acked_in_log_once"] - r.log["votes_acked_in_log_once"]
    return {
        "bench": "netfault",
        "loss": r.impairment["loss"],
        "rtt_ms": round(r.impairment["delay"] * 2000),
        "reorder": r.impairment["reorder"],
        "outage_s": r.impairment["outage"],
        "nack_packets_bob": bob["nack_packets_sent"],
        "nacked_seqs_bob": bob["nacked_seqs_sent"],
        "rtx_sfu_to_bob": r.sfu["rtx_sent_to_bob"],
        "rtx_received_bob": bob["rtx_received"],
        "nacked_seqs_alice": alice["retransmit_asked"],
        "rtx_alice_to_sfu": alice["rtx_sent"],
        "rtx_received_sfu": r.sfu["rtx_from_alice"],
        "pli_bob": bob["pli_sent"],
        "pli_sfu_to_alice": r.sfu["pli_sent_to_alice"],
        "video_fps_clean": round(r.video_frames["clean_before"] / r.impairment["clean_before"], 1),
        "video_fps_impaired": round(
            (r.video_frames["impaired_before_outage"] + r.video_frames["impaired_after_outage"])
            / (r.impairment["before_outage"] + r.impairment["after_outage"]),
            1,
        ),
        "freeze_after_outage_s": r.freeze_after_outage_s,
        "longest_video_freeze_after_outage_s": r.longest_video_freeze_after_outage_s,
        "longest_video_gap_under_loss_s": r.longest_video_gap_under_loss_s,
        "audio_gap_after_outage_s": r.audio_gap_after_outage_s,
        "first_ack_after_outage_s": min(
            (x["first_ack_after_outage_s"] for x in r.reconnect.values() if x["first_ack_after_outage_s"]),
            default=None,
        ),
        "socketio_reconnects": sum(x["socketio_disconnects"] for x in r.reconnect.values()),
        "media_rebuilds": sum(x["media_rebuilds"] for x in r.reconnect.values()),
        "messages_acked": r.messages["acked"],
        "messages_unacked": r.messages["unacked"],
        "messages_lost": lost,
        "duplicates": r.log["chat_duplicates"] + r.log["vote_duplicates"],
        "in_room": all(x["in_room"] for x in r.reconnect.values()),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--delay", type=float, default=0.075, help="one way, seconds")
    parser.add_argument("--reorder", type=float, default=0.01)
    parser.add_argument("--outage", type=float, default=3.0)
    parser.add_argument("--before", type=float, default=6.0)
    parser.add_argument("--after", type=float, default=10.0)
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: a fresh database on TEST_DATABASE_URL's server",
    )
    parser.add_argument(
        "--trace", action="store_true", help="print NACK/PLI/frame timeline around the outage"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    reason = missing_requirements()
    if reason:
        print(f"skipped: {reason}")
        print(json.dumps({"bench": "netfault", "skipped": reason}))
        sys.exit(0)
    print(json.dumps(asyncio.run(main(args))))
