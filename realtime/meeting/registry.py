"""The message-handler registry of the meeting room.

Other areas (polls, media signalling, shared documents) add client->server messages here
without touching the namespace. In a module of your own::

    from realtime.meeting.registry import HandlerContext, Message, handler

    class PollOpen(Message):          # pydantic, extra fields forbidden
        poll_id: int

    @handler("poll.open", PollOpen, moderator=True)
    async def poll_open(ctx: HandlerContext, msg: PollOpen) -> dict | None:
        events = await ctx.commit_events(lambda s, state: open_poll(s, state, ctx.actor, msg.poll_id))
        return {"seq": events[-1].seq} if events else None

and add one import line to ``realtime/meeting/handlers/__init__.py``.

The dispatcher validates the payload (``validation_failed``), requires that the sender has
joined the meeting (``joined=False`` to lift that: e.g. "join" itself), checks the moderator
flag (``forbidden``), runs the handler and acknowledges ``{"ok": true, **returned}``. An
``AppError`` becomes ``{"ok": false, "error": err.to_dict(locale)}``; anything else is logged
and answered with code ``internal``. The connection always survives.

``ctx.commit_events(action)`` runs ``await action(session, state)`` inside one transaction
under the meeting's lock (``state`` is the exact folded RoomState at that moment), commits,
broadcasts each returned event to the meeting in sequence order, then returns the events.
``ctx.commit(action)`` is the same for an action returning ``Outcome(events, value)``.
Outside a message (timers, workers): ``room_service(runtime).commit(meeting_id, action)``.
Other helpers: ``await room_state(runtime, meeting_id)`` (the current folded state),
``await is_connected(runtime, meeting_id, key)``, ``state.is_moderator(key)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import Actor, Outcome, RoomState
from server.errors import AppError

if TYPE_CHECKING:
    from realtime.meeting.service import RoomService
    from server.db.models import MeetingGuest, User
    from server.runtime import Runtime

T = TypeVar("T")
MAX_INT = 2**31 - 1  # the database's INTEGER: larger ids can never exist
Result = dict[str, Any] | None
HandlerFn = Callable[["HandlerContext", Any], Awaitable[Result]]

__all__ = [
    "HANDLERS",
    "MAX_INT",
    "Actor",
    "Handler",
    "HandlerContext",
    "Message",
    "Outcome",
    "RoomState",
    "all_handlers",
    "handler",
    "is_connected",
    "room_service",
    "room_state",
]


class Message(BaseModel):
    """Base of every inbound payload schema: unknown fields are an error, no type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Empty(Message):
    pass


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    schema: type[Message]
    fn: HandlerFn
    moderator: bool
    joined: bool


HANDLERS: dict[str, Handler] = {}


def handler(
    name: str, schema: type[Message], *, moderator: bool = False, joined: bool = True
) -> Callable[[HandlerFn], HandlerFn]:
    """Register ``fn(ctx, payload) -> dict | None`` for the client->server message ``name``."""

    def register(fn: HandlerFn) -> HandlerFn:
        if name in HANDLERS:
            raise RuntimeError(f"message {name!r} registered twice")
        HANDLERS[name] = Handler(name, schema, fn, moderator, joined)
        return fn

    return register


@dataclass
class HandlerContext:
    runtime: Runtime
    room: RoomService
    sid: str
    meeting_id: int  # 0 before "join"
    participant: str  # "u:3" / "g:5"
    user: User | None
    guest: MeetingGuest | None
    office_moderator: bool  # methodist, chair, secretary, administrator
    locale: str
    state: RoomState | None = None  # the state seen when the message arrived (may be stale)

    @property
    def actor(self) -> Actor:
        return Actor(
            key=self.participant,
            user=self.user,
            guest=self.guest,
            office_moderator=self.office_moderator,
        )

    @property
    def is_moderator(self) -> bool:
        if self.office_moderator:
            return True
        return self.state is not None and self.state.is_moderator(self.participant)

    async def commit(self, action: Callable[[AsyncSession, RoomState], Awaitable[Outcome[T]]]) -> Outcome[T]:
        key = self.participant

        async def checked(session: AsyncSession, state: RoomState) -> Outcome[T]:
            if state.is_removed(key):  # exact: removed through another process a moment ago
                raise AppError("participant_removed", status=403)
            return await action(session, state)

        return await self.room.commit(self.meeting_id, checked)

    async def commit_events(
        self, action: Callable[[AsyncSession, RoomState], Awaitable[list[LoggedEvent]]]
    ) -> list[LoggedEvent]:
        async def wrapped(session: AsyncSession, state: RoomState) -> Outcome[None]:
            return Outcome(await action(session, state))

        return (await self.commit(wrapped)).events

    async def emit_to_room(self, event: str, data: Any) -> None:
        """Every joined connection of the meeting (not logged: prefer events for state)."""
        await self.room.emit(self.room.meeting_room(self.meeting_id), event, data)

    async def emit_to_sid(self, sid: str, event: str, data: Any) -> None:
        await self.room.emit(sid, event, data)

    async def emit_to_participant(self, key: str, event: str, data: Any) -> None:
        """Every connection of one person in this meeting (their tabs, on any process)."""
        await self.room.emit(self.room.participant_room(self.meeting_id, key), event, data)


def all_handlers() -> dict[str, Handler]:
    """Every registered message (importing every registration module first)."""
    import realtime.meeting.handlers  # noqa: F401

    return HANDLERS


def room_service(runtime: Runtime) -> RoomService:
    from realtime.meeting.service import SERVICE_KEY

    service: RoomService = runtime.services[SERVICE_KEY]
    return service


async def room_state(runtime: Runtime, meeting_id: int) -> RoomState:
    """The meeting's current state, folded from the log (exact as of the call)."""
    return await room_service(runtime).current_state(meeting_id)


async def is_connected(runtime: Runtime, meeting_id: int, key: str) -> bool:
    """Whether the participant has at least one joined connection (on any process)."""
    return await room_service(runtime).presence.count(meeting_id, key) > 0
