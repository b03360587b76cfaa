"""The delivery log API's shapes (administrators only)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    notification_id: uuid.UUID
    event_id: uuid.UUID
    recipient: str
    channel: str
    address: str | None
    status: str = Field(description="pending, sending, sent, failed or cancelled")
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None = Field(
        description="When the next attempt is due; null once sent, cancelled or out of attempts."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
