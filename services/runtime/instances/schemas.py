"""API shapes of process instances."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StartInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_key: str = Field(min_length=1, max_length=255, description="Id of the executable BPMN process")
    variables: dict[str, Any] = Field(default_factory=dict)
    business_key: str | None = Field(default=None, max_length=255)


class InstanceStarted(BaseModel):
    id: str
    definition_key: str
    definition_version: int
    business_key: str | None
    state: str
    active_nodes: list[str]


class InstanceView(BaseModel):
    id: str
    definition_id: str
    definition_key: str
    definition_version: int
    business_key: str | None
    initiator: str | None
    state: str
    suspended: bool = Field(description="Suspended by an administrator: only administrators may act on it")
    trial: bool
    variables: dict[str, Any]
    active_nodes: list[str]
    started_at: dt.datetime
    ended_at: dt.datetime | None


class HistoryEntry(BaseModel):
    id: int
    at: dt.datetime
    actor: str | None
    action: str
    node_id: str | None
    node_name: str | None
    task_id: str | None
    comment: str | None
    details: dict[str, Any] | None
    hash: str


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None = None


class InstancePage(BaseModel):
    items: list[InstanceView]
    next_cursor: str | None


class ChainVerification(BaseModel):
    valid: bool
    entries: int
    first_invalid_index: int | None = None
    first_invalid_id: int | None = None
    reason: str | None = None
