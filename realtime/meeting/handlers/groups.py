"""groups.*: breakout groups (docs/groups.md).

Every action is a room transaction (``server/domain/meeting/groups.py``); after an action that
changes who is in which room, the meeting's media node is told to ``regroup``: it moves each
media connection that is in a room its person no longer belongs to into the right room, over
the same connection (the client only gets a new ``media.slots`` map). The media node also
checks this every second, so a lost call changes nothing. The end at ``ends_at`` is the durable outbox job
``groups.end`` handled here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.service import follow_log
from realtime.meeting.registry import MAX_INT, Empty, HandlerContext, Message, handler, room_service
from server.db.models.documents import MeetingDocument
from server.domain.meeting import groups
from server.domain.meeting.documents import document_info
from server.domain.meeting.events import ParticipantKey
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import Outcome, RoomState
from server.errors import NotFound
from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime


class GroupIn(Message):
    name: str = Field(default="", max_length=groups.MAX_NAME)
    task: str = Field(default="", max_length=groups.MAX_TASK)
    members: list[ParticipantKey] = Field(default_factory=list, max_length=500)


class Start(Message):
    groups: list[GroupIn] = Field(min_length=1, max_length=groups.MAX_GROUPS)
    duration: int = Field(ge=1, le=MAX_INT)  # seconds; the domain says which are allowed
    random: bool = False


class Extend(Message):
    seconds: int = Field(ge=1, le=MAX_INT)


class Move(Message):
    participant: ParticipantKey
    group: int | None = Field(default=None, ge=1, le=MAX_INT)


class Broadcast(Message):
    text: str = Field(min_length=1, max_length=groups.MAX_BROADCAST)


class Visit(Message):
    group: int = Field(ge=1, le=MAX_INT)


async def regroup(runtime: Runtime, meeting_id: int) -> None:
    """Media connections follow the fold at once (the media node re-checks every second)."""
    await follow_log(runtime, meeting_id, "regroup")


async def _run(ctx: HandlerContext, step: Any, *, moves: bool = True) -> dict[str, Any]:
    events: list[LoggedEvent] = await ctx.commit_events(step)
    if moves and events:
        await regroup(ctx.runtime, ctx.meeting_id)
    return {"seq": events[-1].seq if events else None}


@handler("groups.start", Start, moderator=True)
async def groups_start(ctx: HandlerContext, msg: Start) -> dict[str, Any]:
    specs = [g.model_dump() for g in msg.groups]

    async def act(session: AsyncSession, state: RoomState) -> list[LoggedEvent]:
        return await groups.start_groups(
            session, ctx.meeting_id, state, ctx.actor, specs, msg.duration, msg.random
        )

    result = await _run(ctx, act)
    specs_now = (await ctx.room.current_state(ctx.meeting_id)).groups.groups.values()
    async with ctx.runtime.db.read() as session:  # the group documents appear in every list
        for spec in specs_now:
            doc = await session.get(MeetingDocument, spec["doc_id"])
            if doc is not None:
                await ctx.emit_to_room("doc.changed", document_info(doc))
    return result


@handler("groups.extend", Extend, moderator=True)
async def groups_extend(ctx: HandlerContext, msg: Extend) -> dict[str, Any]:
    return await _run(
        ctx, lambda s, st: groups.extend_groups(s, ctx.meeting_id, st, ctx.actor, msg.seconds), moves=False
    )


@handler("groups.move", Move, moderator=True)
async def groups_move(ctx: HandlerContext, msg: Move) -> dict[str, Any]:
    return await _run(
        ctx, lambda s, st: groups.move_person(s, ctx.meeting_id, st, ctx.actor, msg.participant, msg.group)
    )


@handler("groups.broadcast", Broadcast, moderator=True)
async def groups_broadcast(ctx: HandlerContext, msg: Broadcast) -> dict[str, Any]:
    return await _run(
        ctx, lambda s, st: groups.broadcast(s, ctx.meeting_id, st, ctx.actor, msg.text), moves=False
    )


@handler("groups.visit", Visit, moderator=True)
async def groups_visit(ctx: HandlerContext, msg: Visit) -> dict[str, Any]:
    return await _run(ctx, lambda s, st: groups.visit(s, ctx.meeting_id, st, ctx.actor, msg.group))


@handler("groups.leave", Empty, moderator=True)
async def groups_leave(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await _run(ctx, lambda s, st: groups.visit(s, ctx.meeting_id, st, ctx.actor, None))


@handler("groups.call_moderator", Empty)
async def groups_call_moderator(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await _run(ctx, lambda s, st: groups.call_moderator(s, ctx.meeting_id, st, ctx.actor), moves=False)


@handler("groups.end", Empty, moderator=True)
async def groups_end(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await _run(ctx, lambda s, st: groups.end_groups(s, ctx.meeting_id, st, ctx.actor))


@handler("groups.state", Empty)
async def groups_state(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    """The groups as folded now, and the room this person is in (None: the main room)."""
    state = await ctx.room.current_state(ctx.meeting_id)
    return {"groups": state.groups.snapshot(), "room": state.groups.room_of(ctx.participant)}


@job_handler(groups.JOB_KIND)
async def end_when_due(runtime: Runtime, payload: dict[str, Any]) -> None:
    """The durable timer: due at ``ends_at``; a later extension or an earlier end makes it a
    no-op (the domain re-checks the round and the time under the meeting's lock)."""
    meeting_id, round_ = int(payload["meeting_id"]), int(payload["round"])

    async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
        return Outcome(await groups.end_groups(session, meeting_id, state, None, round_=round_))

    try:
        outcome = await room_service(runtime).commit(meeting_id, act)
    except NotFound:
        return  # the meeting was deleted
    if outcome.events:
        await regroup(runtime, meeting_id)
