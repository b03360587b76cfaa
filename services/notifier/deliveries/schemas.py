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
    channel: str = Field(description="in_app, email, or the name of a channel config")
    channel_kind: str
    address: str | None
    status: str = Field(description="pending, held, sending, sent, failed, dead or cancelled")
    attempts: int = Field(description="Attempts since it was queued (or last retried by hand).")
    last_error: str | None
    next_attempt_at: dt.datetime | None = Field(
        description="When the next attempt is due; null once sent, cancelled or dead."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: dt.datetime
    finished_at: dt.datetime
    outcome: str = Field(description="sent, failed (retried later) or dead")
    error: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class BulkRetry(BaseModel):
    """Either `ids` (up to 1000 deliveries) or `all_dead: true`, optionally on one channel."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    all_dead: bool | None = None
    channel: str | None = Field(default=None, min_length=1, max_length=100)


class Retried(BaseModel):
    retried: int
