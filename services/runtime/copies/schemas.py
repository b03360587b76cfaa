"""API shapes of copies (抄送)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class CopyRequest(BaseModel):
    """Who gets a copy: rules as in `bpm:assignment` (`user:x`, `role:y`, `manager`,
    `department:k/role:r` ...); roles go to their holders."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=50, examples=[["user:alice", "role:risk"]])
    message: str | None = Field(default=None, max_length=2000)


class CopyView(BaseModel):
    id: str
    instance_id: str
    node_id: str | None
    recipient: str
    kind: str = Field(description="`copy` (a copy node), `informed` (RACI) or `manual`")
    created_by: str | None
    message: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class CopiesCreated(BaseModel):
    items: list[CopyView]


class CopyPage(BaseModel):
    items: list[CopyView]
    next_cursor: str | None


class InstanceSummary(BaseModel):
    definition_key: str
    definition_version: int
    business_key: str | None
    initiator: str | None
    state: str
    started_at: dt.datetime


class MyCopy(CopyView):
    instance: InstanceSummary


class MyCopyPage(BaseModel):
    items: list[MyCopy]
    next_cursor: str | None
