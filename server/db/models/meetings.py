"""Meetings (заседания), their agenda, and invited guests."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class MeetingStatus(enum.StrEnum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


class MeetingForm(enum.StrEnum):
    """Forms of work (PROTOCOL.md §2)."""

    zasedanie = "zasedanie"  # заседание
    organizational = "organizational"  # организационное заседание
    seminar = "seminar"  # семинар
    workshop = "workshop"  # семинар-практикум
    round_table = "round_table"  # круглый стол
    master_class = "master_class"  # мастер-класс
    ped_workshop = "ped_workshop"  # педагогическая мастерская
    business_game = "business_game"  # деловая игра
    consultation = "consultation"  # консультация


class AdmissionPolicy(enum.StrEnum):
    open = "open"  # members and invited guests enter directly
    guests = "guests"  # guests wait in the waiting room
    everyone = "everyone"  # everyone but moderators waits


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    form: Mapped[MeetingForm] = mapped_column(
        Enum(MeetingForm, name="meeting_form", native_enum=False, length=32),
        default=MeetingForm.zasedanie,
    )
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[MeetingStatus] = mapped_column(
        Enum(MeetingStatus, name="meeting_status", native_enum=False, length=32),
        default=MeetingStatus.scheduled,
    )
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    admission: Mapped[AdmissionPolicy] = mapped_column(
        Enum(AdmissionPolicy, name="admission_policy", native_enum=False, length=32),
        default=AdmissionPolicy.guests,
    )
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Secret part of the guest link /g/<guest_token>; rotated by the methodist.
    guest_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Last sequence number of the meeting's event log: the gap-free counter.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    agenda: Mapped[list[AgendaItem]] = relationship(
        lazy="raise", order_by="AgendaItem.position", cascade="all, delete-orphan"
    )

    # One rule for every page, document and notice: a meeting that has started shows when it
    # was held (its protocol's date), otherwise when it is planned.
    @property
    def held_at(self) -> datetime:
        return self.started_at or self.starts_at

    @property
    def held_until(self) -> datetime:
        if self.started_at is None:
            return self.ends_at
        if self.ended_at is not None:
            return self.ended_at
        return self.started_at + (self.ends_at - self.starts_at)


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    rapporteur_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Free-text rapporteur for someone without an account (e.g. an invited lecturer).
    rapporteur_name: Mapped[str] = mapped_column(String(200), default="")
    planned_minutes: Mapped[int] = mapped_column(Integer, default=10)


class MeetingGuest(Base):
    """An invited outsider who joined through the meeting's guest link (no account)."""

    __tablename__ = "meeting_guests"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(300), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
