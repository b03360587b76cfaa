"""The delivery log: one row per notification and channel, with its status and attempts.

A row is due while `next_attempt_at` is set and has passed; the delivery worker claims due
rows with `FOR UPDATE SKIP LOCKED`, sends outside any transaction and records the outcome.
Rows in a final state (`sent`, `cancelled`, or `failed` with no retry left) have no
`next_attempt_at`. `(event_id, recipient, channel)` is unique, so an event handled twice
never sends twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from bpm_common.ids import uuid7
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.database import Base


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    SENDING = "sending"  # claimed by a worker; retried if the claim expires (the worker died)
    SENT = "sent"
    FAILED = (
        "failed"  # the last attempt failed; `next_attempt_at` says when the next one is, if any
    )
    CANCELLED = "cancelled"  # no longer worth sending (the task was closed before it went out)


class Channel(enum.StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    recipient: Mapped[str] = mapped_column(String(150), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    address: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("event_id", "recipient", "channel"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="status_known"
        ),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index("ix_deliveries_status_id", "status", "id"),
    )
