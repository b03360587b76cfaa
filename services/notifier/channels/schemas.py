"""The channel configuration API's shapes. The URL goes in, never out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ChannelName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Lower-case letters, digits, `_`, `.`, `-`; `email` and `in_app` are built in.",
    ),
]
ChannelUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4000,
        description=(
            "An Apprise URL (`dingtalk://token/`, `wecombot://key`, `feishu://token`, "
            "`lark://token`, `slack://A/B/C/#channel`, `workflows://host/workflow/signature`, "
            "`json://host/path`), the platform's own webhook URL where Apprise knows it, or an "
            "`smtp://` / `smtps://` mail server. Write-only: answers show `target` instead."
        ),
    ),
]
Rate = Annotated[int, Field(ge=1, le=100_000, description="Messages per minute at most.")]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    url: ChannelUrl
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    default: bool = Field(
        default=False, description="Used for people who have not chosen their channels."
    )
    rate_per_minute: Rate | None = None


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName | None = None
    url: ChannelUrl | None = None
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    default: bool | None = None
    rate_per_minute: Rate | None = None


class ChannelOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str = Field(description="dingtalk, wecom, feishu, lark, slack, teams, webhook or email")
    target: str = Field(description="The scheme and a masked target; the URL is never shown.")
    description: str | None
    enabled: bool
    default: bool
    rate_per_minute: int | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ChannelPage(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None


class ChannelTestResult(BaseModel):
    sent: bool
    error: str | None = None
