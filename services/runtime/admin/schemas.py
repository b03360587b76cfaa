"""API shapes of administrators' interventions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.operations.schemas import Reason, Username


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Justified(_Body):
    """An intervention that needs nothing but its reason (terminate, suspend, resume)."""

    reason: Reason


class SkipNode(_Body):
    task_id: str | None = Field(default=None, max_length=64, description="The open task to skip")
    token_id: str | None = Field(
        default=None, max_length=64, description="Or the token (see /tokens)"
    )
    reason: Reason
    variables: dict[str, Any] = Field(default_factory=dict)


class MoveToken(_Body):
    from_node: str | None = Field(default=None, max_length=255)
    token_id: str | None = Field(default=None, max_length=64)
    to_node: str = Field(min_length=1, max_length=255)
    reason: Reason


class CancelToken(_Body):
    token_id: str | None = Field(default=None, max_length=64)
    from_node: str | None = Field(default=None, max_length=255)
    reason: Reason


class EditVariables(_Body):
    variables: dict[str, Any] = Field(
        min_length=1, description="Variables to set (null clears a value)"
    )
    reason: Reason


class Reassign(_Body):
    to: Username
    reason: Reason


class Intervention(BaseModel):
    id: str
    state: str
    suspended: bool
    suspended_by: str | None = Field(
        default=None,
        description="While suspended because an instance above it (that called it) was: that instance",
    )
    active_nodes: list[str]


class TokenTask(BaseModel):
    id: str
    assignee: str | None
    owner: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    due_at: dt.datetime | None


class TokenView(BaseModel):
    id: str
    node_id: str
    node_name: str | None
    node_kind: str | None
    scope_id: str
    arrived_via: str | None = Field(description="Set while the token waits at a join")
    work_id: str | None
    signs_with: str | None = Field(
        description="For an added parallel signer: the token it signs with"
    )
    task: TokenTask | None


class ScopeView(BaseModel):
    id: str
    node_id: str
    kind: str
    parent: str
    token_id: str
    variables: dict[str, Any] = Field(
        description="Local variables; multi-instance counters for kind `mi`"
    )


class InstanceTokens(BaseModel):
    instance_id: str
    state: str
    suspended: bool
    tokens: list[TokenView]
    scopes: list[ScopeView]
    signers: list[dict[str, Any]]
    works: list[dict[str, Any]]
    timers: list[dict[str, Any]]
