"""chat.send"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.meeting.registry import MAX_INT, HandlerContext, Message, handler
from server.domain.meeting.chat import MAX_TEXT, send_message
from server.domain.meeting.events import ParticipantKey
from server.domain.meeting.room_state import RoomState


class ChatSend(Message):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    reply_to: int | None = Field(default=None, ge=1, le=MAX_INT)
    to: ParticipantKey | None = None


@handler("chat.send", ChatSend)
async def chat_send(ctx: HandlerContext, msg: ChatSend) -> dict[str, Any]:
    # Limited per connection and person by the dispatcher (realtime/meeting/limits.py).
    async def act(session: AsyncSession, state: RoomState) -> list[Any]:
        return await send_message(session, ctx.meeting_id, state, ctx.actor, msg.text, msg.reply_to, msg.to)

    events = await ctx.commit_events(act)
    return {"seq": events[-1].seq}
