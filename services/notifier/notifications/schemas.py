"""The inbox API's shapes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.notifications.kinds import ACTIONABLE_KINDS, Kind
from services.notifier.notifications.models import Notification

_KINDS = ", ".join(k.value for k in Kind)


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description=f"One of: {_KINDS}.")
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
    urgent: bool = Field(description="Overdue, escalated and incidents: sent despite quiet hours.")
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
