"""API shapes of data dictionaries."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.designer.org.models import LOCALES

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _check_locales(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(LOCALES))
    if unknown:
        raise ValueError(f"unknown locales {unknown}; use {', '.join(LOCALES)}")
    if "en" not in value:
        raise ValueError("an English ('en') text is required")
    for locale, text in value.items():
        if not text.strip() or len(text) > 200:
            raise ValueError(f"the {locale} text must have 1 to 200 characters")
    return value


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, description="Stable value stored in form data.")
    labels: dict[str, str] = Field(description='Label per locale, `en` required: {"en", "zh-CN"}.')
    active: bool = Field(default=True, description="Inactive items are kept but not offered.")

    _locales = field_validator("labels")(_check_locales)


class DictionaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: dict[str, str] = Field(description="Name per locale, `en` required.")
    description: str = Field(default="", max_length=2000)
    items: list[ItemIn] = Field(max_length=1000, description="In the order they are offered.")

    _locales = field_validator("names")(_check_locales)


class ItemOut(BaseModel):
    code: str
    label: str = Field(description="The label in the requested locale (English if missing).")
    labels: dict[str, str]
    active: bool


class DictionaryOut(BaseModel):
    key: str
    name: str
    names: dict[str, str]
    description: str
    items: list[ItemOut]
    updated_by: str
    updated_at: dt.datetime


class DictionarySummary(BaseModel):
    key: str
    name: str
    names: dict[str, str]
    description: str
    updated_at: dt.datetime


class DictionaryPage(BaseModel):
    items: list[DictionarySummary]
    next_cursor: str | None
