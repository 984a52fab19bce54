"""Accounts: registration, authentication, organisations (schools).

Plain async functions over a session; they never commit (the edge owns the transaction).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Organisation, User
from server.domain.accounts.passwords import DUMMY_HASH, check_password_rule, hash_password, verify_password
from server.errors import AppError, ValidationFailed

# Column sizes (server/db/models/accounts.py); forms use the same limits.
EMAIL_MAX = 254
NAME_MAX = 100
POSITION_MAX = 200
SCHOOL_MAX = 300
PASSWORD_MAX = 128

# Deliberately simple: one "@", a dot in the domain, no spaces or control characters.
_EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f.]{2,}$")


class EmailTaken(AppError):
    code, status = "email_taken", 409

    def __init__(self) -> None:
        super().__init__(details={"fields": {"email": "email_taken"}})


class InvalidCredentials(AppError):
    """The same answer for an unknown e-mail, a wrong password and a disabled account."""

    code, status = "invalid_credentials", 401


def normalise_email(email: str) -> str:
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    return len(email) <= EMAIL_MAX and bool(_EMAIL_RE.match(email)) and ".." not in email


@dataclass
class Registration:
    email: str
    password: str
    last_name: str
    first_name: str
    middle_name: str = ""
    position: str = ""
    school: str = ""


async def find_or_create_organisation(session: AsyncSession, name: str) -> Organisation | None:
    """The organisation with this name (whitespace collapsed), created when new; None for ''."""
    name = " ".join(name.split())[:SCHOOL_MAX]
    if not name:
        return None
    found = await session.scalar(select(Organisation).where(Organisation.name == name))
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            org = Organisation(name=name)
            session.add(org)
            await session.flush()
    except IntegrityError:
        # A concurrent registration created it first.
        found = await session.scalar(select(Organisation).where(Organisation.name == name))
        assert found is not None
        return found
    return org


async def register_user(session: AsyncSession, data: Registration) -> User:
    """Create an account. Raises ValidationFailed (bad e-mail, weak password) or EmailTaken."""
    email = normalise_email(data.email)
    if not is_valid_email(email):
        raise ValidationFailed(details={"fields": {"email": "invalid_email"}})
    check_password_rule(data.password)
    # Hash before the first statement: on SQLite the write lock is taken at the first statement.
    password_hash = await asyncio.to_thread(hash_password, data.password)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken()
    org = await find_or_create_organisation(session, data.school)
    user = User(
        email=email,
        password_hash=password_hash,
        last_name=data.last_name.strip(),
        first_name=data.first_name.strip(),
        middle_name=data.middle_name.strip(),
        position=data.position.strip(),
        organisation_id=org.id if org else None,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        raise EmailTaken() from exc
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The active user with this e-mail and password, else InvalidCredentials.

    An unknown e-mail is verified against a dummy hash, so timing does not reveal accounts.
    """
    email = normalise_email(email)
    user = None
    if is_valid_email(email) and len(password) <= PASSWORD_MAX:
        user = await session.scalar(select(User).where(User.email == email))
    ok = await asyncio.to_thread(
        verify_password, user.password_hash if user else DUMMY_HASH, password[:PASSWORD_MAX]
    )
    if user is None or not ok or not user.is_active:
        raise InvalidCredentials()
    return user


async def change_password(session: AsyncSession, user_id: int, current: str, new: str) -> User:
    """The person's own password change: the current one must match (argon2), the new one
    follows the rule; every session the person holds ends (the caller logs this browser in
    again). A wrong current password is a field error of ``current_password``."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    if not await asyncio.to_thread(verify_password, user.password_hash, current[:PASSWORD_MAX]):
        raise ValidationFailed(
            "wrong_current_password", details={"fields": {"current_password": "wrong_current_password"}}
        )
    check_password_rule(new)
    user.password_hash = await asyncio.to_thread(hash_password, new)
    await end_sessions(session, user.id)
    await session.flush()
    await session.refresh(user)
    return user


class CannotBlockSelf(AppError):
    code, status = "cannot_block_self", 409


async def set_blocked(session: AsyncSession, admin: User | None, user_id: int, blocked: bool) -> User:
    """An administrator blocks (or unblocks) a person: a blocked person cannot log in, and
    every session they hold ends at once. Nobody blocks themselves (the last way in)."""
    from server.domain.accounts.permissions import require_admin
    from server.errors import NotFound

    actor = require_admin(admin)
    if actor.id == user_id:
        raise CannotBlockSelf()
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound()
    user.is_active = not blocked
    if blocked:
        await end_sessions(session, user.id)
    await session.flush()
    return user


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    """Invalidate every session cookie the person holds (logout, a password change, a block):
    cookies carry the session version they were issued under, and the middleware and the room's
    handshake accept only the current one."""
    await session.execute(
        update(User).where(User.id == user_id).values(session_version=User.session_version + 1)
    )


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))
