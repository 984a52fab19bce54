"""Meeting preparation read: rights, materials, registrations (and their CSV), the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, Organisation, Role, StoredFile, User
from server.db.models.preparation import LetterReason, MeetingMaterial, MeetingRegistration
from server.domain.accounts.permissions import (
    can_join_meeting,
    is_meeting_moderator,
    membership_role,
    require_login,
)
from server.domain.meeting.meetings import get_meeting
from server.domain.protocol import russian as ru
from server.domain.year.preparation.letters import letters_of, unsent_members
from server.errors import Forbidden
from server.spreadsheet import csv_text


async def readable_meeting(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """Members of the association and administrators."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    if not await can_join_meeting(session, user, meeting):
        raise Forbidden()
    return meeting


async def managed_meeting(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """Moderators by office: methodists, administrators, the chair and the secretary."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    if not await is_meeting_moderator(session, user, meeting):
        raise Forbidden()
    return meeting


async def is_methodist_of(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def materials_of(
    session: AsyncSession, meeting_id: int
) -> list[tuple[MeetingMaterial, StoredFile | None]]:
    rows = await session.execute(
        select(MeetingMaterial, StoredFile)
        .outerjoin(StoredFile, StoredFile.id == MeetingMaterial.file_id)
        .where(MeetingMaterial.meeting_id == meeting_id)
        .order_by(MeetingMaterial.id)
    )
    return [(m, f) for m, f in rows]


async def is_registered(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    if user is None:
        return False
    found = await session.scalar(
        select(MeetingRegistration.id).where(
            MeetingRegistration.meeting_id == meeting_id, MeetingRegistration.user_id == user.id
        )
    )
    return found is not None


async def registration_count(session: AsyncSession, meeting_id: int) -> int:
    n = await session.scalar(
        select(func.count())
        .select_from(MeetingRegistration)
        .where(MeetingRegistration.meeting_id == meeting_id)
    )
    return int(n or 0)


@dataclass(frozen=True)
class RegistrationRow:
    number: int
    full_name: str
    school: str
    position: str
    email: str
    registered_at: datetime


async def registrations(
    session: AsyncSession, user: User | None, meeting_id: int
) -> tuple[Meeting, list[RegistrationRow]]:
    meeting = await managed_meeting(session, user, meeting_id)
    rows = await session.execute(
        select(MeetingRegistration, User, Organisation)
        .join(User, User.id == MeetingRegistration.user_id)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .where(MeetingRegistration.meeting_id == meeting.id)
        .order_by(MeetingRegistration.created_at, MeetingRegistration.id)
    )
    out = [
        RegistrationRow(n, u.full_name, o.name if o else "", u.position, u.email, r.created_at)
        for n, (r, u, o) in enumerate(rows, start=1)
    ]
    return meeting, out


def registrations_csv(rows: list[RegistrationRow]) -> bytes:
    """UTF-8 with BOM and «;» between cells: what a Russian-locale spreadsheet opens as is."""
    table: list[list[Any]] = [
        ["№", "ФИО", "Образовательная организация", "Должность", "E-mail", "Дата регистрации"]
    ]
    for r in rows:
        when = ru.moscow(r.registered_at).strftime("%d.%m.%Y %H:%M")
        table.append([r.number, r.full_name, r.school, r.position, r.email, when])
    return csv_text(table).encode("utf-8")


@dataclass
class LetterSummary:
    sequence: int
    sent_at: datetime
    reason: LetterReason
    recipients: int


@dataclass
class PreparationPage:
    meeting: Meeting
    association: Association
    materials: list[tuple[MeetingMaterial, StoredFile | None]]
    registrations: list[RegistrationRow]
    letters: list[LetterSummary]
    is_methodist: bool
    unsent: int  # members who have not had the letter at the current sequence


async def preparation_page(session: AsyncSession, user: User | None, meeting_id: int) -> PreparationPage:
    meeting, rows = await registrations(session, user, meeting_id)
    association = await session.get(Association, meeting.association_id)
    assert association is not None
    letters = [
        LetterSummary(letter.sequence, letter.sent_at, letter.reason, len(letter.recipients))
        for letter in await letters_of(session, meeting.id)
    ]
    return PreparationPage(
        meeting=meeting,
        association=association,
        materials=await materials_of(session, meeting.id),
        registrations=rows,
        letters=letters,
        is_methodist=await is_methodist_of(session, user, meeting.association_id),
        unsent=len(await unsent_members(session, meeting)),
    )
