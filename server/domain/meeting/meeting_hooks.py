"""Reactions to a meeting's lifecycle, registered by features (letters and reminders, the
search index, the plan row's status, feedback forms…), run inside the transaction that
changes the meeting, so that their effects (outbox rows, index rows) commit with it.

    @on_meeting_change
    async def _letter(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
        if change.kind == "updated" and change.previous_starts_at != meeting.starts_at: ...

A hook must be quick and must not raise for ordinary data (it would roll the change back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, User

ChangeKind = Literal["created", "updated", "cancelled", "ended"]


@dataclass(frozen=True, slots=True)
class MeetingChange:
    kind: ChangeKind
    actor: User | None  # None when the system did it
    previous_starts_at: datetime | None = None  # "updated": the start before the change
    previous_ends_at: datetime | None = None


Hook = Callable[[AsyncSession, Meeting, MeetingChange], Awaitable[None]]
HOOKS: list[Hook] = []


def on_meeting_change(fn: Hook) -> Hook:
    HOOKS.append(fn)
    return fn


async def meeting_changed(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    for hook in HOOKS:
        await hook(session, meeting, change)
