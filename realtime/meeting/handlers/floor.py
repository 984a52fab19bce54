"""Hands, the floor (list of speakers) and the agenda."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.meeting.registry import MAX_INT, Empty, HandlerContext, Message, handler
from server.domain.meeting import agenda, hands
from server.domain.meeting.events import ParticipantKey
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import Actor, RoomState

Step = Callable[[AsyncSession, int, RoomState, Actor], Awaitable[list[LoggedEvent]]]


class Someone(Message):
    participant: ParticipantKey | None = None


class AgendaStart(Message):
    item_id: int = Field(ge=1, le=MAX_INT)


async def run(ctx: HandlerContext, step: Step) -> dict[str, Any]:
    async def act(session: AsyncSession, state: RoomState) -> list[LoggedEvent]:
        return await step(session, ctx.meeting_id, state, ctx.actor)

    events = await ctx.commit_events(act)
    return {"seq": events[-1].seq if events else None}


@handler("hand.raise", Empty)
async def hand_raise(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await run(ctx, hands.raise_hand)


@handler("hand.lower", Someone)
async def hand_lower(ctx: HandlerContext, msg: Someone) -> dict[str, Any]:
    return await run(ctx, lambda s, m, st, a: hands.lower_hand(s, m, st, a, msg.participant))


@handler("floor.grant", Someone, moderator=True)
async def floor_grant(ctx: HandlerContext, msg: Someone) -> dict[str, Any]:
    return await run(ctx, lambda s, m, st, a: hands.grant_floor(s, m, st, a, msg.participant))


@handler("floor.end", Empty)
async def floor_end(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await run(ctx, hands.end_floor)


@handler("agenda.start", AgendaStart, moderator=True)
async def agenda_start(ctx: HandlerContext, msg: AgendaStart) -> dict[str, Any]:
    return await run(ctx, lambda s, m, st, a: agenda.start_item(s, m, st, a, msg.item_id))


@handler("agenda.end", Empty, moderator=True)
async def agenda_end(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    return await run(ctx, agenda.end_item)
