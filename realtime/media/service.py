"""The app's SFU, bound to the runtime: media facts go to the meeting log, slot maps and
closes to the participant's connections. Created on first use, closed with the realtime
server (``runtime.services["realtime_shutdown"]``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media import sendthread
from realtime.media.config import MediaConfig
from realtime.media.errors import MicLocked
from realtime.media.placement import NodeUnavailable, NotOwner, Placement, default_node_id
from realtime.media.recording import RecordingFiles
from realtime.media.room import MediaRoom
from realtime.media.sfu import RoomKey, Sfu, meeting_of, room_key
from realtime.media.speech_queue import speech_queue
from realtime.media.transcriber import transcriber
from realtime.meeting.broadcast import participant_room
from server.domain.meeting.groups import room_of
from server.domain.meeting.media import microphones_locked, record_media_fact
from server.domain.meeting.recording import recording_switched_on
from server.domain.meeting.room_state import Outcome, RoomState
from server.domain.meeting.transcript import switched_on
from server.errors import AppError, NotFound

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.media")
SERVICE_KEY = "media"
PRESENCE_CHECK_SECONDS = 1.0
LOGGED = ("speech.started", "speech.ended", "screen.started", "screen.stopped")
# Operations that place the meeting on this node when nobody holds it (they create state).
CLAIMING = frozenset({"offer", "mute", "mute_all", "lock"})
# Why the room service closes media at once ("close"); the page does not reconnect after these.
CLOSE_REASONS = frozenset({"removed", "meeting_ended"})


class MediaService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sfu = Sfu(MediaConfig.from_settings(runtime.settings), self._notify)
        self._queue: asyncio.Queue[tuple[RoomKey, str, str, dict[str, Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._warden: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self.recording = RecordingFiles(runtime)
        settings = runtime.settings
        self.node_id: str = getattr(settings, "media_node_id", None) or default_node_id()
        self.placement: Placement | None = None
        if runtime.redis is not None:
            self.placement = Placement(
                runtime.redis,
                settings.redis_prefix,
                self.node_id,
                getattr(settings, "media_public_url", None) or settings.public_url,
                self.sfu.config.placement_ttl,
                self._serve,
            )

    # --- operations, run on the meeting's owner node ------------------------------------------
    async def run(self, meeting_id: int, op: str, **args: Any) -> dict[str, Any]:
        """Run a media operation where the meeting's media lives: here without Redis; with
        Redis on the placement's owner (claimed by this node if free, for ``CLAIMING`` ops),
        relayed over Redis pub/sub when that is another node."""
        placement = self.placement
        if placement is None:
            return await self._execute(meeting_id, op, args)
        for _ in range(3):
            owner = await (placement.claim(meeting_id) if op in CLAIMING else placement.owner(meeting_id))
            if owner is None or owner == self.node_id:
                return await self._execute(meeting_id, op, args)
            try:
                return await placement.call(owner, meeting_id, op, args)
            except AppError as err:
                if err.code != NotOwner.code:
                    raise
        raise NodeUnavailable()

    async def _serve(self, meeting_id: int, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """An operation relayed to us by another node: only if we (still) own the meeting."""
        assert self.placement is not None
        placement = self.placement
        owner = await (placement.claim(meeting_id) if op in CLAIMING else placement.owner(meeting_id))
        if owner not in (None, self.node_id):
            raise NotOwner()
        return await self._execute(meeting_id, op, args)

    def _peer_room(self, meeting_id: int, participant: str) -> RoomKey:
        """The room (main or a group's) holding the participant's media; else the main room."""
        for key, room in self.sfu.rooms_of(meeting_id):
            if participant in room.peers:
                return key
        return meeting_id

    async def _execute(self, meeting_id: int, op: str, args: dict[str, Any]) -> dict[str, Any]:
        participant = str(args.get("participant", ""))
        if op == "state":
            existing = self.sfu.rooms.get(self._peer_room(meeting_id, participant))
            main = self.sfu.rooms.get(meeting_id)
            return {
                "locked": bool(main and main.locked) or bool(existing and existing.locked),
                "muted": bool(existing and participant in existing.muted),
                "peer": bool(existing and participant in existing.peers),
            }
        if op == "transcription" and not self.sfu.rooms_of(meeting_id):
            return {"transcribing": False}  # no media yet: the room reads the switch when it starts
        if op == "recording":  # the switch was logged: follow it now (the watcher would within 1 s)
            for _key, existing in self.sfu.rooms_of(meeting_id):
                existing.switched.add("recording")
                self.recording.apply(existing, bool(args.get("on")))
            return {}
        if op == "regroup":  # groups started, ended or someone moved: media follows the log now
            from realtime.meeting.registry import room_service

            await self._regroup(meeting_id, await room_service(self.runtime).current_state(meeting_id))
            return {}
        if op == "close":  # removed, or the meeting ended: logged, so media stops now, not at the next check
            reason = args.get("reason")
            if reason not in CLOSE_REASONS:
                raise ValueError(f"media close: unknown reason {reason!r}")
            for key, existing in list(self.sfu.rooms_of(meeting_id)):
                for who in [participant] if participant else list(existing.peers):
                    if who in existing.peers:
                        await self.sfu.leave(key, who, reason=reason)
                await self._reap(key)
            return {}
        if op == "leave":
            key = self._peer_room(meeting_id, participant)
            await self.sfu.leave(key, participant)
            await self._reap(key)
            return {}
        if op == "offer":  # into the room the log puts the person in (the signalling read it)
            key = room_key(meeting_id, args.get("group"))
            held = self._peer_room(meeting_id, participant)
            if held != key:  # the log put the person in another room: the connection moves along
                await self._move(meeting_id, {participant: key})
        else:
            key = self._peer_room(meeting_id, participant)
        room = await self._fresh(meeting_id, key)
        if op in ("mute_all", "lock", "unlock", "transcription"):  # every room of the meeting
            for other_key, other in self.sfu.rooms_of(meeting_id):
                if other_key != key:
                    self._apply(other, op, args)
        if op == "offer":
            sdp = await room.offer(participant, args["sdp"], args.get("sources") or {})
            return {
                "sdp": sdp,
                "slots": room.slot_map(participant),
                "locked": room.locked,
                "mics": room.mics(),
            }
        if op == "candidate":
            await room.candidate(participant, args["candidate"], args.get("sdpMid"))
        elif op == "unmute":
            if room.locked and not args.get("moderator"):
                raise MicLocked()
            room.unmute(participant)
        elif op == "mute":
            room.mute(participant)
        elif op == "screen_stop":
            return {"stopped": room.stop_screen(participant), "locked": room.locked}
        elif op in ("mute_all", "lock", "unlock", "transcription"):
            self._apply(room, op, args)
            if op == "transcription":
                return {"transcribing": room.transcribing}
        else:
            raise AppError("media_bad_signal", status=400)
        return {"locked": room.locked}

    async def _fresh(self, meeting_id: int, key: RoomKey) -> MediaRoom:
        """The room, set up from the log when this node (re)creates it: the microphone lock,
        the transcription and recording switches (a group's room follows its meeting's).

        The room exists (and takes operations) while the log is read. A switch that reaches it
        in that time is newer than what the read saw, so the read does not undo it: a moderator
        who switched transcription on while someone's media was being set up once left the
        room deaf to speech (the captions test in CI)."""
        fresh = key not in self.sfu.rooms
        room = self.room(key)
        if fresh:
            main = self.sfu.rooms.get(meeting_id)
            async with self.runtime.db.read() as session:
                locked = await microphones_locked(session, meeting_id)
                transcribing = await switched_on(session, meeting_id, "transcription")
                recording = await recording_switched_on(session, meeting_id)
            if "lock" not in room.switched:
                room.locked = room.locked or bool(main and main.locked) or locked
            if "transcription" not in room.switched:
                self._transcribe(room, transcribing)
            if "recording" not in room.switched:
                self.recording.apply(room, recording)
        return room

    def _apply(self, room: MediaRoom, op: str, args: dict[str, Any]) -> None:
        """A meeting-wide operation on one of its rooms."""
        if op in ("lock", "unlock", "transcription"):
            room.switched.add("lock" if op == "unlock" else op)
        if op in ("mute_all", "lock"):
            room.mute_all(lock=op == "lock", keep=frozenset(args.get("keep") or ()))
        elif op == "unlock":
            room.unlock()
        elif op == "transcription":
            self._transcribe(room, bool(args.get("on")))

    async def _regroup(self, meeting_id: int, state: RoomState) -> None:
        """Move every media connection that is not in the room the log puts its person in into
        that room, over the same connection (docs/groups.md, «Media»)."""
        moves: dict[str, RoomKey] = {}
        for key, room in self.sfu.rooms_of(meeting_id):
            for participant in room.peers:
                target = room_key(meeting_id, room_of(state, participant))
                if target != key:
                    moves[participant] = target
        await self._move(meeting_id, moves)

    async def _move(self, meeting_id: int, moves: dict[str, RoomKey]) -> None:
        if not moves:
            return
        held = {key for key, room in self.sfu.rooms_of(meeting_id) if set(room.peers) & set(moves)}
        for target in set(moves.values()):
            await self._fresh(meeting_id, target)  # a new room reads the log's switches first
        moved = self.sfu.move_many(moves)
        if moved:
            log.info("media moved between rooms", extra={"meeting_id": meeting_id, "count": len(moved)})
        for key in held:
            await self._reap(key)

    def _transcribe(self, room: MediaRoom, on: bool) -> None:
        """Capture speech for transcription while the switch is on and the engine can run."""
        service = transcriber(self.runtime)
        room.set_transcribing(on and service.available)
        if room.transcribing:
            room.spawn(service.warm())

    async def _reap(self, key: RoomKey) -> None:
        """Close a room once its last peer is gone; release the meeting's placement when none
        of its rooms is left."""
        room = self.sfu.rooms.get(key)
        if room is not None and room.idle:
            self.sfu.rooms.pop(key, None)
            await room.close()
        meeting_id = meeting_of(key)
        if self.placement is not None and not self.sfu.rooms_of(meeting_id):
            try:
                await self.placement.release(meeting_id)
            except Exception:
                log.warning("media placement release failed", extra={"meeting_id": meeting_id})

    async def _keep_placement(self) -> None:
        """Renew the placement of every meeting with peers; reap idle rooms; give up meetings
        another node took (our Redis key lapsed): their peers are closed (reason ``moved``) and
        the browsers' rebuilt connections reach the new owner."""
        assert self.placement is not None
        while True:
            await asyncio.sleep(self.placement.renew_every)
            try:
                for key, room in list(self.sfu.rooms.items()):
                    if room.idle:
                        await self._reap(key)
                lost = await self.placement.renew(sorted({meeting_of(k) for k in self.sfu.rooms}))
                for meeting_id in lost:
                    log.warning("media placement lost", extra={"meeting_id": meeting_id})
                    for key, gone in self.sfu.rooms_of(meeting_id):
                        self.sfu.rooms.pop(key, None)
                        for who in list(gone.peers):
                            await gone.remove_peer(who, reason="moved")
                        await gone.close()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media placement renewal failed")

    def room(self, key: RoomKey) -> MediaRoom:
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
            self._warden = asyncio.ensure_future(self._watch_presence())
            if self.placement is not None:
                self._keeper = asyncio.ensure_future(self._keep_placement())
        return self.sfu.room(key)

    async def _watch_presence(self) -> None:
        """Close the media of people who are no longer in the room: they left (last connection
        closed, seen twice in a row so a quick Socket.IO reconnect keeps the call), were
        removed, or the meeting ended. The room tells nobody; its log does."""
        from realtime.meeting.registry import room_service

        absent: dict[tuple[RoomKey, str], int] = {}
        while True:
            await asyncio.sleep(PRESENCE_CHECK_SECONDS)
            for room_id, room in list(self.sfu.rooms.items()):
                if not room.peers:
                    continue
                meeting_id = meeting_of(room_id)
                try:
                    state = await room_service(self.runtime).current_state(meeting_id)
                except NotFound:  # the meeting was deleted
                    for key in list(room.peers):
                        await self.sfu.leave(room_id, key, reason="meeting_ended")
                    continue
                except Exception:
                    log.warning("media presence check failed", extra={"meeting_id": meeting_id})
                    continue
                self.recording.apply(room, recording_wanted(state))
                group = None if isinstance(room_id, int) else room_id[1]
                for key in list(room.peers):
                    reason = None
                    if state.status in ("ended", "cancelled"):
                        reason = "meeting_ended"
                    elif state.is_removed(key):
                        reason = "removed"
                    elif not state.is_connected(key):
                        absent[(room_id, key)] = absent.get((room_id, key), 0) + 1
                        if absent[(room_id, key)] >= 2:
                            reason = "left"
                    elif room_of(state, key) != group:
                        # groups changed and the regroup call was lost (another process's commit)
                        absent.pop((room_id, key), None)
                        await self._move(meeting_id, {key: room_key(meeting_id, room_of(state, key))})
                        continue
                    else:
                        absent.pop((room_id, key), None)
                    if reason is not None:
                        absent.pop((room_id, key), None)
                        await self.sfu.leave(room_id, key, reason=reason)

    def _notify(self, key: RoomKey, kind: str, participant: str, data: dict[str, Any]) -> None:
        if kind == "closed":  # a peer is gone: its cycles may wait frozen (server/gc_policy.py)
            self.runtime.gc.departed(remaining=self.sfu.peer_count())
        self._queue.put_nowait((key, kind, participant, data))

    async def _work(self) -> None:
        """One at a time, so a participant's speech.started is logged before its speech.ended."""
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(*item)
            except Exception:
                log.exception("media notification failed", extra={"kind": item[1]})
            finally:
                self._queue.task_done()

    async def _deliver(self, key: RoomKey, kind: str, participant: str, data: dict[str, Any]) -> None:
        from realtime.meeting.registry import room_service

        room = room_service(self.runtime)
        meeting_id = meeting_of(key)
        if kind in LOGGED:

            async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
                return Outcome(await record_media_fact(session, meeting_id, state, kind, participant))

            await room.commit(meeting_id, act)
        elif kind == "speech.captured":
            await speech_queue(self.runtime).put(meeting_id, data["speech"])
        elif kind == "slots":
            await room.emit(participant_room(meeting_id, participant), "media.slots", data)
        elif kind == "closed":
            await room.emit(participant_room(meeting_id, participant), "media.closed", data)
            await self._reap(key)

    async def close(self) -> None:
        for task in (self._warden, self._keeper):
            if task is not None:
                task.cancel()
        owned = sorted({meeting_of(k) for k in self.sfu.rooms})
        await self.sfu.close()
        await self.recording.close()
        if self.placement is not None:
            await self.placement.close(owned)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), 5)
        for task in (self._warden, self._keeper, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def recording_wanted(state: RoomState) -> bool:
    """The log's switch, until the meeting is over."""
    return state.recording and state.status not in ("ended", "cancelled")


def media_status(runtime: Runtime) -> dict[str, Any]:
    """For /healthz: this process's media peers and its sending thread (sent, dropped, ...);
    the service itself starts with the first media message."""
    service: MediaService | None = runtime.services.get(SERVICE_KEY)
    return {
        "node": service.node_id if service is not None else None,
        "peers": service.sfu.peer_count() if service is not None else 0,
        "send_thread": sendthread.stats(),
        "gc": runtime.gc.status(),
    }


def media_service(runtime: Runtime) -> MediaService:
    service: MediaService | None = runtime.services.get(SERVICE_KEY)
    if service is None:
        service = runtime.services[SERVICE_KEY] = MediaService(runtime)
        runtime.services.setdefault("realtime_shutdown", []).append(service.close)
    return service


async def follow_log(runtime: Runtime, meeting_id: int, op: str, **args: Any) -> None:
    """Tell the meeting's media node, wherever it is, what the log now says (a recording
    switch, a regroup, a removal, the end). A node that cannot be reached still follows the log
    at its next presence check (``PRESENCE_CHECK_SECONDS``), so a lost call is logged, not raised."""
    try:
        await media_service(runtime).run(meeting_id, op, **args)
    except AppError:
        log.warning("media node not told", extra={"meeting_id": meeting_id, "op": op})
