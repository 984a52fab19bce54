"""The annual analysis (анализ работы СМО за учебный год, PROTOCOL.md §3): what the methodist
writes by hand. Everything else in the analysis is computed from the year's data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from server.db.types import UtcDateTime, utcnow


class AnnualAnalysis(Base):
    __tablename__ = "annual_analyses"
    __table_args__ = (UniqueConstraint("association_id", "school_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    school_year: Mapped[int] = mapped_column(Integer)  # 2025 = 2025/2026
    conclusions: Mapped[str] = mapped_column(Text, default="")  # выводы
    next_tasks: Mapped[str] = mapped_column(Text, default="")  # задачи на следующий год, one per line
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
