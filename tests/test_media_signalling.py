"""Media signalling and moderation over a real Socket.IO connection to a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtime.media.service import media_service
from tests.support.live import LiveServer
from tests.support.media_peers import ClientPeer, PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast
from tests.support.sio import RoomClient


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


def offerer(client: RoomClient) -> Any:
    async def send(sdp: str, sources: dict[str, str]) -> str:
        ack = await client.ok("media.offer", {"sdp": sdp, "type": "offer", "sources": sources})
        assert ack["type"] == "answer"
        return str(ack["sdp"])

    return send


def pushed(client: RoomClient, name: str) -> list[Any]:
    return [data for event, data in client.other if event == name]


async def started_without_media(server: LiveServer, cast: Cast) -> tuple[RoomClient, RoomClient]:
    """The methodist has started the meeting and the member is in; no media connection is left
    from a previous test (the same ids after the truncation: the presence check releases them)."""
    sfu = media_service(server.runtime).sfu
    await wait_for(
        lambda: not any(room.peers for room in sfu.rooms.values()), 15, what="earlier media released"
    )
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    return host, member


async def test_media_through_the_room(server: LiveServer, cast: Cast) -> None:
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    member_key = cast.key("member")
    speaker = ClientPeer(audio_slots=1, video_slots=1)
    speaker.publish(ToneTrack(lambda t: t < 1.0), "mic")
    speaker.publish(PatternTrack(), "camera")
    viewer = ClientPeer(audio_slots=3, video_slots=2)
    viewer.publish(ToneTrack(lambda t: False), "mic")
    try:
        await speaker.offer(offerer(member))
        await viewer.offer(offerer(host))
        await wait_for(lambda: viewer.frames("video") >= 5 and viewer.frames("audio") >= 5, 15, what="media")
        # The viewer is told which slot carries whom.
        slots = await wait_for(lambda: pushed(host, "media.slots"), 10, what="slot map")
        assert {"participant": member_key, "source": "camera"} in slots[-1]["slots"].values()

        # Speech detected on the server is durable: it is in the meeting log.
        await host.wait_event(
            lambda e: e["type"] == "speech.started" and e["payload"]["participant"] == member_key
        )
        await host.wait_event(
            lambda e: e["type"] == "speech.ended" and e["payload"]["participant"] == member_key
        )

        # Moderation.
        assert await member.error("media.mute", {"participant": cast.key("methodist")}) == "forbidden"
        await host.ok("media.mute", {"participant": member_key})
        await host.wait_event(
            lambda e: e["type"] == "mic.muted" and e["payload"]["participant"] == member_key
        )
        await wait_for(lambda: pushed(member, "media.muted"), 10, what="member told")
        room = media_service(server.runtime).room(cast.meeting.id)
        assert all(
            p.muted and not p.slots
            for p in room.publications
            if p.participant == member_key and p.kind == "audio"
        )
        await member.ok("media.unmute")
        await host.ok("media.lock")
        await host.wait_event(lambda e: e["type"] == "mic.muted" and e["payload"]["locked"] is True)
        assert await member.error("media.unmute") == "media_mic_locked"
        await host.ok("media.unlock")
        await host.wait_event(lambda e: e["type"] == "mic.unlocked")
        await member.ok("media.unmute")
        assert await host.error("media.screen_stop", {"participant": member_key}) == "media_no_screen"
        assert await host.error("media.mute", {"participant": "u:999999"}) == "participant_unknown"

        # Bad input: typed errors, nothing changes, the connection survives.
        other, _ = await cast.joined("mo_head")
        assert (
            await other.error("media.offer", {"sdp": "v=0\r\ngarbage", "type": "offer"}) == "media_bad_signal"
        )
        assert await other.error("media.offer", {"sdp": "x", "type": "answer"}) == "validation_failed"
        assert await other.error("media.offer", {"sdp": "x", "evil": 1}) == "validation_failed"
        assert await other.error(
            "media.candidate", {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"}
        ) == ("media_no_peer")
        assert cast.key("mo_head") not in room.peers
        await other.ok("chat.send", {"text": "связь в порядке"})
        # The member leaves the meeting (last connection closed): the SFU closes their media,
        # though their WebRTC connection itself is still up.
        await member.close()
        await wait_for(lambda: member_key not in room.peers, 10, what="media of a leaver closed")
        await host.ok("media.leave")
    finally:
        await speaker.close()
        await viewer.close()
    await wait_for(lambda: media_service(server.runtime).sfu.peer_count() == 0, 10, what="peers released")


async def test_the_microphone_lock_survives_a_new_media_room(server: LiveServer, cast: Cast) -> None:
    """A node that (re)starts a meeting's media (restart, failover to another node) takes the
    lock from the meeting's log: a locked meeting stays locked, an unlocked one stays open."""
    host, _ = await cast.joined("methodist")
    await host.ok("meeting.start")
    member, _ = await cast.joined("member")
    service = media_service(server.runtime)

    async def offer_on_a_new_room() -> bool:
        await service.sfu.leave(cast.meeting.id, cast.key("member"))
        service.sfu.rooms.pop(cast.meeting.id, None)  # as if this node had just taken it over
        peer = ClientPeer(audio_slots=1, video_slots=0)
        peer.publish(ToneTrack(lambda t: False), "mic")
        answers: list[dict[str, Any]] = []

        async def send(sdp: str, sources: dict[str, str]) -> str:
            ack = await member.ok("media.offer", {"sdp": sdp, "type": "offer", "sources": sources})
            answers.append(ack)
            return str(ack["sdp"])

        try:
            await peer.offer(send)
        finally:
            await peer.close()
        return bool(answers[0]["locked"])

    assert await offer_on_a_new_room() is False
    await host.ok("media.lock")
    await host.wait_event(lambda e: e["type"] == "mic.muted" and e["payload"]["locked"] is True)
    assert await offer_on_a_new_room() is True
    assert await member.error("media.unmute") == "media_mic_locked"
    await host.ok("media.unlock")
    await host.wait_event(lambda e: e["type"] == "mic.unlocked")
    assert await offer_on_a_new_room() is False


async def test_media_config_tells_whether_the_server_holds_the_persons_media(
    server: LiveServer, cast: Cast
) -> None:
    """The page asks after a Socket.IO reconnect: false = the server dropped its media while it
    was away, so it rebuilds at once instead of waiting for ICE to fail."""
    host, member = await started_without_media(server, cast)
    assert (await member.ok("media.config"))["peer"] is False
    peer = ClientPeer(audio_slots=1, video_slots=0)
    peer.publish(ToneTrack(), "mic")
    try:
        await peer.offer(offerer(member))
        assert (await member.ok("media.config"))["peer"] is True
        assert (await host.ok("media.config"))["peer"] is False  # only one's own
        await member.ok("media.leave")
        assert (await member.ok("media.config"))["peer"] is False
    finally:
        await peer.close()


async def test_removal_and_the_end_close_media_before_the_moderator_is_answered(
    server: LiveServer, cast: Cast
) -> None:
    """Once the log says someone was removed, or that the meeting ended, their camera and
    microphone leave the room before the moderator's action is acknowledged (the once-a-second
    presence check only catches up where the media node could not be told)."""
    sfu = media_service(server.runtime).sfu
    host, member = await started_without_media(server, cast)
    other, _ = await cast.joined("mo_head")
    member_key, other_key = cast.key("member"), cast.key("mo_head")
    peers = {client: ClientPeer(audio_slots=1, video_slots=1) for client in (host, member, other)}
    try:
        for client, peer in peers.items():
            peer.publish(ToneTrack(), "mic")
            peer.publish(PatternTrack(), "camera")
            await peer.offer(offerer(client))
        room = media_service(server.runtime).room(cast.meeting.id)
        await wait_for(lambda: len(room.peers) == 3, 10, what="three media connections")

        await host.ok("participant.remove", {"participant": member_key})
        assert member_key not in room.peers
        assert not any(p.participant == member_key for p in room.publications)
        closed = await wait_for(lambda: pushed(member, "media.closed"), 10, what="the removed told")
        assert closed[-1]["reason"] == "removed"
        assert {host_key for host_key in room.peers} == {cast.key("methodist"), other_key}

        await host.ok("meeting.end")
        assert not any(r.peers for _key, r in sfu.rooms_of(cast.meeting.id))
        for client in (host, other):
            closed = await wait_for(lambda c=client: pushed(c, "media.closed"), 10, what="the end told")
            assert closed[-1]["reason"] == "meeting_ended"
    finally:
        for peer in peers.values():
            await peer.close()
