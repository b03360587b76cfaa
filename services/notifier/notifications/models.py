"""The in-app inbox: one notification per person and event, rendered in that person's language."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from bpm_common.ids import uuid7
from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.database import Base


class Notification(Base):
    """What one person was told about one event.

    `resolved_at` is set when the thing it asked for is no longer actionable (the task was
    completed or cancelled, the instance ended); `read_at` when the person marked it read.
    """

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    recipient: Mapped[str] = mapped_column(String(150), nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    locale: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    process_key: Mapped[str | None] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_type: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # one notification per person and event: a redelivered event adds nothing
        UniqueConstraint("event_id", "recipient"),
        Index("ix_notifications_recipient_id", "recipient", "id"),
        Index(
            "ix_notifications_unread", "recipient", "id", postgresql_where=text("read_at IS NULL")
        ),
        Index(
            "ix_notifications_open_task", "task_id", postgresql_where=text("resolved_at IS NULL")
        ),
        Index(
            "ix_notifications_open_instance",
            "instance_id",
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )


class TaskClosure(Base):
    """Tasks known to be completed or cancelled.

    A `task.created` redelivered after its task's `task.completed` (a retried event) finds
    the closure and notifies nobody about a task that is already gone.
    """

    __tablename__ = "task_closures"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20), nullable=False)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
