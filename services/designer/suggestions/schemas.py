"""API shapes of the suggestion box."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["new", "accepted", "done", "declined"]


class SuggestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    process_key: str = Field(min_length=1, max_length=255, description="Key of the process.")
    title: str = Field(min_length=1, max_length=200)
    problem: str = Field(min_length=1, max_length=10_000, description="What goes wrong today.")
    proposal: str = Field(min_length=1, max_length=10_000, description="What to change.")
    expected_effect: str = Field(
        min_length=1, max_length=10_000, description="What it would bring."
    )
    difficulty: Literal["low", "medium", "high"]


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "done", "declined"]
    note: str | None = Field(default=None, max_length=10_000)


class SuggestionOut(BaseModel):
    id: uuid.UUID
    process_key: str
    title: str
    problem: str
    proposal: str
    expected_effect: str
    difficulty: Literal["low", "medium", "high"]
    status: Status
    author: str
    created_at: dt.datetime
    triaged_by: str | None
    triaged_at: dt.datetime | None
    triage_note: str | None


class SuggestionPage(BaseModel):
    items: list[SuggestionOut]
    next_cursor: str | None
