"""Who may do what. Every check runs on the server; failures raise Forbidden (403).

Roles per association (clause 4.1–4.2): methodist (сетевой методист), mo_head (руководитель
школьного МО), member (педагог). Site administrators may do everything a methodist may.
Meeting moderators: the association's methodists, the meeting's chair and secretary, site
administrators, and co-moderators promoted during the meeting (known to the live room's state).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Meeting, Membership, Role, User
from server.errors import Forbidden, Unauthenticated


async def membership_role(session: AsyncSession, user: User | None, association_id: int) -> Role | None:
    if user is None:
        return None
    return await session.scalar(
        select(Membership.role).where(
            Membership.association_id == association_id, Membership.user_id == user.id
        )
    )


def require_login(user: User | None) -> User:
    if user is None:
        raise Unauthenticated()
    return user


def require_admin(user: User | None) -> User:
    user = require_login(user)
    if not user.is_admin:
        raise Forbidden()
    return user


async def require_member(session: AsyncSession, user: User | None, association_id: int) -> Role | None:
    """Members of the association (any role) and administrators; returns the role (None for an admin)."""
    user = require_login(user)
    role = await membership_role(session, user, association_id)
    if role is None and not user.is_admin:
        raise Forbidden()
    return role


async def require_methodist(session: AsyncSession, user: User | None, association_id: int) -> User:
    user = require_login(user)
    if user.is_admin:
        return user
    if await membership_role(session, user, association_id) != Role.methodist:
        raise Forbidden()
    return user


@dataclass(frozen=True, slots=True)
class MeetingStanding:
    """A signed-in user's standing in a meeting, from one membership lookup."""

    role: Role | None  # in the meeting's association
    moderator: bool  # by office (co-moderators promoted live are added by the room's state)
    may_join: bool  # members and administrators (guests enter through the guest link)


async def meeting_standing(session: AsyncSession, user: User | None, meeting: Meeting) -> MeetingStanding:
    if user is None:
        return MeetingStanding(None, False, False)
    role = await membership_role(session, user, meeting.association_id)
    by_post = user.is_admin or user.id in (meeting.chair_id, meeting.secretary_id)
    return MeetingStanding(role, by_post or role == Role.methodist, user.is_admin or role is not None)


async def is_meeting_moderator(session: AsyncSession, user: User | None, meeting: Meeting) -> bool:
    return (await meeting_standing(session, user, meeting)).moderator


async def can_join_meeting(session: AsyncSession, user: User | None, meeting: Meeting) -> bool:
    return (await meeting_standing(session, user, meeting)).may_join
