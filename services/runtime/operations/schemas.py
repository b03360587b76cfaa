"""API shapes of approval operations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_REASON = 2000
MAX_COMMENT = 4000
MAX_MESSAGE = 500

#: a reason that must be given (blank is not a reason)
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
]
OptionalReason = Annotated[
    str | None, StringConstraints(strip_whitespace=True, max_length=MAX_REASON)
]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveTask(_Body):
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    variables: dict[str, Any] = Field(default_factory=dict)


class RejectTask(_Body):
    comment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_COMMENT)
    ] = Field(description="Why the task is rejected (required)")
    variables: dict[str, Any] = Field(default_factory=dict)


class ReturnTask(_Body):
    target_node_id: str = Field(
        min_length=1, max_length=255, description="One of the task's return targets"
    )
    reason: Reason


class AddSigner(_Body):
    user: Username
    mode: Literal["before", "after", "parallel"] = Field(
        description="before: the signer signs first; after: once the task is completed; "
        "parallel: alongside"
    )
    reason: OptionalReason = None


class HandOver(_Body):
    """Transfer or delegate: to whom, and why."""

    to: Username
    reason: OptionalReason = None


class ResolveTask(_Body):
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    variables: dict[str, Any] = Field(default_factory=dict)


class UrgeTask(_Body):
    message: str | None = Field(default=None, max_length=MAX_MESSAGE)


class Withdraw(_Body):
    reason: OptionalReason = None


class TaskDecision(BaseModel):
    id: str
    instance_id: str
    state: str
    outcome: str | None
    instance_state: str
    active_nodes: list[str]


class ReturnTarget(BaseModel):
    node_id: str
    name: str | None


class ReturnTargets(BaseModel):
    items: list[ReturnTarget] = Field(description="Earlier nodes, the most recently completed last")
    next_cursor: str | None = None


class TaskReturned(BaseModel):
    id: str
    instance_id: str
    state: str
    target_node_id: str
    instance_state: str
    active_nodes: list[str]


class SignerAdded(BaseModel):
    signer_id: str = Field(
        description="The signer's task id (before, parallel) or the pending signer's id (after)"
    )
    task_id: str
    instance_id: str
    user: str
    mode: str
    active_nodes: list[str]


class AssignedTask(BaseModel):
    id: str
    instance_id: str
    node_id: str
    name: str | None
    state: str
    assignee: str | None
    owner: str | None
    delegation_state: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    due_at: dt.datetime | None
    last_urged_at: dt.datetime | None


class InstanceWithdrawn(BaseModel):
    id: str
    state: str
    active_nodes: list[str]
