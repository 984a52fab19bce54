"""Associations' membership: administration, invitations by e-mail, roles, removal.

Plain async functions ``(session, actor, ...)``: check permission, change state, queue mail in
the same transaction; they never commit. After a transaction that queued mail, the edge calls
``server.workers.wake_outbox``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Invitation, Membership, QuorumRule, Role, User
from server.db.types import utcnow
from server.domain.accounts.accounts import is_valid_email, normalise_email, user_by_email
from server.domain.accounts.permissions import require_admin, require_login, require_methodist
from server.errors import AppError, Conflict, NotFound, ValidationFailed
from server.mail.outbox import Mail, enqueue_mail

INVITATION_TTL = timedelta(days=14)
# The region lives on Moscow time; dates in mail are written in it (as on the pages).
REGION_TZ = ZoneInfo("Europe/Moscow")

ROLE_NAMES_RU = {
    Role.methodist: "сетевой методист",
    Role.mo_head: "руководитель школьного МО",
    Role.member: "педагог — член СМО",
}


ROLE_RANK = {Role.member: 0, Role.mo_head: 1, Role.methodist: 2}


class InvitationOtherEmail(AppError):
    """The logged-in account's e-mail is not the one the invitation was sent to."""

    code, status = "invitation_other_email", 403


class InvitationInvalid(AppError):
    """Unknown (404), or expired / already used (410) invitation token."""

    code, status = "invitation_invalid", 404


class LastMethodist(Conflict):
    code = "last_methodist"


class AlreadyMember(Conflict):
    code = "already_member"


# ---------------------------------------------------------------- administration


@dataclass
class AssociationData:
    name: str
    subject: str = ""
    description: str = ""
    founder_name: str = ""
    place: str = "онлайн"
    quorum_rule: QuorumRule = QuorumRule.more_than_half
    transcription_default: bool = False  # meetings start with transcription on (docs/transcript.md)
    recording_default: bool = False  # meetings start with recording on


async def get_association(session: AsyncSession, association_id: int) -> Association:
    association = await session.get(Association, association_id)
    if association is None:
        raise NotFound()
    return association


async def create_association(session: AsyncSession, actor: User | None, data: AssociationData) -> Association:
    require_admin(actor)
    association = Association(**vars(data))
    session.add(association)
    await session.flush()
    return association


async def update_association(
    session: AsyncSession, actor: User | None, association_id: int, data: AssociationData
) -> Association:
    require_admin(actor)
    association = await get_association(session, association_id)
    for key, value in vars(data).items():
        setattr(association, key, value)
    await session.flush()
    return association


@dataclass
class AssociationSummary:
    association: Association
    members: int
    methodists: int


async def list_associations(session: AsyncSession, actor: User | None) -> list[AssociationSummary]:
    require_admin(actor)
    rows = await session.execute(
        select(
            Association,
            func.count(Membership.id),
            func.count(Membership.id).filter(Membership.role == Role.methodist),
        )
        .outerjoin(Membership, Membership.association_id == Association.id)
        .group_by(Association.id)
        .order_by(Association.name, Association.id)
    )
    return [AssociationSummary(a, int(n), int(m)) for a, n, m in rows.all()]


async def list_users(session: AsyncSession, actor: User | None, limit: int = 500) -> list[User]:
    require_admin(actor)
    result = await session.scalars(
        select(User).order_by(User.last_name, User.first_name, User.id).limit(limit)
    )
    return list(result)


@dataclass
class MethodistAppointment:
    user: User | None  # the existing account that became methodist
    invitation: Invitation | None  # or the invitation sent to an unknown e-mail


async def appoint_methodist(
    session: AsyncSession, actor: User | None, association_id: int, email: str, public_url: str
) -> MethodistAppointment:
    """Make the account with this e-mail a methodist; invite the e-mail when there is none."""
    actor = require_admin(actor)
    association = await get_association(session, association_id)
    email = _checked_email(email)
    user = await user_by_email(session, email)
    if user is None:
        invitation, _token = await _create_invitation(
            session, actor, association, email, Role.methodist, public_url
        )
        return MethodistAppointment(None, invitation)
    membership = await _membership(session, association.id, user.id)
    if membership is None:
        session.add(Membership(association_id=association.id, user_id=user.id, role=Role.methodist))
    else:
        membership.role = Role.methodist
    await session.flush()
    return MethodistAppointment(user, None)


# ---------------------------------------------------------------- members


@dataclass
class MemberRow:
    user: User
    role: Role


async def list_members(session: AsyncSession, association_id: int) -> list[MemberRow]:
    """Members with roles, methodists first, then by name (no permission check: the caller's)."""
    order = {Role.methodist: 0, Role.mo_head: 1, Role.member: 2}
    rows = await session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id)
        .order_by(User.last_name, User.first_name, User.id)
    )
    members = [MemberRow(u, r) for u, r in rows.all()]
    members.sort(key=lambda m: order[m.role])
    return members


async def _membership(session: AsyncSession, association_id: int, user_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.association_id == association_id, Membership.user_id == user_id)
    )


async def _methodist_count(session: AsyncSession, association_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(Membership.id)).where(
                Membership.association_id == association_id, Membership.role == Role.methodist
            )
        )
        or 0
    )


async def change_role(
    session: AsyncSession, actor: User | None, association_id: int, user_id: int, role: Role
) -> Membership:
    """Set a member's role; the association always keeps at least one methodist."""
    await get_association(session, association_id)
    await require_methodist(session, actor, association_id)
    membership = await _membership(session, association_id, user_id)
    if membership is None:
        raise NotFound()
    if (
        membership.role == Role.methodist
        and role != Role.methodist
        and await _methodist_count(session, association_id) <= 1
    ):
        raise LastMethodist()
    membership.role = role
    await session.flush()
    return membership


async def remove_member(session: AsyncSession, actor: User | None, association_id: int, user_id: int) -> None:
    await get_association(session, association_id)
    await require_methodist(session, actor, association_id)
    membership = await _membership(session, association_id, user_id)
    if membership is None:
        raise NotFound()
    if membership.role == Role.methodist and await _methodist_count(session, association_id) <= 1:
        raise LastMethodist()
    await session.delete(membership)
    await session.flush()


# ---------------------------------------------------------------- invitations


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _checked_email(email: str) -> str:
    email = normalise_email(email)
    if not is_valid_email(email):
        raise ValidationFailed(details={"fields": {"email": "invalid_email"}})
    return email


async def invite(
    session: AsyncSession, actor: User | None, association_id: int, email: str, role: Role, public_url: str
) -> Invitation:
    """Invite an e-mail into the association with a role; the mail is queued in this transaction."""
    association = await get_association(session, association_id)
    actor = await require_methodist(session, actor, association_id)
    email = _checked_email(email)
    existing = await user_by_email(session, email)
    if existing is not None and await _membership(session, association_id, existing.id) is not None:
        raise AlreadyMember(details={"fields": {"email": "already_member"}})
    invitation, _token = await _create_invitation(session, actor, association, email, role, public_url)
    return invitation


async def _create_invitation(
    session: AsyncSession, actor: User, association: Association, email: str, role: Role, public_url: str
) -> tuple[Invitation, str]:
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        association_id=association.id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_id=actor.id,
        expires_at=utcnow() + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    link = f"{public_url.rstrip('/')}/invitations/{token}"
    await enqueue_mail(
        session, f"invitation:{invitation.id}", invitation_mail(association, actor, invitation, link)
    )
    return invitation, token


def invitation_mail(association: Association, inviter: User, invitation: Invitation, link: str) -> Mail:
    expires = invitation.expires_at.astimezone(REGION_TZ).strftime("%d.%m.%Y")
    text = (
        "Здравствуйте!\n\n"
        f"{inviter.full_name} приглашает вас в сетевое методическое объединение "
        f"«{association.name}» в роли «{ROLE_NAMES_RU[invitation.role]}».\n\n"
        "Чтобы принять приглашение, откройте ссылку:\n"
        f"{link}\n\n"
        f"Ссылка действует до {expires} и может быть использована один раз.\n"
        "Если вы не ждали этого письма, просто проигнорируйте его.\n\n"
        "— СМО Live\n"
    )
    return Mail(to=invitation.email, subject=f"Приглашение в «{association.name}»", text=text)


@dataclass
class InvitationView:
    invitation: Invitation
    association: Association


async def find_invitation(session: AsyncSession, token: str, now: datetime | None = None) -> InvitationView:
    """The valid invitation for this token; InvitationInvalid (404 unknown, 410 used/expired)."""
    if not token or len(token) > 200:
        raise InvitationInvalid()
    invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise InvitationInvalid()
    if invitation.accepted_at is not None or invitation.expires_at <= (now or utcnow()):
        raise InvitationInvalid(status=410)
    association = await get_association(session, invitation.association_id)
    return InvitationView(invitation, association)


async def accept_invitation(session: AsyncSession, actor: User | None, token: str) -> Membership:
    """Join the association with the invited role; the token works exactly once.

    An existing member gets the invited role only when it is higher (an invitation never demotes).
    """
    user = require_login(actor)
    view = await find_invitation(session, token)
    if normalise_email(user.email) != normalise_email(view.invitation.email):
        # Bound to the invited address: a forwarded or intercepted link is of no use to others.
        raise InvitationOtherEmail(email=view.invitation.email)
    now = utcnow()
    # Claim the invitation with a conditional update: of two concurrent accepts, one wins.
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == view.invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now, accepted_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise InvitationInvalid(status=410)
    membership = await _membership(session, view.association.id, user.id)
    if membership is None:
        try:
            async with session.begin_nested():
                membership = Membership(
                    association_id=view.association.id, user_id=user.id, role=view.invitation.role
                )
                session.add(membership)
                await session.flush()
            return membership
        except IntegrityError:
            # Joined concurrently through another invitation: fall through to the promotion rule.
            membership = await _membership(session, view.association.id, user.id)
            assert membership is not None
    if ROLE_RANK[view.invitation.role] > ROLE_RANK[membership.role]:
        membership.role = view.invitation.role
        await session.flush()
    return membership
