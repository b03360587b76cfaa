"""The `definitions` table: every uploaded version of every process, with its exact bytes."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.designer.database import Base

DRAFT = "draft"
TRIAL = "trial"
PUBLISHED = "published"
DEPRECATED = "deprecated"
STATUSES = (DRAFT, TRIAL, PUBLISHED, DEPRECATED)


class Definition(Base):
    """One version of a process definition.

    `bpmn` holds the uploaded document byte for byte (whatever its encoding), so an
    export gives back exactly what was imported. `sequence` counts the events of this
    definition (published, deprecated) for consumers that must order them.
    """

    __tablename__ = "definitions"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("version > 0", name="version_positive"),
        Index("ix_definitions_created", "created_at", "id"),
        Index(
            "uq_definitions_idempotency",
            "created_by",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    trial_roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'::varchar[]")
    )
    bpmn: Mapped[bytes] = mapped_column(LargeBinary)
    bpmn_sha256: Mapped[str] = mapped_column(String(64))
    bpmn_size: Mapped[int] = mapped_column(Integer)
    executable: Mapped[bool] = mapped_column(Boolean)
    change_note: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
