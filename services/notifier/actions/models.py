"""Used approve/reject links: a link's id is written once, so a link works one time only."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.database import Base


class UsedActionLink(Base):
    __tablename__ = "used_action_links"

    #: the `jti` of the link's token (approve and reject of one message share it)
    link_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), nullable=False)
    task_id: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    used_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: the runtime's answer to the completion
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
