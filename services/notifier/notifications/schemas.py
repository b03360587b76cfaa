"""The inbox API's shapes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.notifications.models import Notification
from services.notifier.notifications.templates import Kind

#: kinds whose notification asks the person to act (until `resolved_at` is set)
ACTIONABLE_KINDS = frozenset({Kind.TASK_ASSIGNED.value, Kind.TASK_OFFERED.value})


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="task_assigned, task_offered or instance_completed")
    title: str
    body: str
    link: str | None = Field(description="Where the person acts on it (a page of the web app).")
    locale: str
    task_id: str | None
    instance_id: str | None
    process_key: str | None
    business_key: str | None
    data: dict[str, Any] = Field(
        description="Details by kind: node_id, due_at, definition_version, started_at, ..."
    )
    created_at: dt.datetime
    read_at: dt.datetime | None
    resolved_at: dt.datetime | None = Field(
        description="When what it asks for stopped being actionable (task completed or cancelled)."
    )
    actionable: bool = Field(description="A task notification whose task is still open.")

    @classmethod
    def of(cls, row: Notification) -> NotificationOut:
        return cls(
            **{name: getattr(row, name) for name in cls.model_fields if name != "actionable"},
            actionable=row.kind in ACTIONABLE_KINDS and row.resolved_at is None,
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class UnreadCount(BaseModel):
    unread: int


class MarkRead(BaseModel):
    """Either `ids` (up to 500 of the caller's notifications) or `all: true`."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    all: bool | None = None


class MarkedCount(BaseModel):
    marked: int
