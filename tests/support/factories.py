"""Small factories that seed test data directly through the runtime's database.

Usage (inside a test that has the ``server`` or ``client`` fixture)::

    db = server.runtime.db
    alice = await make_user(db, "alice@example.org")
    assoc = await make_association(db)
    await add_member(db, assoc.id, alice.id, Role.methodist)
    meeting = await make_meeting(db, assoc.id)
    c = await logged_in_client(server, "alice@example.org")
    try:
        ...
    finally:
        await c.aclose()
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.db.engine import Database
from server.db.models import AgendaItem, Association, Meeting, Membership, Organisation, Role, User
from server.domain.accounts.passwords import hash_password
from tests.support.client import WebClient
from tests.support.live import LiveServer

DEFAULT_PASSWORD = "secret123"
_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    # argon2 is slow on purpose; tests reuse one hash per password.
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


async def make_user(
    db: Database,
    email: str,
    password: str = DEFAULT_PASSWORD,
    is_admin: bool = False,
    *,
    last_name: str = "Иванова",
    first_name: str = "Мария",
    middle_name: str = "Петровна",
    position: str = "учитель математики",
    school: str | None = None,
    is_active: bool = True,
) -> User:
    async with db.transaction() as s:
        org_id = None
        if school:
            org = await s.scalar(select(Organisation).where(Organisation.name == school))
            if org is None:
                org = Organisation(name=school)
                s.add(org)
                await s.flush()
            org_id = org.id
        user = User(
            email=email.lower(),
            password_hash=_hash(password),
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            position=position,
            organisation_id=org_id,
            is_admin=is_admin,
            is_active=is_active,
        )
        s.add(user)
        await s.flush()
    return user


async def make_association(db: Database, name: str = "СМО учителей математики", **fields: Any) -> Association:
    fields.setdefault("subject", "Математика")
    fields.setdefault("founder_name", "ОГБОУ ДПО «Костромской областной институт развития образования»")
    async with db.transaction() as s:
        association = Association(name=name, **fields)
        s.add(association)
        await s.flush()
    return association


async def add_member(
    db: Database, association_id: int, user_id: int, role: Role | str = Role.member
) -> Membership:
    async with db.transaction() as s:
        membership = Membership(association_id=association_id, user_id=user_id, role=Role(role))
        s.add(membership)
        await s.flush()
    return membership


async def make_meeting(
    db: Database,
    association_id: int,
    title: str = "Функциональная грамотность на уроках математики",
    *,
    starts_at: datetime | None = None,
    minutes: int = 90,
    agenda: Sequence[str] = ("О плане работы СМО на учебный год", "Обмен опытом: формирующее оценивание"),
    **fields: Any,
) -> Meeting:
    """A scheduled meeting (tomorrow by default) with a couple of agenda items."""
    start = starts_at or (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    async with db.transaction() as s:
        meeting = Meeting(
            association_id=association_id,
            title=title,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            guest_token=fields.pop("guest_token", secrets.token_urlsafe(24)),
            **fields,
        )
        s.add(meeting)
        await s.flush()
        for position, item in enumerate(agenda, start=1):
            s.add(AgendaItem(meeting_id=meeting.id, position=position, title=item))
        await s.flush()
    return meeting


async def logged_in_client(server: LiveServer, email: str, password: str = DEFAULT_PASSWORD) -> WebClient:
    """A new WebClient logged in as ``email``; the caller closes it (``await c.aclose()``)."""
    client = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    try:
        await client.login(email, password)
    except BaseException:
        await client.aclose()
        raise
    return client
