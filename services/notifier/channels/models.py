"""Channel configurations of the organisation: a named Apprise URL per chat group, robot or
mail server, its secret parts encrypted at rest."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, DateTime, Integer, String, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from bpm_common.ids import uuid7
from services.notifier.database import Base


class ChannelConfig(Base):
    __tablename__ = "channel_configs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: the Apprise (or smtp://) URL, encrypted with the notifier's channel-secrets key
    secret_url: Mapped[str] = mapped_column(Text, nullable=False)
    #: what the API shows instead: the scheme and a masked target
    target: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    #: used for people who have not chosen their channels
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
