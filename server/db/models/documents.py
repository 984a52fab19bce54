"""Shared documents of a meeting (notes, draft decisions) and their durable CRDT history.

A document's content is a Yjs document. Every accepted update is a ``doc_updates`` row with a
per-document, gap-free ``seq`` (taken from ``meeting_documents.seq`` under the row's lock, so
the commit order is the seq order on every database). Compaction merges the updates up to
some seq into the one ``doc_snapshots`` row of the document and deletes them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import JsonType, UtcDateTime, utcnow


class DocumentKind(enum.StrEnum):
    notes = "notes"  # «Заметки заседания»
    decision = "decision"  # «Проект решения» of an agenda item
    other = "other"
    board = "board"  # «Доска»: a whiteboard (server/domain/meeting/board.py)


class EditPolicy(enum.StrEnum):
    everyone = "everyone"  # every participant with an account (guests only when named)
    moderators = "moderators"
    named = "named"  # the moderators and the participants listed in ``editors``


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class MeetingDocument(Base):
    __tablename__ = "meeting_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[DocumentKind] = mapped_column(
        _enum(DocumentKind, "document_kind"), default=DocumentKind.other
    )
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    edit_policy: Mapped[EditPolicy] = mapped_column(
        _enum(EditPolicy, "document_edit_policy"), default=EditPolicy.everyone
    )
    # Participant keys ("u:3", "g:5") allowed to edit under the "named" policy.
    editors: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    # Last update's sequence number: the per-document gap-free counter.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DocUpdate(Base):
    """One accepted Yjs update (v1 encoding), exactly as the client sent it."""

    __tablename__ = "doc_updates"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("meeting_documents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    update: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DocSnapshot(Base):
    """The compacted state of a document: every update up to ``seq`` merged into one."""

    __tablename__ = "doc_snapshots"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_documents.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
