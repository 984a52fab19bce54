"""Associations (СМО), their members with roles, and invitations."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.base import Base
from server.db.models.accounts import User
from server.db.types import UtcDateTime, utcnow


class QuorumRule(enum.StrEnum):
    more_than_half = "more_than_half"
    two_thirds = "two_thirds"
    none = "none"


class Role(enum.StrEnum):
    """A member's role in one association (clause 4.1–4.2)."""

    methodist = "methodist"  # сетевой методист
    mo_head = "mo_head"  # руководитель школьного МО
    member = "member"  # педагог — член СМО


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Association(Base):
    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # The founding organisation's full name, as in the regulation: the protocol header.
    founder_name: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str] = mapped_column(String(200), default="онлайн")
    quorum_rule: Mapped[QuorumRule] = mapped_column(
        _enum(QuorumRule, "quorum_rule"), default=QuorumRule.more_than_half
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Defaults of a meeting's switches (the moderator changes them in the room; docs/transcript.md).
    transcription_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recording_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("association_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "membership_role"), default=Role.member)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")
    association: Mapped[Association] = relationship(lazy="raise")


class Invitation(Base):
    """A single-use e-mail invitation into an association; only the token's hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role, "invitation_role"), default=Role.member)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
