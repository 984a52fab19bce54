"""The association's documentation (clauses 7.1–7.5): each document with its versions.

Generated documents (the plan, the annual analysis, the needs report) publish a version with
their DOCX and PDF; the regulation is uploaded or edited as text. Protocols keep their own
versions (server/db/models/protocols.py) and are listed next to these.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class LibraryKind(enum.StrEnum):
    regulation = "regulation"  # положение о СМО
    plan = "plan"  # план работы на учебный год
    analysis = "analysis"  # анализ работы за учебный год
    needs_report = "needs_report"  # сведения о профессиональных потребностях педагогов
    other = "other"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class LibraryDocument(Base):
    __tablename__ = "library_documents"
    __table_args__ = (UniqueConstraint("association_id", "kind", "school_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    kind: Mapped[LibraryKind] = mapped_column(_enum(LibraryKind, "library_kind"))
    # The school year it belongs to (None for the regulation and other year-less documents).
    school_year: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LibraryVersion(Base):
    __tablename__ = "library_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("library_documents.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per document
    text: Mapped[str] = mapped_column(Text, default="")  # an edited text (the regulation)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_files.id", ondelete="SET NULL")
    )  # DOCX/upload
    pdf_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
