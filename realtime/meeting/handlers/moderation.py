"""Lock, admission policy, the waiting room, remove / readmit / promote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.service import follow_log
from realtime.meeting.registry import HandlerContext, Message, handler
from server.domain.meeting import moderation
from server.domain.meeting.events import ParticipantKey
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import RoomState


class Lock(Message):
    locked: bool


class Admission(Message):
    admission: Literal["open", "guests", "everyone"]


class Target(Message):
    participant: ParticipantKey


Step = Callable[[AsyncSession, RoomState], Awaitable[list[LoggedEvent]]]


async def run(ctx: HandlerContext, step: Step) -> dict[str, Any]:
    events = await ctx.commit_events(step)
    return {"seq": events[-1].seq if events else None}


@handler("meeting.lock", Lock, moderator=True)
async def meeting_lock(ctx: HandlerContext, msg: Lock) -> dict[str, Any]:
    return await run(ctx, lambda s, st: moderation.set_locked(s, ctx.meeting_id, st, ctx.actor, msg.locked))


@handler("meeting.admission", Admission, moderator=True)
async def meeting_admission(ctx: HandlerContext, msg: Admission) -> dict[str, Any]:
    return await run(
        ctx, lambda s, st: moderation.set_admission(s, ctx.meeting_id, st, ctx.actor, msg.admission)
    )


@handler("waiting.admit", Target, moderator=True)
async def waiting_admit(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    result = await run(
        ctx, lambda s, st: moderation.decide_waiting(s, ctx.meeting_id, st, ctx.actor, msg.participant, True)
    )
    await ctx.emit_to_participant(msg.participant, "admission", {"status": "in"})
    return result


@handler("waiting.deny", Target, moderator=True)
async def waiting_deny(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    result = await run(
        ctx, lambda s, st: moderation.decide_waiting(s, ctx.meeting_id, st, ctx.actor, msg.participant, False)
    )
    await ctx.emit_to_participant(msg.participant, "admission", {"status": "denied"})
    await _forget_connections(ctx, msg.participant)
    return result


@handler("participant.remove", Target, moderator=True)
async def participant_remove(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    sids: list[str] = []

    async def act(session: AsyncSession, state: RoomState) -> list[LoggedEvent]:
        events = await moderation.remove_participant(
            session, ctx.meeting_id, state, ctx.actor, msg.participant
        )
        if events:
            sids.extend(await ctx.room.presence.clear(ctx.meeting_id, msg.participant))
        return events

    result = await run(ctx, act)
    await ctx.emit_to_participant(msg.participant, "admission", {"status": "removed"})
    await _forget_connections(ctx, msg.participant, sids)
    if result["seq"] is not None:  # removed now: their camera and microphone leave the room at once
        await follow_log(ctx.runtime, ctx.meeting_id, "close", participant=msg.participant, reason="removed")
    return result


async def _forget_connections(ctx: HandlerContext, key: str, sids: list[str] | None = None) -> None:
    """Take the person's connections out of the meeting's room: local ones directly, those of
    other processes through the Socket.IO manager (their sends are refused by the dispatcher,
    which checks the removed flag of the folded state)."""
    room = ctx.room
    local = [
        sid
        for sid, _eio in room.sio.manager.get_participants("/", room.participant_room(ctx.meeting_id, key))
    ]
    for sid in set(local) | set(sids or []):
        if sid in local:
            session = await room.sio.get_session(sid)
            session.update(status="", meeting_id=0)
        await room.sio.leave_room(sid, room.meeting_room(ctx.meeting_id))


@handler("participant.readmit", Target, moderator=True)
async def participant_readmit(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    result = await run(
        ctx, lambda s, st: moderation.readmit_participant(s, ctx.meeting_id, st, ctx.actor, msg.participant)
    )
    await ctx.emit_to_participant(msg.participant, "admission", {"status": "in"})
    return result


@handler("participant.promote", Target, moderator=True)
async def participant_promote(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    return await run(
        ctx, lambda s, st: moderation.promote_participant(s, ctx.meeting_id, st, ctx.actor, msg.participant)
    )
