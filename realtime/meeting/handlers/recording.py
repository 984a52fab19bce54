"""recording.switch: a moderator switches the meeting's recording on or off (docs/recording.md).

The log's flag is the truth: the SFU, wherever the meeting's media lives, is told at once and
also re-reads the flag every second (realtime/media/service.py), so a lost call or a node that
takes the meeting over still follows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.media.service import follow_log
from realtime.meeting.registry import HandlerContext, Message, handler
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.recording import switch_recording
from server.domain.meeting.room_state import RoomState


class Switch(Message):
    on: bool


@handler("recording.switch", Switch, moderator=True)
async def recording_switch(ctx: HandlerContext, msg: Switch) -> dict[str, Any]:
    async def act(session: AsyncSession, state: RoomState) -> list[LoggedEvent]:
        return await switch_recording(session, ctx.meeting_id, state, ctx.actor, msg.on)

    events = await ctx.commit_events(act)
    await follow_log(ctx.runtime, ctx.meeting_id, "recording", on=msg.on)
    return {"seq": events[-1].seq if events else None, "on": msg.on}
