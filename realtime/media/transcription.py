"""The room's transcription and recording switches, and the transcript so far.

``transcription.switch`` (moderators): the switch is an event in the log
(``transcription.switched``); transcription then starts or stops capturing speech where the
meeting's media lives. (``recording.switch`` is realtime/meeting/handlers/recording.py.) ``transcript.list`` gives a joining client the segments so far
(later ones arrive as events)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.service import media_service
from realtime.media.transcriber import transcriber
from realtime.meeting.registry import HandlerContext, Message, handler
from server.db.models import MeetingEvent
from server.domain.meeting import transcript
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import RoomState
from server.errors import AppError

MAX_LISTED = 5000


class Switch(Message):
    on: bool


class Empty(Message):
    pass


async def _switch(ctx: HandlerContext, which: transcript.Switch, on: bool) -> dict[str, Any]:
    async def act(session: AsyncSession, state: RoomState) -> list[LoggedEvent]:
        return await transcript.switch(session, ctx.meeting_id, state, ctx.actor, which, on)

    events = await ctx.commit_events(act)
    return {"seq": events[-1].seq if events else None, "on": on}


@handler("transcription.switch", Switch, moderator=True)
async def transcription_switch(ctx: HandlerContext, msg: Switch) -> dict[str, Any]:
    if msg.on and not transcriber(ctx.runtime).available:
        raise AppError("transcription_unavailable", status=409)
    result = await _switch(ctx, "transcription", msg.on)
    await media_service(ctx.runtime).run(ctx.meeting_id, "transcription", on=msg.on)
    return result


@handler("transcript.list", Empty)
async def transcript_list(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    async with ctx.runtime.db.read() as session:
        rows = (
            await session.scalars(
                select(MeetingEvent)
                .where(MeetingEvent.meeting_id == ctx.meeting_id, MeetingEvent.type == "transcript.segment")
                .order_by(MeetingEvent.seq)
                .limit(MAX_LISTED)
            )
        ).all()
    return {
        "available": transcriber(ctx.runtime).available,
        "segments": [LoggedEvent.from_row(r).to_wire() for r in rows],
    }
