"""The suggestion box: improvements people propose for a process, and their triage."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.designer.database import Base

NEW, ACCEPTED, DONE, DECLINED = "new", "accepted", "done", "declined"
STATUSES = (NEW, ACCEPTED, DONE, DECLINED)
DIFFICULTIES = ("low", "medium", "high")
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({ACCEPTED, DECLINED}),
    ACCEPTED: frozenset({DONE, DECLINED}),
    DONE: frozenset(),
    DECLINED: frozenset(),
}


class Suggestion(Base):
    __tablename__ = "suggestions"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"difficulty IN {DIFFICULTIES!r}", name="difficulty"),
        Index("ix_suggestions_process_created", "process_key", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    proposal: Mapped[str] = mapped_column(Text)
    expected_effect: Mapped[str] = mapped_column(Text)
    difficulty: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=NEW)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    triaged_by: Mapped[str | None] = mapped_column(String(64))
    triaged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    triage_note: Mapped[str | None] = mapped_column(Text)
