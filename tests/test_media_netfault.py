"""Media, chat and votes over a bad network (slow, opt-in: ``make soak``).

Two aiortc participants in network namespaces of their own, a real uvicorn server, the SFU;
5 % loss, 150 ms RTT and 1 % reordering on both links, and a 3 s outage of both in the middle
(tests/support/netfault_scenario.py). The numbers are printed and documented in docs/media.md
("Under a bad network"); what is asserted here is what must hold whatever the timing:
loss is repaired by NACK/RTX and PLI, video and audio carry on, the meeting's state survives
the outage, and every acknowledged chat message and vote is in the log exactly once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.live import LiveServer, start_live_server
from tests.support.netfault_scenario import Impairment, run
from tests.support.netns import ImpairedNetwork, impaired_network, leftover_namespaces, missing_requirements
from tests.support.room_seed import seed_cast
from tests.support.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
async def net() -> AsyncIterator[ImpairedNetwork]:
    reason = missing_requirements()
    if reason:
        pytest.skip(f"impaired network not available: {reason}")
    async with impaired_network(2) as network:
        names = [link.namespace for link in network.links]
        yield network
    assert not set(names) & set(leftover_namespaces())  # removed, also after a failure


@pytest.fixture
async def net_server(
    net: ImpairedNetwork, database_url: str, tmp_path: Path, smtp: tuple[str, int, Inbox]
) -> AsyncIterator[LiveServer]:
    settings = make_settings(database_url, tmp_path / "var", smtp)
    server = await start_live_server(settings, also_on=tuple(link.root_address for link in net.links))
    try:
        await truncate_all(server.runtime.db)
        yield server
    finally:
        await server.stop()


async def test_meeting_survives_loss_delay_reordering_and_an_outage(
    net_server: LiveServer, net: ImpairedNetwork
) -> None:
    server = net_server
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    report = await run(server, net, cast, Impairment())
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))

    # The links really were impaired, both ways, and really cut.
    for link in report.links:
        for direction in ("up", "down"):
            assert link[direction]["dropped"] > 0 and link[direction]["cut"] > 0, report.links

    # Loss repaired: Bob asked the SFU for lost packets and got RTX from its history; the SFU
    # asked Alice (its own receiver's NACKs), she retransmitted and the SFU took her RTX.
    # (Key frames: counted, not required: RTX alone may repair the outage, see docs/media.md.)
    bob, alice = report.feedback["bob"], report.feedback["alice"]
    assert bob["nack_packets_sent"] > 0 and report.sfu["rtx_sent_to_bob"] > 0, report
    assert bob["rtx_received"] > 0, report.feedback
    assert alice["retransmit_asked"] > 0 and alice["rtx_sent"] > 0, report
    assert report.sfu["rtx_from_alice"] > 0, report.sfu

    # Video and audio carry on through the loss, and after the outage.
    for phase in ("impaired_before_outage", "impaired_after_outage", "clean_after"):
        assert report.video_frames[phase] > 0 and report.audio_frames[phase] > 0, report
    assert report.freeze_after_outage_s is not None and report.audio_gap_after_outage_s is not None

    # The meeting's state: both still in the room, once, each with one SFU connection; the
    # connections recovered the way the page recovers (counted in report.reconnect).
    for who in report.reconnect.values():
        assert who["in_room"] and who["sfu_peers"] == 1, report.reconnect
        assert who["connection_state"] == "connected", report.reconnect
    log = report.log
    assert log["seqs_contiguous"], log
    for key, joined in log["joined"].items():
        assert joined - log["left"][key] == 1, log  # a reconnect may log left + joined, never two joins
    assert log["peers_missed_events"] == [[], []], log

    # Chat and votes over the same links: everything sent was acknowledged (after the outage
    # at the latest) and every acknowledged one is in the log exactly once.
    m = report.messages
    assert m["unacked"] == 0 and m["refused"] == 0, (m, report.notes)
    assert m["chat_acked"] >= 20 and m["votes_acked"] >= 12, m
    assert log["chat_acked_in_log_once"] == m["chat_acked"] == log["chat_acked_seq_matches"], log
    assert log["votes_acked_in_log_once"] == m["votes_acked"] == log["votes_acked_ballot_once"], log
    assert log["chat_duplicates"] == 0 and log["vote_duplicates"] == 0, log


async def test_a_long_outage_ends_in_a_reconnect_without_losing_the_meeting(
    net_server: LiveServer, net: ImpairedNetwork
) -> None:
    """24 s without network: longer than Socket.IO's ping deadline (10 s + 10 s), so both
    sides drop the connection and the server closes the media of the absent people. The
    participants come back the way the page does: Socket.IO reconnects and joins with the last
    seq, the media connection is rebuilt when ICE gives up."""
    server = net_server
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    report = await run(server, net, cast, Impairment(before_outage=3.0, outage=24.0, after_outage=8.0))
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))

    for who in report.reconnect.values():
        assert who["socketio_disconnects"] >= 1 and who["joins"] >= 2, report.reconnect  # reconnected
        assert who["media_rebuilds"] >= 1 and who["connection_state"] == "connected", report.reconnect
        assert who["in_room"] and who["sfu_peers"] == 1, report.reconnect
    assert report.video_frames["clean_after"] > 0 and report.audio_frames["clean_after"] > 0, report

    log = report.log
    assert log["seqs_contiguous"], log
    for key, joined in log["joined"].items():
        assert joined - log["left"][key] == 1, log  # left while away, joined again: once in the room
    assert log["peers_missed_events"] == [[], []], log  # the rejoin replayed what they missed

    # Messages sent while disconnected are refused by the client (never acknowledged); every
    # acknowledged one is in the log exactly once, and nothing is there twice.
    m = report.messages
    assert m["acked"] > 0 and m["refused"] == 0, m
    assert log["chat_acked_in_log_once"] == m["chat_acked"] == log["chat_acked_seq_matches"], log
    assert log["votes_acked_in_log_once"] == m["votes_acked"] == log["votes_acked_ballot_once"], log
    assert log["chat_duplicates"] == 0 and log["vote_duplicates"] == 0, log
