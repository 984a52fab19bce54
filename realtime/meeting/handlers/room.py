"""join / sync / leave and the meeting's lifecycle."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.service import follow_log
from realtime.meeting.registry import MAX_INT, Empty, HandlerContext, Message, handler
from realtime.meeting.service import RoomService
from server.domain.accounts.permissions import meeting_standing
from server.domain.meeting import room as room_domain
from server.domain.meeting.room_state import Outcome, RoomState
from server.errors import AppError, NotFound
from server.workers import wake_outbox


class Join(Message):
    meeting_id: int = Field(ge=1, le=MAX_INT)
    last_seq: int | None = Field(default=None, ge=0, le=MAX_INT)


class Sync(Message):
    last_seq: int = Field(ge=0, le=MAX_INT)


@handler("join", Join, joined=False)
async def join(ctx: HandlerContext, msg: Join) -> dict[str, Any]:
    session_data = await ctx.room.sio.get_session(ctx.sid)
    if session_data.get("meeting_id") not in (0, msg.meeting_id):
        raise AppError("already_joined", status=409)
    if ctx.guest is not None and ctx.guest.meeting_id != msg.meeting_id:
        raise AppError("forbidden", status=403)
    room = ctx.room
    key = ctx.participant

    result: dict[str, Any] = {"participant": key, "events": []}
    office = False

    async def enter(session: AsyncSession, state: RoomState) -> Outcome[None]:
        nonlocal office
        meeting = await room_domain.get_meeting(session, msg.meeting_id)
        standing = await meeting_standing(session, ctx.user, meeting)  # one lookup per join
        office = standing.moderator
        actor = ctx.actor.__class__(key=key, user=ctx.user, guest=ctx.guest, office_moderator=office)
        outcome = await room_domain.enter_room(session, meeting, state, actor, standing)
        assert outcome.value is not None
        entry = outcome.value
        if not room.sio.manager.is_connected(ctx.sid, "/"):
            raise AppError("not_connected", status=409)
        if entry.status == "in" and state.status != "ended":
            await room.presence.add(msg.meeting_id, key, ctx.sid)
        result.update(status=entry.status, moderator=entry.moderator)  # the ack, and catch_up's
        return Outcome(outcome.events)

    async def catch_up(state: RoomState) -> None:
        # Under the meeting's lock, once every event committed so far (this join's batch
        # included) has reached this process's connections: the snapshot (or the replay) holds
        # them all, and the connection enters the rooms only now, so later events come as
        # "event"s, none missing and none twice.
        if not room.sio.manager.is_connected(ctx.sid, "/"):
            return  # gone meanwhile: its disconnect handler records the leave
        status = result["status"]
        await room.sio.enter_room(ctx.sid, room.participant_room(msg.meeting_id, key))
        if status == "in":
            await room.sio.enter_room(ctx.sid, room.meeting_room(msg.meeting_id))
        session_data.update(meeting_id=msg.meeting_id, status=status, office_moderator=office)
        if status != "in":
            return
        if msg.last_seq is None:
            result["state"] = state.snapshot(key)
        else:
            result["events"] = await room.replay(msg.meeting_id, key, msg.last_seq, state)

    await room.commit(msg.meeting_id, enter, skip_sid=ctx.sid, after=catch_up)
    return result


@handler("sync", Sync)
async def sync(ctx: HandlerContext, msg: Sync) -> dict[str, Any]:
    return {"events": await ctx.room.replay(ctx.meeting_id, ctx.participant, msg.last_seq)}


@handler("leave", Empty)
async def leave(ctx: HandlerContext, msg: Empty) -> None:
    session_data = await ctx.room.sio.get_session(ctx.sid)
    session_data.update(status="", meeting_id=0)
    await ctx.room.sio.leave_room(ctx.sid, ctx.room.meeting_room(ctx.meeting_id))
    await ctx.room.sio.leave_room(ctx.sid, ctx.room.participant_room(ctx.meeting_id, ctx.participant))
    await drop_connection(ctx.room, ctx.meeting_id, ctx.participant, ctx.sid, "left")
    return None


async def drop_connection(room: RoomService, meeting_id: int, key: str, sid: str, reason: str) -> None:
    """A joined connection went away: ``participant.left`` when it was the person's last."""

    async def left(session: AsyncSession, state: RoomState) -> Outcome[None]:
        remaining = await room.presence.remove(meeting_id, key, sid)
        if remaining:
            return Outcome([])
        return Outcome(await room_domain.leave_room(session, meeting_id, state, key, reason))

    try:
        await room.commit(meeting_id, left)
    except NotFound:
        await room.presence.remove(meeting_id, key, sid)  # the meeting is gone


@handler("meeting.start", Empty, moderator=True)
async def meeting_start(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
        meeting = await room_domain.get_meeting(session, ctx.meeting_id)
        return Outcome(await room_domain.start_meeting(session, meeting, state, ctx.actor))

    events = (await ctx.commit(act)).events
    return {"seq": events[-1].seq}


@handler("meeting.end", Empty, moderator=True)
async def meeting_end(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    async def act(session: AsyncSession, state: RoomState) -> Outcome[None]:
        meeting = await room_domain.get_meeting(session, ctx.meeting_id)
        return Outcome(await room_domain.end_meeting(session, meeting, state, ctx.actor))

    events = (await ctx.commit(act)).events
    wake_outbox(ctx.runtime)  # the protocol's draft was queued with the end
    await follow_log(ctx.runtime, ctx.meeting_id, "close", reason="meeting_ended")
    return {"seq": events[-1].seq}
