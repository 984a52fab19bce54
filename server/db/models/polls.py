"""Polls and votes of a live meeting.

Named polls keep one ``ballots`` row per voter: ``UNIQUE(poll_id, voter)`` makes a second
vote impossible, a change (when the poll allows it) updates the row.

Secret polls (see server/db/sealing.py and docs/security.md): the voter's transaction writes
``poll_participations`` (*who took part*: ``UNIQUE(poll_id, voter)``, no choice, no time)
and one ``sealed_ballots`` row: the choice encrypted under the poll's key, which is never in
the database, every row the same length. The close opens the sealed ballots, freezes the
counts into ``polls.result``, deletes the sealed rows in the same transaction and then
destroys the key. So no row, transaction id, commit, physical order or WAL record holds a
choice that can be tied to a person: what the voter's transaction wrote is ciphertext under
a key that no longer exists, and the counts appear once, for the whole poll, at the close.
A secret ballot cannot be changed (a secret poll never has ``allow_change``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class PollKind(enum.StrEnum):
    decision = "decision"  # за / против / воздержались
    single = "single"
    multiple = "multiple"


class PollRule(enum.StrEnum):
    majority_cast = "majority_cast"
    majority_present = "majority_present"
    two_thirds = "two_thirds"


class PollStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Poll(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(String(1000))
    decision_text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[PollKind] = mapped_column(_enum(PollKind, "poll_kind"))
    options: Mapped[list[str]] = mapped_column(JsonType)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[PollRule] = mapped_column(_enum(PollRule, "poll_rule"), default=PollRule.majority_cast)
    guests_vote: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_change: Mapped[bool] = mapped_column(Boolean, default=False)
    closes_in_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[PollStatus] = mapped_column(_enum(PollStatus, "poll_status"), default=PollStatus.draft)
    # Ballots cast so far (named: rows in ballots; secret: rows in poll_participations).
    ballots: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The frozen PollResult (server/domain/meeting/events.py), set once at the close.
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_by: Mapped[str] = mapped_column(String(32))  # participant key of the moderator
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Ballot(Base):
    """A named poll's ballot: who chose what."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(32))  # participant key
    choices: Mapped[list[int]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PollParticipation(Base):
    """Who took part in a secret poll: no choice, no time (see the module docstring)."""

    __tablename__ = "poll_participations"
    __table_args__ = (UniqueConstraint("poll_id", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(32))


class SealedBallot(Base):
    """A secret ballot while its poll is open: sealed, no voter, no time, fixed length."""

    __tablename__ = "sealed_ballots"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    box: Mapped[bytes] = mapped_column(LargeBinary)
