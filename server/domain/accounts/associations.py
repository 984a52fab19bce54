"""Associations (СМО) as their members see them: «Мои объединения» and the association page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.models import Association, Meeting, MeetingStatus, Membership, Role, User
from server.db.types import utcnow
from server.domain.accounts.permissions import membership_role, require_login, require_member
from server.errors import NotFound

# Largest id a PostgreSQL integer column holds: larger ids in URLs are simply unknown.
MAX_ID = 2**31 - 1
ROLE_ORDER = {Role.methodist: 0, Role.mo_head: 1, Role.member: 2}
# A scheduled meeting still counts as upcoming this long after its planned end
# (it may have started late); after that it drops out of the «upcoming» lists.
UPCOMING_GRACE = timedelta(hours=12)


@dataclass(frozen=True)
class AssociationCard:
    association: Association
    role: Role | None  # None: an administrator who is not a member
    member_count: int


@dataclass(frozen=True)
class MemberRow:
    user: User  # with ``organisation`` loaded
    role: Role


@dataclass
class AssociationOverview:
    association: Association
    role: Role | None
    can_manage: bool
    members: list[MemberRow]
    upcoming: list[Meeting] = field(default_factory=list)
    past: list[Meeting] = field(default_factory=list)

    def member_names(self) -> dict[int, str]:
        return {m.user.id: m.user.short_name for m in self.members}


async def get_association(session: AsyncSession, association_id: int) -> Association:
    association = await session.get(Association, association_id) if 0 < association_id <= MAX_ID else None
    if association is None:
        raise NotFound()
    return association


async def can_manage_association(session: AsyncSession, user: User | None, association_id: int) -> bool:
    """Methodists of the association and administrators manage members and meetings."""
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def association_members(session: AsyncSession, association_id: int) -> list[MemberRow]:
    """Members with their schools, methodists first, then by surname."""
    rows = await session.execute(
        select(Membership.role, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.association_id == association_id)
        .options(selectinload(User.organisation))
    )
    members = [MemberRow(user=u, role=role) for role, u in rows]
    members.sort(key=lambda m: (ROLE_ORDER[m.role], m.user.last_name, m.user.first_name, m.user.id))
    return members


async def list_user_associations(session: AsyncSession, user: User | None) -> list[AssociationCard]:
    """The user's associations with their role; an administrator sees every association."""
    user = require_login(user)
    # (dict() would take a Result for a mapping: it has .keys())
    role_rows = await session.execute(
        select(Membership.association_id, Membership.role).where(Membership.user_id == user.id)
    )
    roles = {association_id: role for association_id, role in role_rows}
    query = select(Association).order_by(Association.name, Association.id)
    if not user.is_admin:
        query = query.where(Association.id.in_(list(roles)))
    associations = list(await session.scalars(query))
    count_rows = await session.execute(
        select(Membership.association_id, func.count(Membership.id))
        .where(Membership.association_id.in_([a.id for a in associations]))
        .group_by(Membership.association_id)
    )
    counts = {association_id: n for association_id, n in count_rows}
    return [AssociationCard(a, roles.get(a.id), counts.get(a.id, 0)) for a in associations]


def is_upcoming(meeting: Meeting) -> bool:
    if meeting.status == MeetingStatus.live:
        return True
    return meeting.status == MeetingStatus.scheduled and meeting.ends_at >= utcnow() - UPCOMING_GRACE


async def association_overview(
    session: AsyncSession, user: User | None, association_id: int
) -> AssociationOverview:
    """Everything the association page shows; members of the association and administrators only."""
    require_login(user)
    association = await get_association(session, association_id)
    role = await require_member(session, user, association_id)
    assert user is not None
    meetings = list(
        await session.scalars(
            select(Meeting).where(Meeting.association_id == association_id).order_by(Meeting.starts_at)
        )
    )
    upcoming = [m for m in meetings if is_upcoming(m)]
    past = [m for m in reversed(meetings) if not is_upcoming(m)]
    return AssociationOverview(
        association=association,
        role=role,
        can_manage=user.is_admin or role == Role.methodist,
        members=await association_members(session, association_id),
        upcoming=upcoming,
        past=past,
    )
