"""Data dictionaries: named, ordered lists of coded items with labels per locale
(expense types, approval levels, product categories), used by form enumerations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.designer.database import Base


class Dictionary(Base):
    __tablename__ = "dictionaries"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    names: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """Name by locale: `{"en": "Expense types", "zh-CN": "费用类型"}`."""
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class DictionaryItem(Base):
    __tablename__ = "dictionary_items"

    dictionary_key: Mapped[str] = mapped_column(
        ForeignKey("dictionaries.key", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
