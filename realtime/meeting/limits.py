"""Rate limits of every client->server room message: per connection and per person.

Each message has a limit fitting its use (a person raises a hand a few times a minute, types a
few document updates a second, sends a burst of ICE candidates when joining media). Counted
only for well-formed messages (malformed ones change nothing and cost no database work),
before any rights check or database access. Two sliding windows (the messages of the last
``seconds``):

- per connection, in the connection's own Socket.IO session (this process's memory);
- per person (``u:3`` / ``g:5``) in the meeting, through the runtime's limiter (Redis when
  configured, so a person's connections on several processes share it).

Past either limit the message gets ``rate_limited`` and does nothing; other people are not
affected. ``SMO_ROOM_RATE_FACTOR`` scales every count (load benchmarks raise it); chat's
counts come from ``SMO_CHAT_MESSAGES_PER_10S``.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.errors import RateLimited
from server.ratelimit import slide

if TYPE_CHECKING:
    from server.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Rate:
    per_connection: int
    per_person: int
    seconds: int
    setting: str | None = None  # both counts come from this Settings field


def _r(per_connection: int, seconds: int = 10, per_person: int | None = None) -> Rate:
    return Rate(per_connection, per_person if per_person is not None else 2 * per_connection, seconds)


LIMITS: dict[str, Rate] = {
    # the room
    "join": _r(10),
    "sync": _r(30),  # a reconnecting client catches up once; a loop of full replays is refused
    "leave": _r(10),
    "meeting.start": _r(5),
    "meeting.end": _r(5),
    "chat.send": Rate(10, 10, 10, setting="chat_messages_per_10s"),
    "hand.raise": _r(6),
    "hand.lower": _r(6),
    "floor.grant": _r(20),
    "floor.end": _r(10),
    "agenda.start": _r(20),
    "agenda.end": _r(20),
    "meeting.lock": _r(10),
    "meeting.admission": _r(10),
    "waiting.admit": _r(60),
    "waiting.deny": _r(60),
    "participant.remove": _r(30),
    "participant.readmit": _r(30),
    "participant.promote": _r(30),
    # polls
    "poll.create": _r(20, 60),
    "poll.open": _r(20, 60),
    "poll.close": _r(20, 60),
    "vote.cast": _r(10),
    # shared documents: updates at typing speed, one in flight per document
    "doc.list": _r(20),
    "doc.open": _r(40),
    "doc.close": _r(40),
    "doc.sync": _r(200),
    "doc.awareness": _r(200),
    "doc.create": _r(10, 60),
    "doc.policy": _r(20),
    "doc.snapshot": _r(10, 60),
    "board.get": _r(20),
    # media signalling: a burst of ICE candidates per negotiation
    "media.config": _r(10),
    "media.offer": _r(10),
    "media.candidate": _r(100),
    "media.leave": _r(10),
    "media.unmute": _r(20),
    "media.mute": _r(30),
    "media.mute_all": _r(10),
    "media.lock": _r(10),
    "media.unlock": _r(10),
    "media.screen_stop": _r(20),
    # reactions: a passing sign, 6 per 10 s per person whatever the number of tabs
    "reaction.send": _r(6, 10, 6),
    # transcription and recording
    "transcription.switch": _r(10),
    "recording.switch": _r(10),
    "transcript.list": _r(10),
    # breakout groups (docs/groups.md)
    "groups.start": _r(20, 60),
    "groups.extend": _r(10),
    "groups.move": _r(60),
    "groups.broadcast": _r(10),
    "groups.visit": _r(20),
    "groups.leave": _r(20),
    "groups.call_moderator": _r(3, 10),
    "groups.end": _r(5),
    "groups.state": _r(30),
}
DEFAULT = _r(10)  # a message registered without its own line (tests require one per message)
SESSION_KEY = "rates"


def rate_of(runtime: Runtime, name: str) -> tuple[int, int, int]:
    """(per connection, per person, window seconds) for ``name`` under the runtime's settings."""
    rate = LIMITS.get(name, DEFAULT)
    settings = runtime.settings
    if rate.setting is not None:
        count = int(getattr(settings, rate.setting))
        return count, count, rate.seconds
    factor = settings.room_rate_factor
    return (
        max(1, int(rate.per_connection * factor)),
        max(1, int(rate.per_person * factor)),
        rate.seconds,
    )


async def check(
    runtime: Runtime, session: dict[str, Any], name: str, meeting_id: int, participant: str
) -> None:
    """Count one ``name`` message of this connection and person; ``RateLimited`` past a limit."""
    per_connection, per_person, seconds = rate_of(runtime, name)
    # name -> the instants of this connection's messages in the window (one over the limit is
    # enough to know it is passed)
    counts: dict[str, deque[float]] = session.setdefault(SESSION_KEY, {})
    instants = counts.get(name)
    if instants is None:
        instants = counts[name] = deque(maxlen=per_connection + 1)
    if slide(instants, time.monotonic(), seconds) > per_connection:
        raise RateLimited(retry_after=seconds)
    await runtime.limiter.hit(f"room:{name}:{meeting_id}:{participant}", per_person, seconds)
