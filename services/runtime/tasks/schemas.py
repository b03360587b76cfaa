"""API shapes of user tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT


class TaskQuery(BaseModel):
    """The inbox's query parameters."""

    state: str = Field(default="open", pattern="^(open|completed|cancelled)$")
    scope: str = Field(
        default="mine",
        pattern="^(mine|all)$",
        description="`all`: every task, for administrators and the roles that oversee processes "
        "(process designers and owners, analysts)",
    )
    instance_id: UUID | None = None
    definition_key: str | None = None
    node_id: str | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class CompleteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=4000)
    outcome: Literal["approve", "reject"] | None = Field(
        default=None, description="For approval tasks (bpm:approval): approve or reject"
    )


class TaskView(BaseModel):
    id: str
    instance_id: str
    definition_key: str
    definition_version: int
    node_id: str
    name: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    due_at: dt.datetime | None
    priority: int | None
    form_key: str | None
    state: str
    created_at: dt.datetime
    completed_at: dt.datetime | None
    completed_by: str | None
    comment: str | None
    owner: str | None = Field(default=None, description="The delegating user while the task is delegated")
    delegation_state: str | None = Field(default=None, description="pending while delegated, then resolved")
    last_urged_at: dt.datetime | None = None
    time_limit: str | None = Field(default=None, description="The node's working-time limit (ISO 8601)")
    escalation_level: int | None = None


class TaskPage(BaseModel):
    items: list[TaskView]
    next_cursor: str | None


class TaskCompleted(BaseModel):
    id: str
    instance_id: str
    state: str
    instance_state: str
    active_nodes: list[str]
