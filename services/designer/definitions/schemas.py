"""API shapes of process definitions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DefinitionOut(BaseModel):
    id: uuid.UUID
    key: str
    version: int
    status: Literal["draft", "trial", "published", "deprecated"]
    name: str | None
    executable: bool = Field(description="Only an executable definition can be published.")
    live: bool = Field(
        description="The version new instances of this key start: the most recently published one."
    )
    trial_roles: list[str]
    change_note: str | None
    sha256: str = Field(description="SHA-256 of the stored BPMN bytes (also the export's ETag).")
    size: int = Field(description="Size of the stored BPMN document in bytes.")
    created_by: str
    created_at: dt.datetime
    published_by: str | None
    published_at: dt.datetime | None


class Finding(BaseModel):
    rule: str
    severity: Literal["error", "warning"]
    element_id: str | None
    message: str
    line: int | None = None


class LintOut(BaseModel):
    valid: bool
    errors: list[Finding]
    warnings: list[Finding]


class DefinitionDetail(DefinitionOut):
    lint: LintOut = Field(description="Lint as for publication: errors block publishing.")


class DefinitionPage(BaseModel):
    items: list[DefinitionOut]
    next_cursor: str | None


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["live", "trial"] = "live"
    trial_roles: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Roles whose members start this version while it is on trial "
        "(required for trial, not allowed for live).",
    )


class PublishOut(BaseModel):
    id: uuid.UUID
    key: str
    version: int
    status: Literal["published", "trial", "deprecated"]
    name: str | None
    trial_roles: list[str]
    published_at: dt.datetime | None
    published_by: str | None


class RuleOut(BaseModel):
    id: str
    description: str


class VersionRef(BaseModel):
    id: uuid.UUID
    key: str
    version: int


class Changes(BaseModel):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]


class DiffOut(BaseModel):
    base: VersionRef = Field(description="The version compared against (`against`).")
    target: VersionRef = Field(description="This version.")
    identical: bool
    nodes: Changes
    flows: Changes
    conditions: Changes
    assignments: Changes
    time_limits: Changes
    forms: Changes
