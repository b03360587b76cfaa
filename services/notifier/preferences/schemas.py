"""The preferences API's shapes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelName = Annotated[str, Field(min_length=1, max_length=100)]


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.time = Field(description="Local time the quiet hours begin, e.g. 22:00.")
    end: dt.time = Field(description="Local time they end, e.g. 07:30 (may be the next day).")


class Digest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    time: dt.time = Field(default=dt.time(8, 30), description="Local time the digest is sent.")


class PreferencesIn(BaseModel):
    """The whole set of a person's preferences (PUT replaces it)."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["en", "zh-CN"] | None = Field(
        default=None, description="Overrides the language of the organisation model."
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone, e.g. Asia/Shanghai; default UTC."
    )
    channels: dict[str, list[ChannelName]] = Field(
        default_factory=dict,
        description=(
            "Per notification kind (or `*` for every other kind) the channels to use besides "
            "the in-app inbox: `email` and channel names. A kind not listed uses `*`, then the "
            "organisation's defaults; an empty list means the inbox only."
        ),
    )
    chat_ids: dict[str, Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=dict,
        description=(
            "The person's id per chat kind, to mention them: dingtalk (mobile number), slack "
            "(member id), teams (user principal name), feishu / lark (open id)."
        ),
    )
    quiet_hours: QuietHours | None = Field(
        default=None, description="Non-urgent messages wait until they end (in-app excepted)."
    )
    digest: Digest = Field(
        default_factory=Digest,
        description=(
            "A daily message listing the person's open tasks, instead of single messages about "
            "new and due tasks on outgoing channels."
        ),
    )


class PreferencesOut(PreferencesIn):
    username: str
    available_channels: list[str] = Field(description="Channel names that may be chosen.")
    updated_at: dt.datetime | None
