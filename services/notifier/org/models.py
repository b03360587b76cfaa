"""The notifier's copy of the organisation model, built from the designer's `org.*` events.

Each row keeps the `sequence` and time of the event that last wrote it, so a late or
repeated event never overwrites newer data. A deletion leaves a tombstone (`deleted_at`)
for the same reason: an older `upserted` arriving after it must not bring the row back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.database import Base


class OrgUser(Base):
    __tablename__ = "org_users"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    department: Mapped[str | None] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), nullable=False, server_default=text("'{}'::varchar[]")
    )
    locale: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (Index("ix_org_users_roles", "roles", postgresql_using="gin"),)

    @property
    def reachable(self) -> bool:
        """Whether this person should hear anything: active and not deleted."""
        return self.active and self.deleted_at is None


class OrgDepartment(Base):
    __tablename__ = "org_departments"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(100))
    manager: Mapped[str | None] = mapped_column(String(150))
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
