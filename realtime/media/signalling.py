"""media.* messages of the meeting room (WebRTC signalling and moderation), see docs/media.md.

The client always offers (first connection and every renegotiation); the answer comes back in
the acknowledgement together with the slot map ``{mid: {participant, source} | null}``, which
is also pushed as "media.slots" whenever the forwarding policy changes it.

Every operation on the meeting's media runs where that media lives (``MediaService.run``): in
this process, or, with Redis, on the meeting's owner node, relayed over Redis pub/sub (see
realtime/media/placement.py). What goes into the meeting log and to the participants' sockets
is done here, on the node that received the message."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.config import parse_ice_servers
from realtime.media.service import media_service
from realtime.media.transcriber import transcriber
from realtime.meeting.registry import HandlerContext, Message, handler
from server.domain.meeting.events import ParticipantKey
from server.domain.meeting.groups import room_of
from server.domain.meeting.media import mute_microphones, unlock_microphones
from server.domain.meeting.room import require_open
from server.domain.meeting.room_state import RoomState
from server.errors import AppError


class Offer(Message):
    sdp: str = Field(min_length=1, max_length=64_000)
    type: Literal["offer"] = "offer"
    sources: dict[str, Literal["mic", "camera", "screen"]] = Field(default_factory=dict, max_length=16)


class Candidate(Message):
    candidate: str = Field(max_length=1000)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class Empty(Message):
    pass


class Target(Message):
    participant: ParticipantKey


@handler("media.config", Empty)
async def media_config(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    """What the browser needs before its first offer: ICE servers and how many slots to open;
    ``peer``: whether the server holds a media connection of this person (after a long
    reconnect the page rebuilds its own when the server has dropped it); ``group``: the
    breakout group whose room the offer will enter (None: the main room)."""
    service = media_service(ctx.runtime)
    config = service.sfu.config
    servers = [
        {"urls": s.urls, **({"username": s.username, "credential": s.credential} if s.username else {})}
        for s in parse_ice_servers(config.ice_servers)
    ]
    state = await service.run(ctx.meeting_id, "state", participant=ctx.participant)
    return {
        "iceServers": servers,
        "audio_slots": config.max_audio,
        "video_slots": config.last_n + 1,
        "locked": state["locked"],
        "muted": state["muted"],
        "peer": state["peer"],
        "transcription_available": transcriber(ctx.runtime).available,
        "group": room_of(ctx.state, ctx.participant) if ctx.state is not None else None,
    }


@handler("media.offer", Offer)
async def media_offer(ctx: HandlerContext, msg: Offer) -> dict[str, Any]:
    if ctx.state is not None:
        require_open(ctx.state)
    # The room the log puts this person in: the main room or their breakout group's
    # (docs/groups.md). While groups exist, read exactly, as a move may have just been committed
    # elsewhere. Otherwise this process's fold answers without waiting for the meeting's lock
    # (a join storm holds it batch after batch); should groups have just started on another
    # process, the media service's presence check moves the peer within a second.
    state = ctx.state
    if state is None or state.groups.status in ("created", "running"):
        state = await ctx.room.current_state(ctx.meeting_id)
    group = room_of(state, ctx.participant)
    result = await media_service(ctx.runtime).run(
        ctx.meeting_id,
        "offer",
        participant=ctx.participant,
        sdp=msg.sdp,
        sources=dict(msg.sources),
        group=group,
    )
    return {
        "type": "answer",
        "sdp": result["sdp"],
        "slots": result["slots"],
        "locked": result["locked"],
        "mics": result.get("mics", []),
    }


@handler("media.candidate", Candidate)
async def media_candidate(ctx: HandlerContext, msg: Candidate) -> None:
    await media_service(ctx.runtime).run(
        ctx.meeting_id, "candidate", participant=ctx.participant, candidate=msg.candidate, sdpMid=msg.sdpMid
    )


@handler("media.leave", Empty)
async def media_leave(ctx: HandlerContext, msg: Empty) -> None:
    await media_service(ctx.runtime).run(ctx.meeting_id, "leave", participant=ctx.participant)


@handler("media.unmute", Empty)
async def media_unmute(ctx: HandlerContext, msg: Empty) -> None:
    await media_service(ctx.runtime).run(
        ctx.meeting_id, "unmute", participant=ctx.participant, moderator=ctx.is_moderator
    )


async def _log_mute(ctx: HandlerContext, participant: str | None, locked: bool) -> int:
    async def act(session: AsyncSession, state: RoomState) -> list[Any]:
        return await mute_microphones(session, ctx.meeting_id, state, ctx.actor, participant, locked)

    events = await ctx.commit_events(act)
    return events[-1].seq


@handler("media.mute", Target, moderator=True)
async def media_mute(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    if ctx.state is not None and msg.participant not in ctx.state.participants:
        # this process's fold may not have seen a join through another process yet
        if msg.participant not in (await ctx.room.current_state(ctx.meeting_id)).participants:
            raise AppError("participant_unknown", status=404)
    # forwarding stops before anything else happens
    locked = (await media_service(ctx.runtime).run(ctx.meeting_id, "mute", participant=msg.participant))[
        "locked"
    ]
    seq = await _log_mute(ctx, msg.participant, locked)
    await ctx.emit_to_participant(msg.participant, "media.muted", {"locked": locked})
    return {"seq": seq}


@handler("media.mute_all", Empty, moderator=True)
async def media_mute_all(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    result = await media_service(ctx.runtime).run(ctx.meeting_id, "mute_all", keep=[ctx.participant])
    seq = await _log_mute(ctx, None, result["locked"])
    await ctx.emit_to_room(
        "media.muted", {"all": True, "except": ctx.participant, "locked": result["locked"]}
    )
    return {"seq": seq}


@handler("media.lock", Empty, moderator=True)
async def media_lock(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    await media_service(ctx.runtime).run(ctx.meeting_id, "lock", keep=[ctx.participant])
    seq = await _log_mute(ctx, None, True)
    await ctx.emit_to_room("media.muted", {"all": True, "except": ctx.participant, "locked": True})
    return {"seq": seq}


@handler("media.unlock", Empty, moderator=True)
async def media_unlock(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    await media_service(ctx.runtime).run(ctx.meeting_id, "unlock")

    async def act(session: AsyncSession, state: RoomState) -> list[Any]:
        return await unlock_microphones(session, ctx.meeting_id, state, ctx.actor)

    events = await ctx.commit_events(act)
    await ctx.emit_to_room("media.unlocked", {})
    return {"seq": events[-1].seq}


@handler("media.screen_stop", Target, moderator=True)
async def media_screen_stop(ctx: HandlerContext, msg: Target) -> None:
    result = await media_service(ctx.runtime).run(ctx.meeting_id, "screen_stop", participant=msg.participant)
    if not result["stopped"]:
        raise AppError("media_no_screen", status=409)
    await ctx.emit_to_participant(msg.participant, "media.screen_stopped", {})
