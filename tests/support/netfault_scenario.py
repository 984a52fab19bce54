"""A meeting over a bad network (tests/test_media_netfault.py and bench/netfault.py).

Two participants, each in a network namespace of its own (tests/support/netns.py), talk to
the real server (uvicorn in the root namespace, listening on the links' root addresses) through
the SFU: Alice publishes a camera and a microphone, Bob a microphone and watches Alice. The
moderator stays on loopback and opens the polls. Then both links get 5 % loss each way, 75 ms
each way (150 ms RTT) and 1 % reordering; in the middle of that, both links are cut for 3 s.
Alice and Bob keep sending chat messages and votes the whole time, without waiting for the
previous acknowledgement (as people do). Everything measured is returned in a
:class:`Report`; what must hold is checked by the callers."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from realtime.media.service import media_service
from realtime.meeting.registry import room_service
from server.db.models import Ballot, MeetingEvent
from tests.support.live import LiveServer
from tests.support.media_peers import PatternTrack, ToneTrack
from tests.support.net import wait_for
from tests.support.netfault_peer import RoomPeer
from tests.support.netns import ImpairedNetwork, NamespaceLoop
from tests.support.room_seed import Cast
from tests.support.sio import RoomClient

DECISION = {"question": "Утвердить план работы СМО на год?", "kind": "decision"}


@dataclass
class Impairment:
    loss: float = 0.05
    delay: float = 0.075  # one way: RTT 150 ms
    reorder: float = 0.01
    before_outage: float = 6.0  # seconds of impairment before the cut
    outage: float = 3.0
    after_outage: float = 10.0  # seconds of impairment after the cut
    chat_every: float = 1.5  # per person (the room allows 10 per 10 s)
    vote_every: float = 2.5
    polls: int = 8
    clean_before: float = 3.0


@dataclass
class Report:
    impairment: dict[str, Any]
    links: list[dict[str, Any]]
    # media, Bob receiving Alice
    video_frames: dict[str, int]  # per phase
    audio_frames: dict[str, int]
    freeze_after_outage_s: float | None  # outage end -> Bob's next decoded video frame
    audio_gap_after_outage_s: float | None  # outage end -> Bob's next decoded audio frame
    longest_video_gap_under_loss_s: float  # before the outage
    longest_video_freeze_after_outage_s: float  # from the outage's end to the end of the run
    feedback: dict[str, dict[str, int]]  # per peer: NACK / PLI / RTX counters
    sfu: dict[str, int]
    # connections
    reconnect: dict[str, Any]
    # chat and votes
    messages: dict[str, int]
    log: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def alice_tracks() -> list[tuple[Any, str]]:
    return [(ToneTrack(), "mic"), (PatternTrack(320, 240), "camera")]


def bob_tracks() -> list[tuple[Any, str]]:
    return [(ToneTrack(), "mic")]


async def _traffic(peer: RoomPeer, name: str, polls: list[int], p: Impairment, seconds: float) -> None:
    """Chat and votes spread over ``seconds``, each send not waiting for the previous ack."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sends: list[asyncio.Task[Any]] = []
    chat_at, vote_at, n_chat, n_vote = start, start + p.vote_every / 2, 0, 0
    while loop.time() < start + seconds:
        now = loop.time()
        if now >= chat_at:
            n_chat += 1
            text = f"{name}: сообщение {n_chat} при плохой связи"
            sends.append(asyncio.ensure_future(peer.send("chat.send", {"text": text})))
            chat_at += p.chat_every
        if now >= vote_at and n_vote < len(polls):
            payload = {"poll_id": polls[n_vote], "choices": [n_vote % 3]}
            sends.append(asyncio.ensure_future(peer.send("vote.cast", payload)))
            n_vote += 1
            vote_at += p.vote_every
        await asyncio.sleep(min(chat_at, vote_at) - loop.time() if n_vote < len(polls) else chat_at - now)
    await asyncio.gather(*sends)


def _count_between(times: list[float], start: float, end: float) -> int:
    return sum(1 for t in times if start <= t < end)


def _first_after(times: list[float], at: float) -> float | None:
    later = [t for t in times if t >= at]
    return min(later) - at if later else None


def _longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest time without a frame in [start, end] (counted from ``start``)."""
    inside = [start, *sorted(t for t in times if start < t <= end)]
    return max((b - a for a, b in itertools.pairwise(inside)), default=end - start)


def _journals(alice: RoomPeer, bob: RoomPeer) -> str:
    return "; ".join(
        f"{name}: connected={peer.sio.connected} online={peer.online.is_set()} journal={peer.journal} "
        f"media={peer.media.pc.connectionState if peer.media else None}"
        for name, peer in (("alice", alice), ("bob", bob))
    )


def _timeline(t_cut: float, t_restored: float, alice: RoomPeer, bob: RoomPeer, room: Any) -> str:
    rows = [(t, "bob", kind, n) for t, kind, n in bob.trace] + [(t, "alice", k, n) for t, k, n in alice.trace]
    rows += [(t, "bob", "video_frame", 0) for t in bob.video_times]
    lines = [
        f"{t - t_restored:+7.3f} {who} {kind} {n or ''}"
        for t, who, kind, n in sorted(rows)
        if t_cut - 1 <= t <= t_restored + 12
    ]
    return "\n".join(lines)


async def run(
    server: LiveServer, net: ImpairedNetwork, cast: Cast, p: Impairment, trace: bool = False
) -> Report:
    a_link, b_link = net.links[0], net.links[1]
    meeting_id = cast.meeting.id
    host = RoomClient(server.url, cast.cookie("methodist"))
    await host.connect()
    a_loop = await NamespaceLoop.start(a_link.namespace)
    b_loop = await NamespaceLoop.start(b_link.namespace)
    alice: RoomPeer | None = None
    bob: RoomPeer | None = None
    try:
        await host.ok("join", {"meeting_id": meeting_id})
        await host.ok("meeting.start")
        url = f"http://{a_link.root_address}:{server.port}"
        alice = await a_loop.run(
            _make_peer(url, cast.cookie("member"), cast.key("member"), meeting_id, "alice")
        )
        url = f"http://{b_link.root_address}:{server.port}"
        bob = await b_loop.run(
            _make_peer(url, cast.cookie("teacher2"), cast.key("teacher2"), meeting_id, "bob")
        )
        await a_loop.run(alice.start_media())
        await b_loop.run(bob.start_media())
        await wait_for(
            lambda: (
                len(bob.video_times) >= 30 and len(bob.audio_times) >= 50 and len(alice.audio_times) >= 50
            ),
            30,
            what="media flowing on clean links",
        )
        t_clean_start = time.monotonic()
        await asyncio.sleep(p.clean_before)  # the scenario's clock: a clean baseline
        polls = []
        for _ in range(p.polls):
            ack = await host.ok("poll.create", DECISION)
            await host.ok("poll.open", {"poll_id": ack["poll_id"]})
            polls.append(int(ack["poll_id"]))
        media_room = media_service(server.runtime).room(meeting_id)
        sfu_before = _sfu_counters(media_room, cast)
        fb_before = {"alice": asdict(alice.feedback), "bob": asdict(bob.feedback)}

        # --- impaired, with chat and votes the whole time -----------------------------------
        t_impaired = time.monotonic()
        for link in (a_link, b_link):
            link.impair(p.loss, p.delay, p.reorder)
        span = p.before_outage + p.outage + p.after_outage
        traffic = [
            asyncio.ensure_future(a_loop.run(_traffic(alice, "Алиса", polls, p, span))),
            asyncio.ensure_future(b_loop.run(_traffic(bob, "Борис", polls, p, span))),
        ]
        await asyncio.sleep(p.before_outage)  # the scenario's clock: the impairment lasts this long
        t_cut = time.monotonic()
        for link in (a_link, b_link):
            link.outage(True)
        await asyncio.sleep(p.outage)
        for link in (a_link, b_link):
            link.outage(False)
        t_restored = time.monotonic()
        await asyncio.sleep(p.after_outage)
        t_clean = time.monotonic()
        for link in (a_link, b_link):
            link.impair()
        await asyncio.gather(*traffic)  # every send has its ack (or gave up after 60 s)
        try:
            await wait_for(lambda: bob.online.is_set() and alice.online.is_set(), 60, what="both back online")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_journals(alice, bob)}") from None
        frames_at_clean = len(bob.video_times)
        await wait_for(lambda: len(bob.video_times) >= frames_at_clean + 30, 30, what="video on clean links")
        t_end = time.monotonic()

        # the room object is new if everyone's media was closed meanwhile (a long outage)
        room_now = media_service(server.runtime).sfu.rooms.get(meeting_id, media_room)
        if room_now is not media_room:
            sfu_before = {}  # counters of the rebuilt connections only
            media_room = room_now
        sfu_after = _sfu_counters(media_room, cast)
        log = await _check_log(server, cast, [alice, bob], polls)
        state = await room_service(server.runtime).current_state(meeting_id)
        reconnect = {
            name: {
                "socketio_disconnects": peer.journal.disconnects,
                "joins": peer.journal.joins,
                "first_ack_after_outage_s": _round(
                    _first_after([t for t, _ in peer.journal.ack_times], t_restored)
                ),
                "online_again_after_outage_s": (
                    round(max(peer.journal.connects) - t_restored, 3)
                    if peer.journal.connects and max(peer.journal.connects) > t_cut
                    else None
                ),
                "media_rebuilds": len(peer.journal.rebuilds),
                "media_rebuilt_on_rejoin": peer.journal.rebuilt_on_rejoin,
                "media_back_after_outage_s": _round(
                    max(peer.journal.rebuilt) - t_restored if peer.journal.rebuilt else None
                ),
                "media_closed": [c.get("reason") for c in peer.journal.media_closed],
                "ice_state": peer.media.pc.iceConnectionState if peer.media else None,
                "connection_state": peer.media.pc.connectionState if peer.media else None,
                "in_room": cast.key(role) in state.participants
                and bool(state.participants[cast.key(role)].get("connected")),
                "sfu_peers": sum(1 for k in media_room.peers if k == cast.key(role)),
            }
            for name, peer, role in (("alice", alice, "member"), ("bob", bob, "teacher2"))
        }
        vt, at = list(bob.video_times), list(bob.audio_times)
        report = Report(
            impairment=asdict(p),
            links=[link.counters() for link in (a_link, b_link)],
            video_frames={
                "clean_before": _count_between(vt, t_clean_start, t_clean_start + p.clean_before),
                "impaired_before_outage": _count_between(vt, t_impaired, t_cut),
                "outage": _count_between(vt, t_cut, t_restored),
                "impaired_after_outage": _count_between(vt, t_restored, t_clean),
                "clean_after": _count_between(vt, t_clean, t_end),
            },
            audio_frames={
                "clean_before": _count_between(at, t_clean_start, t_clean_start + p.clean_before),
                "impaired_before_outage": _count_between(at, t_impaired, t_cut),
                "outage": _count_between(at, t_cut, t_restored),
                "impaired_after_outage": _count_between(at, t_restored, t_clean),
                "clean_after": _count_between(at, t_clean, t_end),
            },
            freeze_after_outage_s=_round(_first_after(vt, t_restored)),
            audio_gap_after_outage_s=_round(_first_after(at, t_restored)),
            longest_video_gap_under_loss_s=round(_longest_gap(vt, t_impaired, t_cut), 3),
            longest_video_freeze_after_outage_s=round(_longest_gap(vt, t_restored, t_end), 3),
            feedback={
                name: {k: v - fb_before[name][k] for k, v in asdict(peer.feedback).items()}
                for name, peer in (("alice", alice), ("bob", bob))
            },
            sfu={k: sfu_after[k] - sfu_before.get(k, 0) for k in sfu_after},
            reconnect=reconnect,
            messages={
                "sent": sum(
                    len(x.journal.acked) + len(x.journal.unacked) + len(x.journal.refused)
                    for x in (alice, bob)
                ),
                "acked": sum(len(x.journal.acked) for x in (alice, bob)),
                "unacked": sum(len(x.journal.unacked) for x in (alice, bob)),
                "refused": sum(len(x.journal.refused) for x in (alice, bob)),
                "chat_acked": sum(1 for x in (alice, bob) for m in x.journal.acked if m[0] == "chat.send"),
                "votes_acked": sum(1 for x in (alice, bob) for m in x.journal.acked if m[0] == "vote.cast"),
            },
            log=log,
        )
        if any(x.journal.refused for x in (alice, bob)):
            report.notes.append(f"refused: {[r for x in (alice, bob) for r in x.journal.refused][:5]}")
        if trace:
            report.notes.append(_timeline(t_cut, t_restored, alice, bob, media_room))
        return report
    finally:
        for loop, peer in ((a_loop, alice), (b_loop, bob)):
            if peer is not None:
                await asyncio.wait_for(loop.run(peer.close()), 30)
            await loop.stop()
        await host.close()


async def _make_peer(url: str, cookie: str, key: str, meeting_id: int, name: str) -> RoomPeer:
    peer = RoomPeer(url, cookie, key, meeting_id, alice_tracks if name == "alice" else bob_tracks)
    await peer.connect()
    return peer


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _sfu_counters(room: Any, cast: Cast) -> dict[str, int]:
    bob = room.peers.get(cast.key("teacher2"))
    slots = list(bob.slots.values()) if bob else []
    pubs = [p for p in room.publications if p.participant == cast.key("member")]
    return {
        "rtx_sent_to_bob": sum(s.retransmitted for s in slots),
        "packets_sent_to_bob": sum(s.packets_sent for s in slots),
        "pli_sent_to_alice": sum(p.keyframe_requests for p in pubs if p.kind == "video"),
        "rtx_from_alice": sum(p.rtx_packets for p in pubs),
        "packets_from_alice": sum(p.packets for p in pubs),
    }


async def _check_log(
    server: LiveServer, cast: Cast, peers: list[RoomPeer], polls: list[int]
) -> dict[str, Any]:
    """The meeting log against what was acknowledged: every acknowledged chat message and
    vote exactly once, seqs contiguous, one join per participant unless it really left."""
    async with server.runtime.db.read() as s:
        events = list(
            await s.scalars(
                select(MeetingEvent)
                .where(MeetingEvent.meeting_id == cast.meeting.id)
                .order_by(MeetingEvent.seq)
            )
        )
        ballots = list(await s.scalars(select(Ballot).where(Ballot.poll_id.in_(polls))))
    seqs = [e.seq for e in events]
    # Each participant's own view: every event from its first one to the log's last, once.
    await wait_for(lambda: all((p.last_seq or 0) >= seqs[-1] for p in peers), 30, what="peers caught up")
    chats = Counter(e.payload.get("text") for e in events if e.type == "chat.message")
    votes = Counter(
        (e.payload.get("poll_id"), e.payload.get("voter")) for e in events if e.type == "vote.cast"
    )
    ballot_rows = Counter((b.poll_id, b.voter) for b in ballots)
    acked_chat = [(m[1]["text"], m[2]["seq"]) for p in peers for m in p.journal.acked if m[0] == "chat.send"]
    by_seq = {e.seq: e for e in events}
    acked_votes = [(m[1]["poll_id"], p.key) for p in peers for m in p.journal.acked if m[0] == "vote.cast"]
    joined = Counter(e.payload.get("participant") for e in events if e.type == "participant.joined")
    left = Counter(e.payload.get("participant") for e in events if e.type == "participant.left")
    return {
        "events": len(events),
        "seqs_contiguous": seqs == list(range(1, len(seqs) + 1)),
        "chat_acked_in_log_once": sum(1 for text, _ in acked_chat if chats[text] == 1),
        "chat_acked_seq_matches": sum(
            1 for text, seq in acked_chat if seq in by_seq and by_seq[seq].payload.get("text") == text
        ),
        "chat_duplicates": sum(1 for n in chats.values() if n > 1),
        "votes_acked_in_log_once": sum(1 for v in acked_votes if votes[v] == 1),
        "votes_acked_ballot_once": sum(1 for v in acked_votes if ballot_rows[v] == 1),
        "vote_duplicates": sum(1 for n in votes.values() if n > 1)
        + sum(1 for n in ballot_rows.values() if n > 1),
        "joined": {cast.key(r): joined[cast.key(r)] for r in ("member", "teacher2")},
        "left": {cast.key(r): left[cast.key(r)] for r in ("member", "teacher2")},
        "peers_missed_events": [
            sorted(set(range(min(p.events), seqs[-1] + 1)) - set(p.events)) for p in peers
        ],
    }
