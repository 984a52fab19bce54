"""Meetings (заседания) before and around the live room: planning, the agenda, the guest link.

Actions take the session and the acting user, check permissions, change state and never
commit (the edge owns the transaction). Planning a meeting fires no meeting events: the
event log starts when the meeting starts in the live room.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.models import (
    AdmissionPolicy,
    AgendaItem,
    Association,
    Meeting,
    MeetingForm,
    MeetingGuest,
    MeetingStatus,
    Membership,
    User,
)
from server.db.types import utcnow
from server.domain.accounts.associations import (
    MAX_ID,
    UPCOMING_GRACE,
    MemberRow,
    association_members,
    can_manage_association,
    get_association,
)
from server.domain.accounts.permissions import (
    can_join_meeting,
    is_meeting_moderator,
    require_login,
    require_methodist,
)
from server.domain.meeting.meeting_hooks import MeetingChange, meeting_changed
from server.errors import AppError, Forbidden, NotFound, ValidationFailed

MAX_AGENDA_ITEMS = 50
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
UserId = Annotated[int, Field(gt=0, le=MAX_ID)]


class MeetingNotEditable(AppError):
    code, status = "meeting_not_editable", 409


class MeetingNotCancellable(AppError):
    code, status = "meeting_not_cancellable", 409


class GuestLinkInvalid(AppError):
    code, status = "guest_link_invalid", 404


class MeetingClosed(AppError):
    """The guest link of a cancelled or ended meeting admits nobody."""

    code, status = "meeting_closed", 410


class AgendaRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    rapporteur_id: UserId | None = None
    planned_minutes: int = Field(default=10, ge=1, le=600)


class MeetingInput(BaseModel):
    """A meeting as planned by the methodist (times are aware; stored in UTC)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    form: MeetingForm = MeetingForm.zasedanie
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    chair_id: UserId | None = None
    secretary_id: UserId | None = None
    admission: AdmissionPolicy = AdmissionPolicy.guests
    agenda: list[AgendaRow] = Field(default_factory=list, max_length=MAX_AGENDA_ITEMS)

    @model_validator(mode="after")
    def _end_after_start(self) -> MeetingInput:
        if self.ends_at <= self.starts_at:
            raise ValueError("end_before_start")
        return self


@dataclass
class MeetingView:
    meeting: Meeting  # with ``agenda`` loaded
    association: Association
    people: dict[int, User]  # chair, secretary and rapporteurs by id
    can_moderate: bool
    can_manage: bool

    def name(self, user_id: int | None) -> str:
        person = self.people.get(user_id) if user_id is not None else None
        return person.short_name if person else ""


@dataclass(frozen=True)
class UpcomingMeeting:
    meeting: Meeting
    association: Association


# --- reading -----------------------------------------------------------------------------------
async def get_meeting(session: AsyncSession, meeting_id: int, *, agenda: bool = False) -> Meeting:
    """The meeting (with its agenda loaded when asked), or NotFound."""
    if not 0 < meeting_id <= MAX_ID:
        raise NotFound()
    query = select(Meeting).where(Meeting.id == meeting_id)
    if agenda:
        query = query.options(selectinload(Meeting.agenda))
    meeting = await session.scalar(query)
    if meeting is None:
        raise NotFound()
    return meeting


async def meeting_view(session: AsyncSession, user: User | None, meeting_id: int) -> MeetingView:
    """The meeting page: members of the association and administrators."""
    require_login(user)
    meeting = await get_meeting(session, meeting_id, agenda=True)
    if not await can_join_meeting(session, user, meeting):
        raise Forbidden()
    ids = {meeting.chair_id, meeting.secretary_id, *(i.rapporteur_id for i in meeting.agenda)}
    ids.discard(None)
    people = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids)))}
    return MeetingView(
        meeting=meeting,
        association=await get_association(session, meeting.association_id),
        people=people,
        can_moderate=await is_meeting_moderator(session, user, meeting),
        can_manage=await can_manage_association(session, user, meeting.association_id),
    )


async def upcoming_meetings(
    session: AsyncSession, user: User | None, limit: int = 30
) -> list[UpcomingMeeting]:
    """Live and scheduled meetings of the user's associations (all of them for an administrator)."""
    user = require_login(user)
    query = (
        select(Meeting, Association)
        .join(Association, Association.id == Meeting.association_id)
        .where(
            (Meeting.status == MeetingStatus.live)
            | ((Meeting.status == MeetingStatus.scheduled) & (Meeting.ends_at >= utcnow() - UPCOMING_GRACE))
        )
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(limit)
    )
    if not user.is_admin:
        mine = select(Membership.association_id).where(Membership.user_id == user.id)
        query = query.where(Meeting.association_id.in_(mine))
    rows = [UpcomingMeeting(m, a) for m, a in await session.execute(query)]
    # Live meetings first: that is where the user is expected right now.
    rows.sort(key=lambda r: r.meeting.status != MeetingStatus.live)
    return rows


async def meeting_form_context(
    session: AsyncSession, user: User | None, association_id: int
) -> tuple[Association, list[MemberRow]]:
    """What the create form needs (the association and the members to choose from)."""
    require_login(user)
    association = await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    return association, await association_members(session, association_id)


async def meeting_for_edit(
    session: AsyncSession, user: User | None, meeting_id: int
) -> tuple[Meeting, Association, list[MemberRow]]:
    """The meeting (with its agenda) and its association's members, for the edit form."""
    require_login(user)
    meeting = await get_meeting(session, meeting_id, agenda=True)
    await require_methodist(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise MeetingNotEditable()
    association, members = await meeting_form_context(session, user, meeting.association_id)
    return meeting, association, members


# --- planning ----------------------------------------------------------------------------------
async def _check_people(session: AsyncSession, association_id: int, data: MeetingInput) -> None:
    """Chair, secretary and rapporteurs must be members of the association."""
    wanted: dict[str, int] = {}
    if data.chair_id is not None:
        wanted["chair_id"] = data.chair_id
    if data.secretary_id is not None:
        wanted["secretary_id"] = data.secretary_id
    for n, row in enumerate(data.agenda):
        if row.rapporteur_id is not None:
            wanted[f"agenda.{n}.rapporteur_id"] = row.rapporteur_id
    if not wanted:
        return
    members = set(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.association_id == association_id,
                Membership.user_id.in_(set(wanted.values())),
            )
        )
    )
    bad = {name: "not_member" for name, uid in wanted.items() if uid not in members}
    if bad:
        raise ValidationFailed(details={"fields": bad})


def _apply(meeting: Meeting, data: MeetingInput) -> None:
    meeting.title = data.title
    meeting.form = data.form
    meeting.description = data.description
    meeting.starts_at = data.starts_at.astimezone(UTC)
    meeting.ends_at = data.ends_at.astimezone(UTC)
    meeting.chair_id = data.chair_id
    meeting.secretary_id = data.secretary_id
    meeting.admission = data.admission


async def create_meeting(
    session: AsyncSession, user: User | None, association_id: int, data: MeetingInput
) -> Meeting:
    """Plan a meeting (methodist of the association or administrator)."""
    require_login(user)
    await get_association(session, association_id)
    actor = await require_methodist(session, user, association_id)
    await _check_people(session, association_id, data)
    meeting = Meeting(
        association_id=association_id,
        guest_token=secrets.token_urlsafe(24),
        created_by_id=actor.id,
        status=MeetingStatus.scheduled,
    )
    _apply(meeting, data)
    session.add(meeting)
    await session.flush()
    for position, row in enumerate(data.agenda, start=1):
        session.add(_agenda_item(meeting.id, position, row))
    await session.flush()
    await meeting_changed(session, meeting, MeetingChange("created", actor))
    return meeting


def _agenda_item(meeting_id: int, position: int, row: AgendaRow) -> AgendaItem:
    return AgendaItem(
        meeting_id=meeting_id,
        position=position,
        title=row.title,
        rapporteur_id=row.rapporteur_id,
        planned_minutes=row.planned_minutes,
    )


async def update_meeting(
    session: AsyncSession, user: User | None, meeting_id: int, data: MeetingInput
) -> Meeting:
    """Change a meeting that has not started yet; agenda items keep their ids where they remain."""
    require_login(user)
    meeting = await get_meeting(session, meeting_id, agenda=True)
    await require_methodist(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise MeetingNotEditable()
    await _check_people(session, meeting.association_id, data)
    previous = MeetingChange("updated", user, meeting.starts_at, meeting.ends_at)
    _apply(meeting, data)
    existing = list(meeting.agenda)
    for item in existing[len(data.agenda) :]:
        meeting.agenda.remove(item)
    # Deletions go first so that re-used positions never collide with the unique constraint.
    await session.flush()
    for position, row in enumerate(data.agenda, start=1):
        if position <= len(existing):
            item = existing[position - 1]
            item.position = position
            item.title = row.title
            item.rapporteur_id = row.rapporteur_id
            item.planned_minutes = row.planned_minutes
        else:
            meeting.agenda.append(_agenda_item(meeting.id, position, row))
    await session.flush()
    await meeting_changed(session, meeting, previous)
    return meeting


async def cancel_meeting(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """Cancel a scheduled meeting (methodist or administrator); its guest link stops working."""
    require_login(user)
    meeting = await get_meeting(session, meeting_id)
    await require_methodist(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise MeetingNotCancellable()
    meeting.status = MeetingStatus.cancelled
    await session.flush()
    await meeting_changed(session, meeting, MeetingChange("cancelled", user))
    return meeting


# --- guests ------------------------------------------------------------------------------------
def guest_url(public_url: str, meeting: Meeting) -> str:
    return f"{public_url.rstrip('/')}/g/{meeting.guest_token}"


async def rotate_guest_link(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """A new guest link for the meeting (moderators); the old one stops working at once."""
    meeting = await get_meeting(session, meeting_id)
    if not await is_meeting_moderator(session, require_login(user), meeting):
        raise Forbidden()
    meeting.guest_token = secrets.token_urlsafe(24)
    await session.flush()
    return meeting


async def meeting_by_guest_token(session: AsyncSession, token: str) -> tuple[Meeting, Association]:
    """The meeting behind a guest link, whatever its status (the page explains a closed one)."""
    meeting = None
    if 16 <= len(token) <= 64:
        meeting = await session.scalar(select(Meeting).where(Meeting.guest_token == token))
    if meeting is None:
        raise GuestLinkInvalid()
    return meeting, await get_association(session, meeting.association_id)


def is_closed(meeting: Meeting) -> bool:
    return meeting.status in (MeetingStatus.ended, MeetingStatus.cancelled)


async def register_guest(session: AsyncSession, token: str, name: str, organisation: str) -> MeetingGuest:
    """An outsider introduces themselves through the guest link (no account)."""
    meeting, _ = await meeting_by_guest_token(session, token)
    if is_closed(meeting):
        raise MeetingClosed()
    guest = MeetingGuest(
        meeting_id=meeting.id,
        name=name,
        organisation=organisation,
        token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
    )
    session.add(guest)
    await session.flush()
    return guest
