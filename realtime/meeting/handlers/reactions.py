"""reaction.send: a passing sign («Нравится», «Поддерживаю», «Есть вопрос», «Аплодисменты»)
shown for a moment over the sender's tile. Not logged: it changes no state and is no part of
the protocol; rate-limited like every room message (realtime/meeting/limits.py)."""

from __future__ import annotations

from typing import Any, Literal

from realtime.meeting.registry import HandlerContext, Message, handler
from server.domain.meeting.room import require_live

REACTION_KINDS = ("like", "support", "question", "applause")


class ReactionSend(Message):
    kind: Literal["like", "support", "question", "applause"]


@handler("reaction.send", ReactionSend)
async def reaction_send(ctx: HandlerContext, msg: ReactionSend) -> dict[str, Any]:
    if ctx.state is not None:
        require_live(ctx.state)
    await ctx.emit_to_room("reaction", {"participant": ctx.participant, "kind": msg.kind})
    return {}
