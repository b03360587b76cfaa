"""Each person's notification preferences. A person without a row gets the defaults."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, String, Time, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.database import Base


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    #: overrides the language of the organisation model
    language: Mapped[str | None] = mapped_column(String(16))
    #: times are shown in this zone; quiet hours and the digest time are read in it
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: kind (or "*" for every other kind) -> channel names; in_app is always kept
    channels: Mapped[dict[str, list[str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    #: channel kind -> the person's id there (DingTalk mobile, Slack member id, ...)
    chat_ids: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    quiet_start: Mapped[dt.time | None] = mapped_column(Time)
    quiet_end: Mapped[dt.time | None] = mapped_column(Time)
    digest_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    digest_time: Mapped[dt.time | None] = mapped_column(Time)
    #: the local date of the last digest, so each day has one
    digest_sent_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
