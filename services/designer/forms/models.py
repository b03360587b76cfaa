"""Forms of a definition version, and files attached to form submissions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.designer.database import Base


class DefinitionForm(Base):
    """One form (`form:<name>` in the BPMN) of one definition version.

    Forms are versioned with the definition: a new version of a key starts with a
    copy of the forms of the version it follows, and only drafts change them.
    """

    __tablename__ = "definition_forms"

    definition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("definitions.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ui_schema: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Attachment(Base):
    """A file uploaded for a form field of `format: "attachment-id"`."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    """Recognised from the content, not taken from the upload's header."""
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
