"""Breakout groups («Работа в группах», docs/groups.md): the moderator's actions and the checks.

Everything is an event of the meeting's log; the fold (``group_fold.py``) says who is in which
group. Each group gets an ordinary meeting document («Результаты группы N»), editable by its
members (policy ``named``), whose id the ``groups.created`` event carries; at ``groups.ended``
those documents are captured as ``doc.snapshot`` events (reason ``groups_ended``). The end is
a durable outbox job due at ``ends_at`` (kind ``groups.end``, handled in
``realtime/meeting/handlers/groups.py``), so a restart still ends the groups on time.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.documents import EditPolicy, MeetingDocument
from server.db.types import utcnow
from server.domain.meeting.documents import create_document, document_text
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room import require_live, require_moderator
from server.domain.meeting.room_state import Actor, RoomState, iso, parse_iso
from server.errors import AppError

MIN_SECONDS = 60
MAX_SECONDS = 4 * 3600  # one round, extensions included
MAX_GROUPS = 20
MAX_NAME = 100
MAX_TASK = 2000
MAX_BROADCAST = 1000
JOB_KIND = "groups.end"
Item = tuple[str, str, dict[str, Any]]


class GroupsRunning(AppError):
    code, status = "groups_running", 409


class GroupsNotRunning(AppError):
    code, status = "groups_not_running", 409


class GroupUnknown(AppError):
    code, status = "group_unknown", 404


class GroupMemberForbidden(AppError):
    """The person may not be put in a group: removed, waiting, never admitted."""

    code, status = "group_member_forbidden", 403


class GroupMemberTwice(AppError):
    code, status = "group_member_twice", 422


class GroupsBadDuration(AppError):
    code, status = "groups_bad_duration", 422


class GroupsBadCount(AppError):
    code, status = "groups_bad_count", 422


class NotInGroup(AppError):
    code, status = "group_none", 409


def doc_title(number: int, name: str) -> str:
    default = f"Группа {number}"
    return f"Результаты группы {number}" + ("" if name == default else f": {name}")


def check_member(state: RoomState, key: str) -> None:
    """Who may be in a group: anyone the main room admits (guests too), not removed or waiting."""
    person = state.participants.get(key)
    if person is None:
        raise AppError("participant_unknown", status=404)
    if person["removed"] or person["waiting"] or not person.get("admitted"):
        raise GroupMemberForbidden()


def eligible_for_random(state: RoomState) -> list[str]:
    """Present participants who are not moderators: the ones a random split distributes."""
    return sorted(
        key
        for key, p in state.participants.items()
        if p["connected"]
        and not p["removed"]
        and not p["waiting"]
        and p.get("admitted")
        and not p["moderator"]
    )


def _check_duration(seconds: int) -> None:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise GroupsBadDuration(minimum=MIN_SECONDS // 60, maximum=MAX_SECONDS // 60)


async def _schedule_end(session: AsyncSession, meeting_id: int, round_: int, ends_at: datetime) -> None:
    from server.mail.outbox import enqueue

    stamp = iso(ends_at)
    await enqueue(
        session,
        JOB_KIND,
        f"{JOB_KIND}:{meeting_id}:{round_}:{stamp}",
        {"meeting_id": meeting_id, "round": round_, "ends_at": stamp},
        run_at=ends_at,
    )


async def start_groups(
    session: AsyncSession,
    meeting_id: int,
    state: RoomState,
    actor: Actor,
    specs: list[dict[str, Any]],
    duration: int,
    random: bool,
) -> list[LoggedEvent]:
    """Create the groups (names, tasks, members by hand or at random) and start them at once:
    ``groups.created`` and ``groups.started``; the end is scheduled at ``ends_at``."""
    require_moderator(state, actor)
    require_live(state)
    if state.groups.status in ("created", "running"):
        raise GroupsRunning()
    if not 1 <= len(specs) <= MAX_GROUPS:
        raise GroupsBadCount(maximum=MAX_GROUPS)
    _check_duration(duration)
    members: list[list[str]] = [[] for _ in specs]
    if random:
        people = eligible_for_random(state)
        secrets.SystemRandom().shuffle(people)
        for i, key in enumerate(people):
            members[i % len(specs)].append(key)
    else:
        seen: set[str] = set()
        for i, spec in enumerate(specs):
            for key in spec.get("members") or []:
                check_member(state, key)
                if key in seen:
                    raise GroupMemberTwice()
                seen.add(key)
                members[i].append(key)
    round_ = state.groups.round + 1
    groups: list[dict[str, Any]] = []
    for i, spec in enumerate(specs):
        number = i + 1
        name = (spec.get("name") or "").strip()[:MAX_NAME] or f"Группа {number}"
        doc = await create_document(session, meeting_id, doc_title(number, name))
        doc.edit_policy = EditPolicy.named
        doc.editors = sorted(members[i])
        groups.append(
            {
                "id": state.groups.last_id + number,
                "name": name,
                "task": (spec.get("task") or "").strip()[:MAX_TASK],
                "members": members[i],
                "doc_id": doc.id,
            }
        )
    await session.flush()
    now = utcnow()
    ends_at = now + timedelta(seconds=duration)
    created = {
        "round": round_,
        "groups": groups,
        "duration": duration,
        "assignment": "random" if random else "manual",
    }
    events = await append_events(
        session,
        meeting_id,
        [
            ("groups.created", actor.key, created),
            ("groups.started", actor.key, {"round": round_, "ends_at": iso(ends_at)}),
            *hands_down(state, [key for group in members for key in group], actor.key),
        ],
        at=now,
    )
    await _schedule_end(session, meeting_id, round_, ends_at)
    return events


def _require_running(state: RoomState) -> None:
    require_live(state)
    if not state.groups.running:
        raise GroupsNotRunning()


def _require_group(state: RoomState, group: int) -> dict[str, Any]:
    spec = state.groups.groups.get(group)
    if spec is None:
        raise GroupUnknown()
    return spec


async def extend_groups(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, seconds: int
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    _require_running(state)
    g = state.groups
    assert g.ends_at is not None and g.started_at is not None
    ends_at = parse_iso(g.ends_at) + timedelta(seconds=seconds)
    if seconds < MIN_SECONDS or (ends_at - parse_iso(g.started_at)).total_seconds() > MAX_SECONDS:
        raise GroupsBadDuration(minimum=MIN_SECONDS // 60, maximum=MAX_SECONDS // 60)
    payload = {"round": g.round, "ends_at": iso(ends_at), "seconds": seconds}
    events = await append_events(session, meeting_id, [("groups.extended", actor.key, payload)])
    await _schedule_end(session, meeting_id, g.round, ends_at)
    return events


async def move_person(
    session: AsyncSession,
    meeting_id: int,
    state: RoomState,
    actor: Actor,
    participant: str,
    group: int | None,
) -> list[LoggedEvent]:
    """Move a person into ``group`` (or back to the main room); their group document's
    editors follow."""
    require_moderator(state, actor)
    _require_running(state)
    check_member(state, participant)
    if group is not None:
        _require_group(state, group)
    old = state.groups.of.get(participant)
    if old == group:
        return []
    for gid, add in ((old, False), (group, True)):
        doc_id = state.groups.groups[gid].get("doc_id") if gid is not None else None
        doc = await session.get(MeetingDocument, doc_id) if doc_id is not None else None
        if doc is not None:
            editors = set(doc.editors or [])
            doc.editors = sorted(editors | {participant} if add else editors - {participant})
    payload = {"participant": participant, "group": group}
    items = [("groups.assigned", actor.key, payload), *hands_down(state, [participant], actor.key)]
    return await append_events(session, meeting_id, items)


async def broadcast(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, text: str
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    _require_running(state)
    text = text.strip()
    if not text or len(text) > MAX_BROADCAST:
        raise AppError("validation_failed", status=422, details={"fields": {"text": "length"}})
    return await append_events(session, meeting_id, [("groups.broadcast", actor.key, {"text": text})])


async def visit(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor, group: int | None
) -> list[LoggedEvent]:
    """A moderator enters a group's room (``group``) or goes back to the main room (None)."""
    require_moderator(state, actor)
    _require_running(state)
    current = state.groups.visiting.get(actor.key)
    if group is None:
        if current is None:
            return []
        return await append_events(
            session,
            meeting_id,
            [("groups.left", actor.key, {"group": current}), *hands_down(state, [actor.key], actor.key)],
        )
    _require_group(state, group)
    if current == group:
        return []
    return await append_events(
        session,
        meeting_id,
        [("groups.visit", actor.key, {"group": group}), *hands_down(state, [actor.key], actor.key)],
    )


async def call_moderator(
    session: AsyncSession, meeting_id: int, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    _require_running(state)
    group = state.groups.of.get(actor.key)
    if group is None:
        raise NotInGroup()
    return await append_events(session, meeting_id, [("groups.call_moderator", actor.key, {"group": group})])


async def end_groups(
    session: AsyncSession,
    meeting_id: int,
    state: RoomState,
    actor: Actor | None,
    *,
    round_: int | None = None,
) -> list[LoggedEvent]:
    """End the groups: everyone back in the main room, each group's document captured.
    ``actor`` None: the timer (idempotent; does nothing unless round ``round_`` is still
    running and its time is up)."""
    g = state.groups
    if actor is None:
        if state.status != "live" or not g.running or g.round != round_ or g.ends_at is None:
            return []
        if utcnow() < parse_iso(g.ends_at):
            return []
    else:
        require_moderator(state, actor)
        _require_running(state)
    who = actor.key if actor is not None else "system"
    reason = "timer" if actor is None else "moderator"
    items: list[Item] = [("groups.ended", who, {"round": g.round, "reason": reason})]
    items += hands_down(state, [*g.of, *g.visiting], who)
    for spec in sorted(g.groups.values(), key=lambda s: s["id"]):
        doc = await session.get(MeetingDocument, spec["doc_id"]) if spec.get("doc_id") else None
        if doc is None:
            continue
        text = await document_text(session, doc.id)
        if text.strip():
            payload = {"doc_id": doc.id, "title": doc.title, "text": text, "reason": "groups_ended"}
            items.append(("doc.snapshot", "system", payload))
    return await append_events(session, meeting_id, items)


def hands_down(state: RoomState, keys: list[str], actor: str) -> list[Item]:
    """A raised hand belongs to the room it was raised in (docs/groups.md): moving to another
    room (a group, back to the main room, a visit) lowers it."""
    return [
        ("hand.lowered", actor, {"participant": key}) for key in dict.fromkeys(keys) if key in state.hands
    ]


def hands_here(state: RoomState, key: str) -> list[str]:
    """The raised hands in ``key``'s room, in order: a group's queue or the main room's."""
    here = room_of(state, key)
    return [k for k in state.hands if room_of(state, k) == here]


def room_of(state: RoomState, key: str) -> int | None:
    """The group whose room ``key`` is in (media, chat); None: the main room."""
    return state.groups.room_of(key)
