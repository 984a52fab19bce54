"""The room service: one per runtime. It owns the per-meeting locks, the cached folded
state, presence and the ordered broadcast, and runs every room transaction:

    lock (process + Redis) -> transaction { lock the meeting row; exact state; action }
    -> commit -> fold the new events into the cache -> broadcast them in order -> unlock
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.meeting.broadcast import CHANNEL_HOST_ID, Broadcaster, meeting_room, participant_room
from realtime.meeting.presence import Presence
from server.db.models import Meeting
from server.domain.meeting import room as room_domain
from server.domain.meeting.meeting_log import LoggedEvent, events_after, meeting_held
from server.domain.meeting.room_state import Outcome, RoomState, visible_to
from server.errors import NotFound

if TYPE_CHECKING:
    import socketio

    from server.runtime import Runtime

log = logging.getLogger("smo.room")
SERVICE_KEY = "meeting_room"
T = TypeVar("T")
Action = Callable[[AsyncSession, RoomState], Awaitable[Outcome[T]]]
MAX_CACHED = 200
FENCE_PREFIX = "fence:"
FENCE_TIMEOUT = 10
SWEEP_SECONDS = 30
MAX_BATCH = 128  # actions per group commit


class _ActionFailed(Exception):
    """Rolls back the transaction of a lone action that raised (its future holds the error)."""


After = Callable[[RoomState], Awaitable[None]]


@dataclass(slots=True)
class _Queued:
    action: Action[Any]
    skip_sid: str | None
    future: asyncio.Future[Outcome[Any]]
    after: After | None = None


class RoomService:
    def __init__(self, runtime: Runtime, sio: socketio.AsyncServer) -> None:
        self.runtime = runtime
        self.sio = sio
        self.host_id = secrets.token_hex(8)
        prefix = runtime.settings.redis_prefix
        self.prefix = prefix
        self.presence = Presence(runtime.redis, prefix, self.host_id)
        self.broadcaster = Broadcaster(sio, via_redis=runtime.redis is not None)
        self._locks: dict[int, asyncio.Lock] = {}
        self._cache: dict[int, RoomState] = {}
        self._fences: dict[str, asyncio.Event] = {}
        self._pending: dict[int, list[_Queued]] = {}  # actions waiting for the next group commit
        self._drainers: dict[int, asyncio.Task[None]] = {}
        self.stats = {"batches": 0, "actions": 0}  # group commits and the actions they carried
        if runtime.redis is not None:
            self._install_fence()

    meeting_room = staticmethod(meeting_room)
    participant_room = staticmethod(participant_room)

    # --- locking and the cached fold --------------------------------------------------------
    @contextlib.asynccontextmanager
    async def locked(self, meeting_id: int) -> AsyncIterator[None]:
        """Serialises a meeting's transactions and broadcasts (across processes with Redis)."""
        lock = self._locks.setdefault(meeting_id, asyncio.Lock())
        async with lock:
            redis = self.runtime.redis
            if redis is None:
                yield
                return
            rlock = redis.lock(
                f"{self.prefix}:room:{meeting_id}:lock", timeout=10, sleep=0.002, blocking_timeout=20
            )
            await rlock.acquire()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await rlock.release()

    async def _exact(self, session: AsyncSession, meeting: Meeting) -> RoomState:
        """The cached state advanced to the meeting's last seq (events of other processes)."""
        meeting_id, last_seq = meeting.id, meeting.last_seq
        state = self._cache.get(meeting_id)
        if state is None or state.last_seq > last_seq or state.stamp != meeting.created_at:
            state = await room_domain.load_base(session, meeting)
            state.stamp = meeting.created_at
        if state.last_seq < last_seq:
            state.apply_all(await events_after(session, meeting_id, state.last_seq))
        if len(self._cache) >= MAX_CACHED and meeting_id not in self._cache:
            self._cache.pop(next(iter(self._cache)))
        self._cache[meeting_id] = state
        return state

    def cached_state(self, meeting_id: int) -> RoomState | None:
        """This process's fold, possibly behind other processes' latest events (no I/O)."""
        return self._cache.get(meeting_id)

    async def current_state(self, meeting_id: int) -> RoomState:
        """The state as of now (do not call from inside an action: it takes the lock)."""
        async with self._locks.setdefault(meeting_id, asyncio.Lock()):
            async with self.runtime.db.read() as session:
                meeting = await room_domain.get_meeting(session, meeting_id)
                return await self._exact(session, meeting)

    # --- transactions -----------------------------------------------------------------------
    async def commit(
        self,
        meeting_id: int,
        action: Action[T],
        *,
        skip_sid: str | None = None,
        after: After | None = None,
    ) -> Outcome[T]:
        """Run ``action(session, exact_state)`` durably; broadcast its events after the commit,
        in order; return (so the caller acknowledges) only after both.

        Group commit: actions that arrive for a meeting while its previous transaction is in
        flight wait in a queue; the meeting's drainer then runs all of them in ONE transaction,
        each inside its own SAVEPOINT (a failing action is rolled back alone and gets its own
        error), folding each one's events into the state the next one sees. One commit (one
        fsync on SQLite) then makes the whole batch durable; the events are broadcast in
        sequence order and only then is anyone acknowledged.

        ``after(state)`` runs once the whole batch is committed and its events delivered to
        this process's connections (with Redis: past a fence), still under the lock, with the
        state as of the batch's end: a joiner's snapshot, taken there, holds every event of the
        batch, and the joiner enters the Socket.IO rooms only then, so no later event can be
        missing from both and none arrives twice. Joins at the start of a meeting therefore
        share transactions like every other action."""
        future: asyncio.Future[Outcome[Any]] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(meeting_id, []).append(_Queued(action, skip_sid, future, after))
        if meeting_id not in self._drainers:
            self._drainers[meeting_id] = asyncio.create_task(self._drain(meeting_id))
        return await future

    async def _drain(self, meeting_id: int) -> None:
        """Run the meeting's queued actions, a batch per transaction, until none is left."""
        try:
            while queue := self._pending.get(meeting_id):
                batch, self._pending[meeting_id] = queue[:MAX_BATCH], queue[MAX_BATCH:]
                await self._run_batch(meeting_id, batch)
        finally:
            self._drainers.pop(meeting_id, None)
            left = self._pending.pop(meeting_id, [])
            for queued in left:  # only when the drainer itself was cancelled (shutdown)
                if not queued.future.done():
                    queued.future.set_exception(RuntimeError("room service stopped"))

    async def _run_batch(self, meeting_id: int, batch: list[_Queued]) -> None:
        self.stats["batches"] += 1
        self.stats["actions"] += len(batch)
        done: list[tuple[_Queued, Outcome[Any]]] = []
        # One action alone (the usual case under light load) needs no savepoint: if it fails,
        # its whole transaction rolls back; the fold holds none of it, so it stays cached.
        alone = len(batch) == 1
        try:
            async with self.locked(meeting_id):
                try:
                    async with (
                        self.runtime.db.transaction() as session,
                        meeting_held(session, meeting_id) as held,
                    ):
                        state = await self._exact(session, held.meeting)
                        for queued in batch:
                            try:
                                if alone:
                                    outcome = await queued.action(session, state)
                                else:
                                    async with held.savepoint():
                                        outcome = await queued.action(session, state)
                            except Exception as exc:
                                if not queued.future.done():
                                    queued.future.set_exception(exc)
                                if alone:
                                    raise _ActionFailed() from exc
                                continue
                            for event in outcome.events:
                                state.apply(event)  # the next action of the batch sees it
                            done.append((queued, outcome))
                except _ActionFailed:
                    return  # rolled back; its sender has the error
                except BaseException:
                    # Nothing of the batch is durable: forget the fold that already holds it.
                    self._cache.pop(meeting_id, None)
                    raise
                for queued, outcome in done:
                    await self.broadcaster.events(meeting_id, outcome.events, queued.skip_sid, state)
                followers = [(queued, queued.after) for queued, _ in done if queued.after is not None]
                if followers:
                    await self.fence()
                for queued, after in followers:
                    try:
                        await after(state)
                    except Exception as exc:
                        queued.future.set_exception(exc)
        except BaseException as exc:
            for queued in batch:
                if not queued.future.done():
                    queued.future.set_exception(
                        exc if isinstance(exc, Exception) else RuntimeError("room commit cancelled")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for queued, outcome in done:
            if not queued.future.done():
                queued.future.set_result(outcome)

    # --- presence housekeeping --------------------------------------------------------------
    async def keep_presence(self) -> None:
        """Heartbeat this process (Redis) and close the attendance of people who vanished.

        After a crash (kill -9) the log may say a person is connected while no process holds a
        connection of theirs: absent at two sweeps in a row, they get ``participant.left``."""
        suspects: dict[int, set[str]] = {}
        while True:
            try:
                await self.presence.heartbeat()
                await asyncio.sleep(SWEEP_SECONDS)
                for meeting_id in list(self._cache):
                    suspects[meeting_id] = await self._sweep(meeting_id, suspects.get(meeting_id, set()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence sweep failed")
                await asyncio.sleep(SWEEP_SECONDS)

    async def _sweep(self, meeting_id: int, suspects: set[str]) -> set[str]:
        state = self._cache.get(meeting_id)
        if state is None or state.status != "live":
            return set()
        absent = {
            key
            for key, person in state.participants.items()
            if person["connected"] and await self.presence.count(meeting_id, key) == 0
        }
        gone = absent & suspects
        if gone:

            async def left(session: AsyncSession, exact: RoomState) -> Outcome[None]:
                events: list[LoggedEvent] = []
                for key in sorted(gone):
                    if await self.presence.count(meeting_id, key) == 0:
                        events += await room_domain.leave_room(session, meeting_id, exact, key, "disconnect")
                return Outcome(events)

            try:
                await self.commit(meeting_id, left)
            except NotFound:
                self._cache.pop(meeting_id, None)
                return set()
        return absent - gone

    # --- the Redis fence ---------------------------------------------------------------------
    def _install_fence(self) -> None:
        """Recognise our fence messages on the Socket.IO channel (see :meth:`fence`)."""
        manager: Any = self.sio.manager
        original = manager._handle_emit

        async def handle_emit(message: dict[str, Any]) -> None:
            room = message.get("room")
            if isinstance(room, str) and room.startswith(FENCE_PREFIX):
                waiter = self._fences.pop(room, None)
                if waiter is not None:
                    waiter.set()
                return
            if (
                message.get("host_id") == CHANNEL_HOST_ID
                and message.get("callback") is None
                and isinstance(room, (str, list))
            ):
                # Our room broadcast: deliver to the local connections by the same fast fan-out
                # as without Redis (synchronously, so the channel's order is kept).
                data = message.get("data") or [None]
                try:
                    self.broadcaster.fan_out(message["event"], data[0], room, message.get("skip_sid"))
                    return
                except Exception:
                    log.exception("direct fan-out failed; falling back to the manager")
            await original(message)

        manager._handle_emit = handle_emit

    async def fence(self) -> None:
        """With Redis, wait until this process has delivered everything published so far.

        Called under the meeting's lock before a connection enters the meeting's room: events
        committed earlier are still on their way through the channel, and a joiner whose
        snapshot already holds them must not receive them again. A marker published now comes
        out of the totally ordered channel after all of them."""
        if self.runtime.redis is None:
            return
        token = f"{FENCE_PREFIX}{self.host_id}:{secrets.token_hex(6)}"
        waiter = self._fences[token] = asyncio.Event()
        await self.broadcaster.emit("fence", None, token)
        try:
            await asyncio.wait_for(waiter.wait(), FENCE_TIMEOUT)
        except TimeoutError:
            self._fences.pop(token, None)
            log.warning("room fence timed out")

    async def replay(
        self, meeting_id: int, viewer: str, after_seq: int, state: RoomState | None = None
    ) -> list[dict[str, Any]]:
        """Exactly the events after ``after_seq`` that ``viewer`` may see, in order. Under the
        meeting's lock, pass its ``state`` (``current_state`` would wait for that lock)."""
        async with self.runtime.db.read() as session:
            events = await events_after(session, meeting_id, max(after_seq, 0))
        wire = [e.to_wire() for e in events]
        if state is None and any(_group_chat(e) for e in wire):
            state = await self.current_state(meeting_id)
        return [e for e in wire if visible_to(e, viewer, state)]

    async def emit(self, to: str | list[str], event: str, data: Any) -> None:
        await self.broadcaster.emit(event, data, to)


def install(runtime: Runtime, sio: socketio.AsyncServer) -> RoomService:
    service = RoomService(runtime, sio)
    runtime.services[SERVICE_KEY] = service
    runtime.tasks.append(asyncio.create_task(service.keep_presence()))
    return service


def _group_chat(event: dict[str, Any]) -> bool:
    return event["type"] == "chat.message" and event["payload"].get("group") is not None
