"""A meeting's media: its peers, the forwarding policy, speech events and moderation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from realtime.media.capture import CapturedSpeech, SpeechCapture
from realtime.media.config import MediaConfig
from realtime.media.errors import BadSignal, MediaError, NoPeer, ScreenBusy
from realtime.media.peer import Peer, Publication, Source, offer_ufrag
from realtime.media.recorder import TrackWriter

log = logging.getLogger("smo.media")

# notify(kind, participant, data): "speech.started" / "speech.ended" / "screen.started" /
# "screen.stopped" / "slots" ({slots: {mid: {participant, source} | None}, mics: [participant...]})
# / "closed" ({reason}) / "speech.captured" ({speech: CapturedSpeech}, transcription on).
Notify = Callable[[str, str, dict[str, Any]], None]
# open_track(publication) -> the writer of its file while the meeting is recorded.
TrackOpener = Callable[[Publication], TrackWriter]


class MediaRoom:
    def __init__(self, meeting_id: int, config: MediaConfig, notify: Notify) -> None:
        self.meeting_id = meeting_id
        self.config = config
        self.notify = notify
        self.peers: dict[str, Peer] = {}
        self.muted: set[str] = set()  # participants muted by a moderator
        self.locked = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slot_maps: dict[str, dict[str, Any]] = {}
        self._mics_sent: dict[str, list[str]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.transcribing = False  # the meeting's transcription is on and the engine can run
        # Switches ("lock", "transcription", "recording") an operation set since the room was
        # made: newer than the log the room's set-up reads (MediaService._fresh).
        self.switched: set[str] = set()
        self.recording: TrackOpener | None = None

    # --- transcription -----------------------------------------------------------------------
    def set_transcribing(self, on: bool) -> None:
        """Capture every microphone's speech (on) or stop and forget what is being captured."""
        self.transcribing = on
        for pub in self.publications:
            self._capture(pub)

    def _capture(self, pub: Publication) -> None:
        if pub.kind != "audio":
            return
        if self.transcribing and pub.capture is None:
            pub.capture = SpeechCapture(pub.participant, self.config.speech_level, self._captured)
        elif not self.transcribing and pub.capture is not None:
            pub.capture.drop()
            pub.capture = None

    def _captured(self, speech: CapturedSpeech) -> None:
        self.notify("speech.captured", speech.participant, {"speech": speech})

    # --- lifecycle ---------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("media task failed", exc_info=task.exception())

    @property
    def publications(self) -> list[Publication]:
        return [p for peer in self.peers.values() for p in peer.publications.values()]

    async def offer(self, participant: str, sdp: str, sources: dict[str, Source] | None = None) -> str:
        """The client's (re-)offer -> the SFU's answer SDP."""
        sources = sources or {}
        if "screen" in sources.values() and any(
            p.source == "screen" and not p.stopped and p.participant != participant for p in self.publications
        ):
            raise ScreenBusy()
        peer = self.peers.get(participant)
        if peer is not None and peer.remote_ufrag not in (None, offer_ufrag(sdp)):
            # Another connection of the same person (a second tab, a rebuilt connection after
            # an ICE failure): it replaces the old one.
            await self.remove_peer(participant, reason="replaced")
            peer = None
        if peer is None:
            peer = self.peers[participant] = Peer(self, participant)
            self.spawn(self._ice_deadline(peer))
            if self._ticker is None:
                self._ticker = asyncio.ensure_future(self._tick())
        if peer.pc.signalingState != "stable":
            raise BadSignal()  # an offer while the previous one is being answered
        try:
            answer, added = await peer.negotiate(sdp, sources)
        except MediaError:
            # aiortc cannot roll back a half-applied offer: the client starts over.
            await self.remove_peer(participant, reason="bad_signal")
            raise
        for pub in added:
            self._capture(pub)
            if pub.kind == "audio" and participant in self.muted:
                pub.muted = True
            if pub.source == "screen":
                self.notify("screen.started", participant, {})
            if self.recording is not None:
                self._start_recording(pub)
        self.rebalance()
        return answer

    async def candidate(self, participant: str, candidate: str, sdp_mid: str | None) -> None:
        peer = self.peers.get(participant)
        if peer is None:
            raise NoPeer()
        await peer.add_candidate(candidate, sdp_mid)

    async def _ice_deadline(self, peer: Peer) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(peer.connected.wait(), self.config.ice_timeout)
        if not peer.connected.is_set() and self.peers.get(peer.participant) is peer:
            await self.remove_peer(peer.participant, reason="ice_timeout")

    async def remove_peer(self, participant: str, reason: str = "left") -> None:
        peer = self.peers.pop(participant, None)
        if peer is None:
            return
        for pub in list(peer.publications.values()):
            self._retire(pub)
        peer.publications.clear()
        self._clear_slots(peer)
        await peer.close()
        # ufrag: which of the person's connections was closed (the page ignores an older one)
        self.notify("closed", participant, {"reason": reason, "ufrag": peer.remote_ufrag})
        self.rebalance()

    # --- moving between a meeting's rooms (breakout groups) -----------------------------------
    def release_peer(self, participant: str) -> Peer | None:
        """Take a person's peer out of this room with its connection open (it moves to another
        of the meeting's rooms): nobody here receives its media any more, its slots carry
        nothing until the other room fills them. The caller rebalances this room."""
        peer = self.peers.pop(participant, None)
        if peer is None:
            return None
        for pub in peer.publications.values():
            for slot in tuple(pub.slots):
                slot.assign(None)
            pub.slots.clear()
        self._clear_slots(peer)
        self.muted.discard(participant)
        return peer

    def _clear_slots(self, peer: Peer) -> None:
        """The peer's receive slots carry nothing, and this room forgets what it told the peer."""
        for slot in peer.slots.values():
            if isinstance(slot.source, Publication):
                slot.source.slots.discard(slot)
            slot.assign(None)
        self._slot_maps.pop(peer.participant, None)
        self._mics_sent.pop(peer.participant, None)

    def adopt_peer(self, peer: Peer, *, muted: bool) -> None:
        """A peer released by another room of the meeting joins this one over the same
        connection: no renegotiation, no ICE, no DTLS. The caller rebalances this room, which
        fills the peer's slots and sends its new slot map."""
        peer.room = self
        self.peers[peer.participant] = peer
        if muted:
            self.muted.add(peer.participant)
        screen_taken = any(
            p.source == "screen" and not p.stopped
            for p in self.publications
            if p.participant != peer.participant
        )
        for pub in list(peer.publications.values()):
            pub.room = self
            if pub.source == "screen" and not pub.stopped and screen_taken:
                self._retire(pub)  # one screen per room: the room's own share stays
                continue
            self._capture(pub)
            if self.recording is not None and pub.recorder is None and not pub.stopped:
                self._start_recording(pub)
            elif self.recording is None:
                self._stop_recording(pub)
        if not peer.connected.is_set():
            self.spawn(self._ice_deadline(peer))
        if self._ticker is None:
            self._ticker = asyncio.ensure_future(self._tick())

    def unpublish(self, pub: Publication) -> None:
        self._retire(pub)
        self.rebalance()

    def _retire(self, pub: Publication) -> None:
        was_screen = pub.source == "screen" and not pub.stopped
        pub.stopped = True
        self._stop_recording(pub)
        self._end_speech(pub)
        for slot in tuple(pub.slots):
            slot.assign(None)
        pub.slots.clear()
        if was_screen:
            self.notify("screen.stopped", pub.participant, {})

    async def close(self) -> None:
        for participant in list(self.peers):
            await self.remove_peer(participant, reason="closed")
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def idle(self) -> bool:
        return not self.peers

    # --- recording ---------------------------------------------------------------------------
    def set_recording(self, opener: TrackOpener | None) -> None:
        """Start (an opener given) or stop writing every published track to its own file."""
        self.recording = opener
        for pub in self.publications:
            if opener is None:
                self._stop_recording(pub)
            elif pub.recorder is None and not pub.stopped:
                self._start_recording(pub)

    def _start_recording(self, pub: Publication) -> None:
        assert self.recording is not None
        try:
            pub.recorder = self.recording(pub)
        except Exception:  # no directory, no space: the meeting goes on unrecorded
            log.exception("recording could not start", extra={"meeting_id": self.meeting_id})
            return
        pub.request_keyframe()

    @staticmethod
    def _stop_recording(pub: Publication) -> None:
        if pub.recorder is not None:
            pub.recorder.close()
            pub.recorder = None

    # --- speech ------------------------------------------------------------------------------
    def speech_changed(self, pub: Publication, change: str) -> None:
        if change == "started":
            pub.last_spoke = time.monotonic()
        self.notify(f"speech.{change}", pub.participant, {})
        if pub.capture is not None:
            if change == "started":
                pub.capture.started(time.monotonic())
            else:
                pub.capture.ended(time.monotonic())
        self.rebalance()

    def _end_speech(self, pub: Publication) -> None:
        if pub.detector is not None and pub.detector.reset() == "ended":
            self.notify("speech.ended", pub.participant, {})
        if pub.capture is not None:
            pub.capture.ended(time.monotonic())

    async def _tick(self) -> None:
        last_rank = 0.0
        while True:
            await asyncio.sleep(self.config.tick)
            now = time.monotonic()
            for pub in self.publications:
                if pub.detector is not None and pub.active:
                    change = pub.detector.tick(now)
                    if change is not None:
                        self.speech_changed(pub, change)
            if now - last_rank >= 0.5:  # loudest speakers change slowly; re-rank twice a second
                last_rank = now
                self.rebalance()

    def speaking(self) -> list[str]:
        return sorted({p.participant for p in self.publications if p.detector and p.detector.speaking})

    # --- moderation --------------------------------------------------------------------------
    def mute(self, participant: str) -> None:
        """Stop forwarding the participant's audio at once."""
        self.muted.add(participant)
        peer = self.peers.get(participant)
        if peer is not None:
            for pub in peer.publications.values():
                if pub.kind == "audio" and not pub.muted:
                    pub.muted = True
                    self._end_speech(pub)
                    for slot in tuple(pub.slots):
                        slot.assign(None)
                    pub.slots.clear()
        self.rebalance()

    def mute_all(self, *, lock: bool, keep: frozenset[str] = frozenset()) -> None:
        if lock:
            self.locked = True
        for participant in self.peers:
            if participant not in keep:
                self.mute(participant)

    def unlock(self) -> None:
        self.locked = False

    def unmute(self, participant: str) -> None:
        self.muted.discard(participant)
        peer = self.peers.get(participant)
        if peer is not None:
            for pub in peer.publications.values():
                if pub.kind == "audio":
                    pub.muted = False
        self.rebalance()

    def stop_screen(self, participant: str) -> bool:
        peer = self.peers.get(participant)
        stopped = False
        if peer is not None:
            for pub in peer.publications.values():
                if pub.source == "screen" and not pub.stopped:
                    self._retire(pub)
                    stopped = True
        self.rebalance()
        return stopped

    # --- forwarding policy -------------------------------------------------------------------
    def rebalance(self) -> None:
        pubs = [p for p in self.publications if p.active]
        audio = sorted(
            (p for p in pubs if p.kind == "audio"),
            key=lambda p: (
                p.detector is not None and p.detector.speaking,
                p.detector.loudness if p.detector else 0.0,
            ),
            reverse=True,
        )
        mics = self.mics()
        screens = [p for p in pubs if p.source == "screen"]
        cameras = sorted((p for p in pubs if p.source == "camera"), key=lambda p: (-p.last_spoke, p.created))
        for peer in list(self.peers.values()):
            me = peer.participant
            wanted_audio = [p for p in audio if p.participant != me][: self.config.max_audio]
            others = [p for p in cameras if p.participant != me][: self.config.last_n]
            wanted_video = [p for p in screens if p.participant != me] + others
            self._fill(peer, "audio", wanted_audio)
            self._fill(peer, "video", wanted_video)
            self._announce(peer, mics)

    def _fill(self, peer: Peer, kind: str, wanted: list[Publication]) -> None:
        slots = [s for s in peer.slots.values() if s.kind == kind and s.readyState == "live"]
        wanted = wanted[: len(slots)]
        keep = set(wanted)
        free = []
        for slot in slots:
            if slot.source in keep:
                keep.discard(slot.source)
                continue
            if isinstance(slot.source, Publication):
                slot.source.slots.discard(slot)
                slot.assign(None)
            free.append(slot)
        for pub in wanted:
            if pub in keep and free:
                slot = free.pop(0)
                slot.assign(pub)
                slot.need_keyframe = pub.request_keyframe
                pub.slots.add(slot)
                pub.request_keyframe()

    def mics(self) -> list[str]:
        """Who has a microphone on (published and not muted): the rooms' tiles show the rest
        as «микрофон выключен»."""
        return sorted({p.participant for p in self.publications if p.kind == "audio" and p.active})

    def _announce(self, peer: Peer, mics: list[str]) -> None:
        mapping = {
            mid: (
                {"participant": slot.source.participant, "source": slot.source.source}
                if isinstance(slot.source, Publication)
                else None
            )
            for mid, slot in peer.slots.items()
        }
        if self._slot_maps.get(peer.participant) != mapping or self._mics_sent.get(peer.participant) != mics:
            self._slot_maps[peer.participant] = mapping
            self._mics_sent[peer.participant] = mics
            self.notify("slots", peer.participant, {"slots": mapping, "mics": mics})

    def slot_map(self, participant: str) -> dict[str, Any]:
        return self._slot_maps.get(participant, {})
