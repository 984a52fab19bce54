"""Meeting -> node placement in Redis: two app processes on one PostgreSQL + Redis, real aiortc
peers signalling through either process; the media lives on the owner node."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.live import LiveServer
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.proc import ServerProcess, start_server_process
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient

TTL = 3.0


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    for c in cast.clients:
        await c.close()


@pytest.fixture
async def processes() -> AsyncIterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for p in started:
        await p.stop()


@pytest.fixture
async def peers() -> AsyncIterator[list[ClientPeer]]:
    made: list[ClientPeer] = []
    yield made
    for peer in made:
        await peer.close()


def offerer(client: RoomClient) -> Any:
    async def send(sdp: str, sources: dict[str, str]) -> str:
        ack = await client.ok("media.offer", {"sdp": sdp, "type": "offer", "sources": sources})
        assert ack["type"] == "answer"
        return str(ack["sdp"])

    return send


def pushed(client: RoomClient, name: str) -> list[Any]:
    return [data for event, data in client.other if event == name]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_meeting_media_lives_on_one_node_and_moves_when_it_dies(
    server: LiveServer,
    cast: Cast,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    processes: list[ServerProcess],
    peers: list[ClientPeer],
) -> None:
    secret = server.runtime.secret_key
    prefix = f"t{secrets.token_hex(4)}"
    for name in ("a", "b"):
        processes.append(
            await start_server_process(
                database_url,
                tmp_path / name,
                secret_key=secret,
                redis_url=redis_url,
                redis_prefix=prefix,
                extra_env={
                    "SMO_MEDIA_NODE_ID": f"node-{name}",
                    "SMO_MEDIA_PUBLIC_URL": f"http://node-{name}.example:8000",
                    "SMO_MEDIA_PLACEMENT_TTL": str(TTL),
                },
            )
        )
    a, b = processes
    redis = Redis.from_url(redis_url)
    key = f"{prefix}:media:meeting:{cast.meeting.id}"

    async def owner() -> str | None:
        value = await redis.get(key)
        return value.decode() if isinstance(value, bytes) else value

    async def released(timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while await owner() is not None:
            assert time.monotonic() < deadline, "placement still held"
            await asyncio.sleep(0.05)

    try:
        host, _ = await cast.joined("methodist", url=a.url)
        await host.ok("meeting.start")
        member, _ = await cast.joined("member", url=b.url)
        member_key = cast.key("member")

        # The member (on b) publishes first: b takes the meeting.
        speaker = ClientPeer(audio_slots=1, video_slots=1)
        peers.append(speaker)
        speaker.publish(ToneTrack(lambda t: t < 1.5), "mic")
        speaker.publish(PatternTrack(), "camera")
        await speaker.offer(offerer(member))
        assert await owner() == "node-b"
        assert (await redis.get(f"{prefix}:media:node:node-b")) == b"http://node-b.example:8000"
        # The host signals through a; a relays to b, and the media flows between host and b.
        viewer = ClientPeer(audio_slots=3, video_slots=2)
        peers.append(viewer)
        viewer.publish(ToneTrack(), "mic")
        await viewer.offer(offerer(host))
        config = await host.ok("media.config")
        assert config["locked"] is False and config["muted"] is False
        await wait_for(
            lambda: viewer.frames("video") >= 10 and viewer.frames("audio") >= 10, 20, what="media at host"
        )
        await wait_for(lambda: speaker.frames("audio") >= 10, 20, what="host's audio at the member")
        assert await owner() == "node-b"
        # b's pushes reach the host's connection on a; b's speech events reach the log.
        slots = await wait_for(lambda: pushed(host, "media.slots"), 10, what="slot map on a")
        assert {"participant": member_key, "source": "camera"} in slots[-1]["slots"].values()
        await host.wait_event(
            lambda e: e["type"] == "speech.started" and e["payload"]["participant"] == member_key
        )
        # Moderation from a acts on b's forwarding; typed errors come back from b.
        await host.ok("media.mute", {"participant": member_key})
        await wait_for(lambda: pushed(member, "media.muted"), 10, what="member told")
        assert (await member.ok("media.config"))["muted"] is True
        await host.ok("media.lock")
        assert await member.error("media.unmute") == "media_mic_locked"
        await host.ok("media.unlock")
        other, _ = await cast.joined("mo_head", url=a.url)
        assert (
            await other.error("media.candidate", {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"})
            == "media_no_peer"
        )

        # The last peers leave: the placement is released at once.
        await host.ok("media.leave")
        assert await owner() == "node-b"
        await member.ok("media.leave")
        await released(10)

        # b takes the meeting again, then dies: its placement stays until the TTL runs out
        # (signalling through a gets a typed error meanwhile), then a takes the meeting.
        again = ClientPeer(audio_slots=1, video_slots=1)
        peers.append(again)
        again.publish(ToneTrack(), "mic")
        await again.offer(offerer(member))
        assert await owner() == "node-b"
        b.kill9()
        died = time.monotonic()
        assert await owner() == "node-b"
        assert await host.error("media.offer", {"sdp": "v=0", "type": "offer"}) == "media_node_unavailable"
        await released(TTL + 10)
        print(f"placement of the dead node expired after {time.monotonic() - died:.1f}s (TTL {TTL}s)")
        publisher = ClientPeer(audio_slots=1, video_slots=1)
        peers.append(publisher)
        publisher.publish(PatternTrack(), "camera")
        await publisher.offer(offerer(host))
        assert await owner() == "node-a"
        watcher = ClientPeer(audio_slots=1, video_slots=1)
        peers.append(watcher)
        await watcher.offer(offerer(other))
        await wait_for(lambda: watcher.frames("video") >= 10, 20, what="media on the new owner")
    finally:
        await redis.aclose()
