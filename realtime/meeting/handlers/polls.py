"""Socket.IO messages of polls and votes: "poll.create", "poll.open", "poll.close", "vote.cast".

Thin: validate the payload, call one domain action (server/domain/meeting/polls.py) inside the room's
commit (the exact folded state gives moderator rights and presence), acknowledge. A poll
with ``closes_in_seconds`` gets a timer in this process; every process re-arms the timers of
open polls the first time it handles a poll message, and an overdue poll is also closed by
any vote on it and by the HTTP exports, so a restart never leaves a poll open for ever.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.meeting.registry import HandlerContext, Message, Outcome, RoomState, handler, room_service
from server.db.types import utcnow
from server.domain.meeting.poll_closing import (
    close_overdue_polls,
    close_poll,
    open_poll_deadlines,
    sweep_poll_keys,
)
from server.domain.meeting.polls import (
    MAX_ID,
    PollDraft,
    VoteOutcome,
    cast_vote,
    closes_at,
    create_poll,
    open_poll,
)
from server.domain.year.anonymous import sweep_questionnaire_keys
from server.errors import AppError

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.polls")
TIMERS_KEY = "poll_timers"
ARMED_KEY = "poll_timers_armed"


class PollCreate(Message, PollDraft):
    """Create a draft poll (meeting scheduled or live): `poll.created`. A decision poll gets the
    options «за», «против», «воздержались»; a secret poll cannot allow changing a vote.
    Result: `{"poll_id": int}`. Errors: `forbidden`, `validation_failed`, `poll_options_invalid`,
    `poll_secret_change`, `agenda_item_not_found`, `meeting_ended`."""


class PollOpen(Message):
    """Open a draft poll for voting (meeting live): `poll.opened`; with `closes_in_seconds` the
    server closes it by itself. Result: `{"closes_at": ISO time | null}`.
    Errors: `forbidden`, `poll_not_found`, `poll_closed`, `meeting_not_live`."""

    poll_id: int = Field(strict=True, ge=1, le=MAX_ID)


class PollClose(Message):
    """Close an open poll and freeze its result: `poll.closed` (closing a closed poll again
    returns the same result). Result: `{"result": PollResult}`.
    Errors: `forbidden`, `poll_not_found`, `poll_not_open`."""

    poll_id: int = Field(strict=True, ge=1, le=MAX_ID)


class VoteCast(Message):
    """Vote (members present; guests only when the poll allows it): `vote.cast`. A re-sent
    identical vote changes nothing (`already_voted: true`); a different one replaces the first
    only when the poll allows changes (never in a secret poll).
    Result: `{"ballots": int, "already_voted": bool}`. Errors: `poll_not_found`, `poll_not_open`,
    `poll_closed`, `poll_bad_choice`, `poll_single_choice`, `poll_not_eligible`,
    `poll_guests_excluded`, `poll_not_present`, `vote_already_cast`, `meeting_not_live`."""

    poll_id: int = Field(strict=True, ge=1, le=MAX_ID)
    choices: list[int] = Field(min_length=1, max_length=20, strict=True)


def present_keys(state: RoomState) -> set[str]:
    """Participants connected now (the room's presence), removed people excluded."""
    return {k for k, p in state.participants.items() if p["connected"] and not p["removed"]}


def moderator_now(ctx: HandlerContext, state: RoomState) -> bool:
    return ctx.office_moderator or state.is_moderator(ctx.participant)


@handler("poll.create", PollCreate, moderator=True)
async def poll_create(ctx: HandlerContext, msg: PollCreate) -> dict[str, Any]:
    draft = PollDraft.model_validate(msg.model_dump())

    async def action(s: AsyncSession, state: RoomState) -> Outcome[int]:
        poll, events = await create_poll(s, ctx.meeting_id, ctx.participant, moderator_now(ctx, state), draft)
        return Outcome(events, poll.id)

    await ensure_timers(ctx.runtime)
    return {"poll_id": (await ctx.commit(action)).value}


@handler("poll.open", PollOpen, moderator=True)
async def poll_open(ctx: HandlerContext, msg: PollOpen) -> dict[str, Any]:
    async def action(s: AsyncSession, state: RoomState) -> Outcome[datetime | None]:
        poll, events = await open_poll(
            s, ctx.meeting_id, msg.poll_id, ctx.participant, moderator_now(ctx, state)
        )
        return Outcome(events, closes_at(poll))

    await ensure_timers(ctx.runtime)
    deadline = (await ctx.commit(action)).value
    if deadline is not None:
        arm_timer(ctx.runtime, ctx.meeting_id, msg.poll_id, deadline)
    return {"closes_at": deadline.isoformat().replace("+00:00", "Z") if deadline else None}


@handler("poll.close", PollClose, moderator=True)
async def poll_close(ctx: HandlerContext, msg: PollClose) -> dict[str, Any]:
    async def action(s: AsyncSession, state: RoomState) -> Outcome[dict[str, Any] | None]:
        poll, events = await close_poll(
            s, ctx.meeting_id, msg.poll_id, ctx.participant, moderator_now(ctx, state), present_keys(state)
        )
        return Outcome(events, poll.result)

    result = (await ctx.commit(action)).value
    cancel_timer(ctx.runtime, msg.poll_id)
    return {"result": result}


@handler("vote.cast", VoteCast)
async def vote_cast(ctx: HandlerContext, msg: VoteCast) -> dict[str, Any]:
    async def action(s: AsyncSession, state: RoomState) -> Outcome[VoteOutcome]:
        present = state.is_connected(ctx.participant) and not state.is_removed(ctx.participant)
        outcome = await cast_vote(s, ctx.meeting_id, msg.poll_id, ctx.participant, present, list(msg.choices))
        return Outcome(outcome.events, outcome)

    await ensure_timers(ctx.runtime)
    try:
        outcome = (await ctx.commit(action)).value
    except AppError as exc:
        if exc.code == "poll_closed":
            await close_overdue(ctx.runtime, ctx.meeting_id)
        raise
    assert outcome is not None
    return {"ballots": outcome.ballots, "already_voted": outcome.already_voted}


# --- timers -------------------------------------------------------------------------------------
def _timers(runtime: Runtime) -> dict[int, asyncio.Task[None]]:
    timers: dict[int, asyncio.Task[None]] | None = runtime.services.get(TIMERS_KEY)
    if timers is None:
        timers = {}
        runtime.services[TIMERS_KEY] = timers

        async def stop() -> None:
            tasks = list(timers.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            timers.clear()

        runtime.services.setdefault("realtime_shutdown", []).append(stop)
    return timers


def start_poll_timers(runtime: Runtime) -> None:
    """At startup (realtime/namespaces.py): re-arm the timers of the polls left open."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    runtime.tasks.append(loop.create_task(ensure_timers(runtime), name="poll-timers"))


async def ensure_timers(runtime: Runtime) -> None:
    """Once per process: arm the timers of every open poll (they survive a restart this way);
    overdue polls close at once; the keys of closed secret polls that a crash left are destroyed."""
    if runtime.services.get(ARMED_KEY):
        return
    runtime.services[ARMED_KEY] = True
    try:
        async with runtime.db.read() as s:
            deadlines = await open_poll_deadlines(s)
            # Sealing keys a crash left behind after a close (server/db/sealing.py).
            await sweep_poll_keys(s)
            await sweep_questionnaire_keys(s)
    except Exception:
        runtime.services[ARMED_KEY] = False  # e.g. not migrated yet: the next poll message retries
        log.exception("could not re-arm the poll timers")
        return
    for meeting_id, poll_id, deadline in deadlines:
        arm_timer(runtime, meeting_id, poll_id, deadline)


def arm_timer(runtime: Runtime, meeting_id: int, poll_id: int, deadline: datetime) -> None:
    timers = _timers(runtime)
    if poll_id in timers:
        return

    async def fire() -> None:
        try:
            # The loop's clock and the wall clock drift apart: sleep until the wall clock agrees.
            for _ in range(10):
                remaining = (deadline - utcnow()).total_seconds()
                if remaining <= 0:
                    break
                await asyncio.sleep(remaining + 0.01)
            await close_overdue(runtime, meeting_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("poll timer failed", extra={"poll_id": poll_id})
        finally:
            timers.pop(poll_id, None)

    timers[poll_id] = asyncio.get_running_loop().create_task(fire(), name=f"poll-timer-{poll_id}")


def cancel_timer(runtime: Runtime, poll_id: int) -> None:
    task = _timers(runtime).pop(poll_id, None)
    if task is not None:
        task.cancel()


async def close_overdue(runtime: Runtime, meeting_id: int) -> None:
    """Close (automatically) the meeting's overdue polls and broadcast; idempotent everywhere."""

    async def action(s: AsyncSession, state: RoomState) -> Outcome[None]:
        return Outcome(await close_overdue_polls(s, meeting_id, present_keys(state)))

    await room_service(runtime).commit(meeting_id, action)
