"""A participant the way the browser's room page is one (static/js/room/connection.js and
media.js), for the impaired-network test: a Socket.IO connection that reconnects by itself and
joins again with the last seq it applied, and an aiortc connection to the SFU that is rebuilt
(new connection, same sources, a fresh offer) when ICE fails. Everything runs on the event
loop it is created on: a :class:`tests.support.netns.NamespaceLoop` puts it in a namespace.

Instrumented (instance attributes over aiortc 1.16.0's methods, as ``realtime/media/hooks.py``
does on the server side): NACKs and PLIs this peer's receivers send, the sequence numbers its
senders are asked to retransmit (and retransmit as RTX), the PLIs its senders receive, and the
arrival time of every decoded frame."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from tests.support.media_peers import ClientPeer

# The browser's Socket.IO options (connection.js): WebSocket only, 0.5 s .. 3 s between tries.
RECONNECT_DELAY = 0.5
RECONNECT_DELAY_MAX = 3.0
RTX_SEQ = "_RTCRtpSender__rtx_sequence_number"  # aiortc 1.16.0, advanced once per RTX sent
REBUILD_DELAY = 1.0  # media.js: setTimeout(() => queue(rebuild), 1000) after "failed"


@dataclass
class Feedback:
    """RTCP feedback seen by one participant's aiortc objects."""

    nack_packets_sent: int = 0  # RTCP NACK packets sent by this peer's receivers
    nacked_seqs_sent: int = 0  # sequence numbers listed in them
    pli_sent: int = 0
    retransmit_asked: int = 0  # sequence numbers this peer's senders were NACKed for
    rtx_sent: int = 0  # of those, sent again as RTX
    pli_received: int = 0
    rtx_received: int = 0  # RTX packets that reached this peer's receivers (routed by SSRC)


@dataclass
class Journal:
    """What a participant sent and got acknowledged, and its connection history."""

    joins: int = 0
    disconnects: int = 0
    connects: list[float] = field(default_factory=list)
    disconnected_at: list[float] = field(default_factory=list)
    rebuilds: list[float] = field(default_factory=list)  # media rebuild started
    rebuilt: list[float] = field(default_factory=list)  # ... and its offer answered
    rebuilt_on_rejoin: int = 0  # rebuilds because media.config said the server dropped it
    media_closed: list[dict[str, Any]] = field(default_factory=list)
    acked: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    unacked: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    refused: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    ack_times: list[tuple[float, str]] = field(default_factory=list)  # (arrival, message name)


class RoomPeer:
    def __init__(
        self,
        url: str,
        cookie: str,
        key: str,
        meeting_id: int,
        tracks: Callable[[], list[tuple[MediaStreamTrack, str]]],
    ) -> None:
        self.url = url
        self.cookie = cookie
        self.key = key  # participant key, "u:<id>"
        self.meeting_id = meeting_id
        self.make_tracks = tracks
        self.sio: socketio.AsyncClient  # made by connect(), on the participant's own loop

        self.events: dict[int, dict[str, Any]] = {}
        self.last_seq: int | None = None
        self.online = asyncio.Event()
        self.journal = Journal()
        self.feedback = Feedback()
        self.media: ClientPeer | None = None
        self.http: aiohttp.ClientSession | None = None
        self.media_tracks: list[tuple[MediaStreamTrack, str]] = []
        self.video_times: list[float] = []  # arrival of every decoded video frame (all slots)
        self.audio_times: list[float] = []
        self.trace: list[tuple[float, str, int]] = []  # (time, "nack"|"pli_sent"|"pli_received", n)
        self._busy = asyncio.Lock()
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- the room connection (connection.js) --------------------------------------------------
    async def connect(self) -> None:
        """Connect (on the loop that will run this participant). Like a browser, every
        (re)connection carries the session cookie: python-engineio 4.15 moves a ``Cookie``
        header into its own aiohttp session's jar and closes that session on a disconnect,
        so its automatic reconnection would arrive without the cookie ("unauthenticated");
        an aiohttp session of our own keeps the cookie for every attempt."""
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: the server is addressed by IP
        jar.update_cookies({"smo_session": self.cookie})
        self.http = aiohttp.ClientSession(cookie_jar=jar)
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=RECONNECT_DELAY,
            reconnection_delay_max=RECONNECT_DELAY_MAX,
            randomization_factor=0.0,
            http_session=self.http,
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("event", self._on_event)
        self.sio.on("media.closed", self._on_media_closed)
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=30)
        await asyncio.wait_for(self.online.wait(), 60)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_connect(self) -> None:
        self.journal.connects.append(time.monotonic())
        self._spawn(self._join())

    async def _on_disconnect(self, *reason: Any) -> None:
        self.journal.disconnects += 1
        self.journal.disconnected_at.append(time.monotonic())
        self.online.clear()

    async def _join(self) -> None:
        payload: dict[str, Any] = {"meeting_id": self.meeting_id}
        if self.last_seq is not None:
            payload["last_seq"] = self.last_seq
        try:
            ack = await self.sio.call("join", payload, timeout=60)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return  # dropped again: the next connect joins
        assert ack.get("ok"), ack
        self.journal.joins += 1
        if "state" in ack:
            self.last_seq = int(ack["state"]["last_seq"])
        for event in ack.get("events", []):
            self._apply(event)
        self.online.set()
        if self.journal.joins > 1 and self.media is not None:
            self._spawn(self._check_media(self.media))

    async def _check_media(self, peer: ClientPeer) -> None:
        """media.js after a reconnect: rebuild at once if the server dropped our media."""
        cfg = await self.sio.call("media.config", {}, timeout=60)
        if cfg.get("ok") and not cfg["peer"]:
            self.journal.rebuilt_on_rejoin += 1
            await self._rebuild_later(peer, delay=0.0)

    async def _on_event(self, event: dict[str, Any]) -> None:
        if self.online.is_set():
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        self.events.setdefault(seq, event)
        if self.last_seq is None or seq > self.last_seq:
            self.last_seq = seq

    async def _on_media_closed(self, data: dict[str, Any]) -> None:
        self.journal.media_closed.append(data)

    async def send(self, name: str, payload: dict[str, Any], timeout: float = 30) -> dict[str, Any] | None:
        """One user action: the ack, or None when none came (then it may or may not be stored)."""
        try:
            ack = await self.sio.call(name, payload, timeout=timeout)
        except Exception as exc:  # timeout, or not connected at that moment
            self.journal.unacked.append((name, payload, type(exc).__name__))
            return None
        self.journal.ack_times.append((time.monotonic(), name))
        if isinstance(ack, dict) and ack.get("ok"):
            self.journal.acked.append((name, payload, ack))
        else:
            self.journal.refused.append((name, payload, ack))
        return ack  # type: ignore[no-any-return]

    # --- media (media.js) ------------------------------------------------------------------
    async def start_media(self) -> None:
        await asyncio.wait_for(self.online.wait(), 120)  # media.js waits for the room first
        async with self._busy:
            cfg = await self.sio.call("media.config", {}, timeout=60)
            assert cfg.get("ok"), cfg
            assert cfg["iceServers"] == [], cfg  # only this machine's own addresses
            peer = ClientPeer(audio_slots=cfg["audio_slots"], video_slots=cfg["video_slots"])
            self.media = peer
            self.media_tracks = self.make_tracks()
            for track, source in self.media_tracks:
                peer.publish(track, source)
            peer.on_frame = self._on_frame
            peer.pc.on("connectionstatechange", lambda: self._state_changed(peer))
            await peer.offer(self._offer)
            self._instrument(peer)

    async def _offer(self, sdp: str, sources: dict[str, str]) -> str:
        ack = await self.sio.call(
            "media.offer", {"sdp": sdp, "type": "offer", "sources": sources}, timeout=60
        )
        assert ack.get("ok"), ack
        return str(ack["sdp"])

    def _on_frame(self, kind: str, at: float) -> None:
        (self.video_times if kind == "video" else self.audio_times).append(at)

    def _state_changed(self, peer: ClientPeer) -> None:
        # media.js rebuilds on "failed"; aiortc reports a connection the server closed (the
        # DTLS close alert, or ICE consent lost after the server dropped it) as "closed"
        if peer is self.media and not self._closing and peer.pc.connectionState in ("failed", "closed"):
            self._spawn(self._rebuild_later(peer))

    async def _rebuild_later(self, peer: ClientPeer, delay: float = REBUILD_DELAY) -> None:
        await asyncio.sleep(delay)  # the page's own delay before rebuilding after "failed"
        if peer is not self.media or self._closing:
            return
        self.media = None
        self.journal.rebuilds.append(time.monotonic())
        await peer.close()
        for track, _ in self.media_tracks:
            track.stop()
        await self.start_media()
        self.journal.rebuilt.append(time.monotonic())

    def _instrument(self, peer: ClientPeer) -> None:
        fb = self.feedback
        for t in peer.pc.getTransceivers():
            receiver: RTCRtpReceiver = t.receiver
            sender: RTCRtpSender = t.sender
            send_nack = receiver._send_rtcp_nack
            send_pli = receiver._send_rtcp_pli

            async def nack(ssrc: int, lost: list[int], _orig: Any = send_nack) -> None:
                self.trace.append((time.monotonic(), "nack", len(lost)))
                fb.nack_packets_sent += 1
                fb.nacked_seqs_sent += len(lost)
                await _orig(ssrc, lost)

            async def pli(ssrc: int, _orig: Any = send_pli) -> None:
                self.trace.append((time.monotonic(), "pli_sent", 0))
                fb.pli_sent += 1
                await _orig(ssrc)

            handle = receiver._handle_rtp_packet
            rtx_types = {c.payloadType for c in t._codecs if c.mimeType.lower().endswith("/rtx")}

            async def handle_rtp(
                packet: Any, arrival_time_ms: int, _orig: Any = handle, _rtx: Any = rtx_types
            ) -> None:
                if packet.payload_type in _rtx:
                    fb.rtx_received += 1
                await _orig(packet, arrival_time_ms=arrival_time_ms)

            receiver._handle_rtp_packet = handle_rtp  # type: ignore[method-assign]
            receiver._send_rtcp_nack = nack  # type: ignore[method-assign]
            receiver._send_rtcp_pli = pli  # type: ignore[method-assign]
            if sender.track is None:
                continue
            retransmit = sender._retransmit
            keyframe = sender._send_keyframe

            async def asked(seq: int, _orig: Any = retransmit, _sender: RTCRtpSender = sender) -> None:
                fb.retransmit_asked += 1
                before = getattr(_sender, RTX_SEQ)
                await _orig(seq)
                if getattr(_sender, RTX_SEQ) != before:  # found in its history, sent as RTX
                    fb.rtx_sent += 1

            def key(_orig: Any = keyframe) -> None:
                self.trace.append((time.monotonic(), "pli_received", 0))
                fb.pli_received += 1
                _orig()

            sender._retransmit = asked  # type: ignore[method-assign]
            sender._send_keyframe = key  # type: ignore[method-assign]

    # --- teardown -------------------------------------------------------------------------
    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.media is not None:
            with contextlib.suppress(Exception):
                await self.media.close()
        for track, _ in self.media_tracks:
            track.stop()
        if hasattr(self, "sio"):
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
            with contextlib.suppress(Exception):
                await self.sio.shutdown()
        if self.http is not None:
            await self.http.close()
