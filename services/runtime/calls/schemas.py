"""API shapes of call activities."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class CalledInstance(BaseModel):
    id: str
    definition_key: str
    definition_version: int
    business_key: str | None
    state: str
    call_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


class CalledInstancePage(BaseModel):
    items: list[CalledInstance]
    next_cursor: str | None = None
