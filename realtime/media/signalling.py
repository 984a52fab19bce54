"""media.* messages of the meeting room (WebRTC signalling and moderation), see docs/media.md.

The client always offers (first connection and every renegotiation); the answer comes back in
the acknowledgement together with the slot map ``{mid: {participant, source} | null}``, which
is also pushed as "media.slots" whenever the forwarding policy changes it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.config import parse_ice_servers
from realtime.media.errors import MicLocked
from realtime.media.service import media_service
from realtime.meeting.registry import HandlerContext, Message, handler
from server.domain.events import ParticipantKey
from server.domain.media import mute_microphones, unlock_microphones
from server.domain.room import require_open
from server.domain.room_state import RoomState
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
    """What the browser needs before its first offer: ICE servers and how many slots to open."""
    service = media_service(ctx.runtime)
    config = service.sfu.config
    servers = [
        {"urls": s.urls, **({"username": s.username, "credential": s.credential} if s.username else {})}
        for s in parse_ice_servers(config.ice_servers)
    ]
    room = service.room(ctx.meeting_id)
    return {
        "iceServers": servers,
        "audio_slots": config.max_audio,
        "video_slots": config.last_n + 1,
        "locked": room.locked,
        "muted": ctx.participant in room.muted,
    }


@handler("media.offer", Offer)
async def media_offer(ctx: HandlerContext, msg: Offer) -> dict[str, Any]:
    if ctx.state is not None:
        require_open(ctx.state)
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    sdp = await room.offer(ctx.participant, msg.sdp, msg.sources)
    return {"type": "answer", "sdp": sdp, "slots": room.slot_map(ctx.participant), "locked": room.locked}


@handler("media.candidate", Candidate)
async def media_candidate(ctx: HandlerContext, msg: Candidate) -> None:
    await (
        media_service(ctx.runtime).room(ctx.meeting_id).candidate(ctx.participant, msg.candidate, msg.sdpMid)
    )


@handler("media.leave", Empty)
async def media_leave(ctx: HandlerContext, msg: Empty) -> None:
    await media_service(ctx.runtime).sfu.leave(ctx.meeting_id, ctx.participant)


@handler("media.unmute", Empty)
async def media_unmute(ctx: HandlerContext, msg: Empty) -> None:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    if room.locked and not ctx.is_moderator:
        raise MicLocked()
    room.unmute(ctx.participant)


async def _log_mute(ctx: HandlerContext, participant: str | None, locked: bool) -> int:
    async def act(session: AsyncSession, state: RoomState) -> list[Any]:
        return await mute_microphones(session, ctx.meeting_id, state, ctx.actor, participant, locked)

    events = await ctx.commit_events(act)
    return events[-1].seq


@handler("media.mute", Target, moderator=True)
async def media_mute(ctx: HandlerContext, msg: Target) -> dict[str, Any]:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    if ctx.state is not None and msg.participant not in ctx.state.participants:
        raise AppError("participant_unknown", status=404)
    room.mute(msg.participant)  # forwarding stops before anything else happens
    seq = await _log_mute(ctx, msg.participant, room.locked)
    await ctx.emit_to_participant(msg.participant, "media.muted", {"locked": room.locked})
    return {"seq": seq}


@handler("media.mute_all", Empty, moderator=True)
async def media_mute_all(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    room.mute_all(lock=False, keep=frozenset({ctx.participant}))
    seq = await _log_mute(ctx, None, room.locked)
    await ctx.emit_to_room("media.muted", {"all": True, "except": ctx.participant, "locked": room.locked})
    return {"seq": seq}


@handler("media.lock", Empty, moderator=True)
async def media_lock(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    room.mute_all(lock=True, keep=frozenset({ctx.participant}))
    seq = await _log_mute(ctx, None, True)
    await ctx.emit_to_room("media.muted", {"all": True, "except": ctx.participant, "locked": True})
    return {"seq": seq}


@handler("media.unlock", Empty, moderator=True)
async def media_unlock(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    room.unlock()

    async def act(session: AsyncSession, state: RoomState) -> list[Any]:
        return await unlock_microphones(session, ctx.meeting_id, state, ctx.actor)

    events = await ctx.commit_events(act)
    await ctx.emit_to_room("media.unlocked", {})
    return {"seq": events[-1].seq}


@handler("media.screen_stop", Target, moderator=True)
async def media_screen_stop(ctx: HandlerContext, msg: Target) -> None:
    room = media_service(ctx.runtime).room(ctx.meeting_id)
    if not room.stop_screen(msg.participant):
        raise AppError("media_no_screen", status=409)
    await ctx.emit_to_participant(msg.participant, "media.screen_stopped", {})
