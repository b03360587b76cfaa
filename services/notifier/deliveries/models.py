"""The delivery log: one row per notification and channel, one attempt row per try.

A row is due while `next_attempt_at` is set and has passed; the delivery worker claims due
rows with `FOR UPDATE SKIP LOCKED`, sends outside any transaction and records the outcome
(and a `delivery_attempts` row). Rows in a final state (`sent`, `cancelled`, `dead`) have
no `next_attempt_at`. `(event_id, recipient, channel)` is unique, so an event handled
twice never sends twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Double,
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

from bpm_common.ids import uuid7
from services.notifier.database import Base


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    HELD = "held"  # waiting for the recipient's quiet hours to end
    SENDING = "sending"  # claimed by a worker; retried if the claim expires (the worker died)
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed transiently; `next_attempt_at` is the next one
    DEAD = "dead"  # dead letter: a permanent failure, or no attempt left; `last_error` says why
    CANCELLED = "cancelled"  # no longer worth sending (the task was closed before it went out)


class ChannelKind(enum.StrEnum):
    """The kinds of channel; a channel config has one, the built-in ones are in_app and email."""

    IN_APP = "in_app"
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    LARK = "lark"
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"


#: the channel names the notifier has without configuration
IN_APP_CHANNEL = "in_app"
EMAIL_CHANNEL = "email"


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    recipient: Mapped[str] = mapped_column(String(150), nullable=False)
    #: `in_app`, `email` (the built-in SMTP server) or the name of a channel config
    channel: Mapped[str] = mapped_column(String(100), nullable=False)
    channel_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    channel_config_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("channel_configs.id", ondelete="SET NULL")
    )
    #: where on the channel: an email address, a chat user id to mention, or none
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
            "status IN ('pending', 'held', 'sending', 'sent', 'failed', 'dead', 'cancelled')",
            name="status_known",
        ),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index("ix_deliveries_status_id", "status", "id"),
    )


class DeliveryAttempt(Base):
    """One try to send a delivery: when, how long, and what came of it."""

    __tablename__ = "delivery_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: sent, failed (to be retried) or dead
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_delivery_attempts_delivery_id_number", "delivery_id", "number"),
        CheckConstraint("outcome IN ('sent', 'failed', 'dead')", name="outcome_known"),
    )


class ChannelRateBucket(Base):
    """The token bucket of one channel, shared by every replica through this row.

    A claim locks the row, refills `tokens` for the time since `updated_at` at the channel's
    rate (up to a minute's worth) and takes one token per delivery it claims.
    """

    __tablename__ = "channel_rate_buckets"

    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
