"""Entering and leaving the live room, and the meeting's lifecycle (start, end).

Every action here expects the caller (the room service) to hold the meeting's lock: the
meeting row locked for the transaction (:func:`server.domain.meeting.meeting_log.meeting_held`)
and ``state`` exact as of that moment. Actions append events and return them; they never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, Meeting, MeetingGuest, MeetingStatus, Organisation, Role, User
from server.db.types import utcnow
from server.domain.accounts.permissions import MeetingStanding
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.domain.meeting.room_state import Actor, Outcome, RoomState
from server.errors import AppError, Forbidden, NotFound, Unauthenticated
from server.names import short_from_full


class MeetingEnded(AppError):
    code, status = "meeting_ended", 409


class MeetingNotLive(AppError):
    code, status = "meeting_not_live", 409


# --- guards shared by the room's actions --------------------------------------------------------
def require_open(state: RoomState) -> None:
    """Nothing can be posted after the end (or to a cancelled meeting)."""
    if state.status in ("ended", "cancelled"):
        raise MeetingEnded()


def require_live(state: RoomState) -> None:
    require_open(state)
    if state.status != "live":
        raise MeetingNotLive()


def require_moderator(state: RoomState, actor: Actor) -> None:
    if not (actor.office_moderator or state.is_moderator(actor.key)):
        raise Forbidden()


def require_participant(state: RoomState, key: str) -> dict[str, Any]:
    """A person known to the room (joined at least once, or waiting)."""
    person = state.participants.get(key)
    if person is None:
        raise AppError("participant_unknown", status=404)
    return person


# --- loading --------------------------------------------------------------------------------
async def get_meeting(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound()
    return meeting


async def load_base(session: AsyncSession, meeting: Meeting) -> RoomState:
    """The fold's starting point: the meeting row and its agenda."""
    rows = (
        await session.execute(
            select(AgendaItem, User)
            .outerjoin(User, User.id == AgendaItem.rapporteur_id)
            .where(AgendaItem.meeting_id == meeting.id)
            .order_by(AgendaItem.position)
        )
    ).all()
    agenda = [
        {
            "id": item.id,
            "position": item.position,
            "title": item.title,
            "rapporteur": (user.short_name if user is not None else item.rapporteur_name),
            "planned_minutes": item.planned_minutes,
        }
        for item, user in rows
    ]
    return RoomState.base(
        meeting_id=meeting.id,
        title=meeting.title,
        status=str(meeting.status),
        locked=meeting.locked,
        admission=str(meeting.admission),
        agenda=agenda,
    )


async def identify(
    session: AsyncSession, uid: Any, sv: Any, guest: Any
) -> tuple[User | None, MeetingGuest | None]:
    """The person behind a session cookie's content: an active user, or an invited guest."""
    if isinstance(uid, int) and not isinstance(uid, bool):
        user = await session.get(User, uid)
        if user is not None and user.is_active and user.session_version == sv:
            return user, None
    if isinstance(guest, dict) and isinstance(guest.get("id"), int):
        row = await session.get(MeetingGuest, guest["id"])
        if row is not None and row.meeting_id == guest.get("meeting_id"):
            return None, row
    raise Unauthenticated()


@dataclass(frozen=True, slots=True)
class Entry:
    """The outcome of knocking: in the room or in the waiting room."""

    status: Literal["in", "waiting"]
    moderator: bool


async def _profile(session: AsyncSession, actor: Actor, role: Role | None) -> dict[str, Any]:
    if actor.guest is not None:
        guest = actor.guest
        return {
            "name": guest.name,
            "short_name": short_from_full(guest.name),  # «И.О. Фамилия» like everyone
            "role": "guest",
            "organisation": guest.organisation,
        }
    user = actor.user
    assert user is not None
    organisation = ""
    if user.organisation_id is not None:
        organisation = (
            await session.scalar(select(Organisation.name).where(Organisation.id == user.organisation_id))
        ) or ""
    return {
        "name": user.full_name,
        "short_name": user.short_name,
        "role": str(role) if role is not None else ("admin" if user.is_admin else "member"),
        "organisation": organisation,
    }


async def enter_room(
    session: AsyncSession,
    meeting: Meeting,
    state: RoomState,
    actor: Actor,
    standing: MeetingStanding,
) -> Outcome[Entry]:
    """Check who may enter (``standing``: the user's, from :func:`meeting_standing`), then record
    ``participant.joined`` when the person is not already connected (a second tab joins
    nobody) or ``waiting.entered`` when the admission policy makes them wait."""
    if actor.guest is not None:
        if actor.guest.meeting_id != meeting.id:
            raise Forbidden()
    elif not standing.may_join:
        raise Forbidden()
    if state.status == "cancelled":
        raise MeetingEnded()
    key = actor.key
    if state.is_removed(key):
        raise AppError("participant_removed", status=403)
    moderator = actor.office_moderator or state.is_moderator(key)
    if state.status == "ended":
        return Outcome([], Entry("in", moderator))  # read-only: nothing is recorded any more
    person = state.participants.get(key) or {}
    known = bool(person.get("admitted"))
    if not moderator and not known:
        if state.meeting["locked"]:
            raise AppError("meeting_locked", status=403)
        admission = state.meeting["admission"]
        if admission == "everyone" or (admission == "guests" and actor.guest is not None):
            events: list[LoggedEvent] = []
            if key not in state.waiting:
                profile = await _profile(session, actor, standing.role)
                events = await append_events(
                    session,
                    meeting.id,
                    [
                        (
                            "waiting.entered",
                            key,
                            {
                                "participant": key,
                                "name": profile["name"],
                                "short_name": profile["short_name"],
                                "role": profile["role"],
                            },
                        )
                    ],
                )
            return Outcome(events, Entry("waiting", False))
    events = []
    if not state.is_connected(key):
        profile = await _profile(session, actor, standing.role)
        payload = {"participant": key, **profile, "moderator": moderator}
        events = await append_events(session, meeting.id, [("participant.joined", key, payload)])
    return Outcome(events, Entry("in", moderator))


async def leave_room(
    session: AsyncSession, meeting_id: int, state: RoomState, key: str, reason: str
) -> list[LoggedEvent]:
    """``participant.left`` when a person's last connection closed (nothing after the end)."""
    if state.status in ("ended", "cancelled") or not state.is_connected(key):
        return []
    return await append_events(
        session, meeting_id, [("participant.left", key, {"participant": key, "reason": reason})]
    )


# --- lifecycle --------------------------------------------------------------------------------
async def start_meeting(
    session: AsyncSession, meeting: Meeting, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    require_moderator(state, actor)
    require_open(state)
    if state.status == "live":
        raise AppError("meeting_already_live", status=409)
    from server.domain.meeting.recording import ensure_recording
    from server.domain.meeting.transcript import default_switches

    now = utcnow()
    meeting.status = MeetingStatus.live
    first_start = meeting.started_at is None
    meeting.started_at = meeting.started_at or now
    items: list[tuple[str, str, dict[str, Any]]] = [("meeting.started", actor.key, {})]
    if first_start:  # the association's defaults for transcription and recording
        defaults = await default_switches(session, meeting)
        if any(kind == "recording.switched" for kind, _, _ in defaults):
            await ensure_recording(session, meeting.id)
        items += defaults
    return await append_events(session, meeting.id, items, at=now)


async def end_meeting(
    session: AsyncSession, meeting: Meeting, state: RoomState, actor: Actor
) -> list[LoggedEvent]:
    """Closes open polls (``poll.closed`` reason ``meeting_ended``: an interrupted vote), the
    current agenda item and the floor, then ends the meeting, records everyone still connected
    as gone (``participant.left`` reason ``meeting_ended``) and queues the protocol's draft (a
    durable job, once per meeting), all in one transaction."""
    from server.domain.meeting.meeting_hooks import MeetingChange, meeting_changed
    from server.domain.meeting.poll_closing import close_open_polls
    from server.domain.protocol.workflow import enqueue_assembly

    require_moderator(state, actor)
    require_live(state)
    present = {k for k, p in state.participants.items() if p["connected"] and not p["removed"]}
    closed = await close_open_polls(session, meeting.id, present)
    items: list[tuple[str, str, dict[str, Any]]] = []
    if state.current_item_id is not None:
        items.append(("agenda.item.ended", actor.key, {"item_id": state.current_item_id}))
    if state.floor is not None:
        items.append(("floor.ended", actor.key, {"participant": state.floor}))
    items.append(("meeting.ended", actor.key, {}))
    items += [
        ("participant.left", key, {"participant": key, "reason": "meeting_ended"})
        for key, person in state.participants.items()
        if person["connected"]
    ]
    now = utcnow()
    meeting.status = MeetingStatus.ended
    meeting.ended_at = now
    ended = await append_events(session, meeting.id, items, at=now)
    await enqueue_assembly(session, meeting.id)
    await meeting_changed(session, meeting, MeetingChange("ended", None))
    return closed + ended
