"""The in-app inbox: one notification per person and event, rendered in that person's language."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from bpm_common.ids import uuid7
from services.notifier.database import Base


class Notification(Base):
    """What one person was told about one event.

    `resolved_at` is set when the thing it asked for is no longer actionable (the task was
    completed or cancelled, the instance ended); `read_at` when the person marked it read.
    The id is a UUIDv7, so ids order notifications by creation (the event stream resumes
    from `Last-Event-ID` in that order).
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
    #: the template variables, so outgoing channels render their own format when they send
    context: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
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
            "ix_notifications_open_task",
            "task_id",
            postgresql_where=text("resolved_at IS NULL AND task_id IS NOT NULL"),
        ),
        # every notification of an instance (e.g. its business key for the completion message)
        Index("ix_notifications_instance", "instance_id"),
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


class OpenTask(Base):
    """A task that is open at the runtime, as its events told us: who may work it, until when.

    Kept from `task.created` / `task.assigned` and removed by `task.completed` /
    `task.cancelled` and the end of its instance. The daily digest lists these, and the
    recipients of events that name no people (withdrawal) are found here.
    """

    __tablename__ = "open_tasks"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    definition_key: Mapped[str] = mapped_column(String(255), nullable=False)
    business_key: Mapped[str | None] = mapped_column(String(255))
    initiator: Mapped[str | None] = mapped_column(String(150))
    assignee: Mapped[str | None] = mapped_column(String(150))
    candidate_users: Mapped[list[str]] = mapped_column(
        ARRAY(String(150)), nullable=False, server_default=text("'{}'::varchar[]")
    )
    candidate_roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), nullable=False, server_default=text("'{}'::varchar[]")
    )
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index("ix_open_tasks_assignee", "assignee"),
        Index("ix_open_tasks_candidate_users", "candidate_users", postgresql_using="gin"),
        Index("ix_open_tasks_candidate_roles", "candidate_roles", postgresql_using="gin"),
    )
