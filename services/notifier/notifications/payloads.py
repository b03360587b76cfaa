"""The payloads of the runtime's task and instance events (docs/events.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Username = Annotated[str, Field(min_length=1, max_length=150)]
#: a username, or none (null or blank)
OptionalName = Annotated[Username | None, BeforeValidator(_blank_to_none)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
RoleName = Annotated[str, Field(min_length=1, max_length=100)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TaskCreated(_Payload):
    task_id: Id
    instance_id: Id
    definition_key: str = Field(min_length=1, max_length=255)
    definition_version: int | None = None
    node_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=500)
    assignee: OptionalName = None
    candidate_users: list[Username] = Field(default_factory=list, max_length=1000)
    candidate_roles: list[RoleName] = Field(default_factory=list, max_length=200)
    due_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    initiator: OptionalName = None
    business_key: str | None = Field(default=None, max_length=255)
    trial: bool = False

    @property
    def display_name(self) -> str:
        return self.name or self.node_id or self.task_id


class TaskClosed(_Payload):
    """`task.completed` or `task.cancelled`."""

    task_id: Id
    instance_id: Id | None = None
    definition_key: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=500)
    node_id: str | None = Field(default=None, max_length=255)
    actor: OptionalName = None
    comment: str | None = Field(default=None, max_length=10_000)
    outcome: str | None = Field(default=None, max_length=32)
    initiator: OptionalName = None
    business_key: str | None = Field(default=None, max_length=255)
    completed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None


class _TaskEvent(_Payload):
    """The task fields every task event of the approval operations carries."""

    task_id: Id
    instance_id: Id
    definition_key: str | None = Field(default=None, max_length=255)
    definition_version: int | None = None
    node_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=500)
    initiator: OptionalName = None
    business_key: str | None = Field(default=None, max_length=255)
    trial: bool = False
    at: dt.datetime | None = None


class TaskAssigned(_TaskEvent):
    assignee: OptionalName = None
    previous_assignee: OptionalName = None
    owner: OptionalName = None
    kind: str | None = Field(default=None, max_length=32)
    actor: OptionalName = None
    reason: str | None = Field(default=None, max_length=10_000)


class TaskReturned(_TaskEvent):
    actor: OptionalName = None
    reason: str | None = Field(default=None, max_length=10_000)
    target_node_id: str | None = Field(default=None, max_length=255)
    target_node_name: str | None = Field(default=None, max_length=500)


class TaskReminder(_TaskEvent):
    """`task.due_soon`, `task.overdue` and `task.urged`: the task's audience hears it."""

    assignee: OptionalName = None
    candidate_users: list[Username] = Field(default_factory=list, max_length=1000)
    candidate_roles: list[RoleName] = Field(default_factory=list, max_length=200)
    due_at: dt.datetime | None = None
    actor: OptionalName = None
    message: str | None = Field(default=None, max_length=10_000)
    action: str | None = Field(default=None, max_length=32)


class TaskEscalated(_TaskEvent):
    assignee: OptionalName = None
    escalated_to: list[Username] = Field(default_factory=list, max_length=1000)
    due_at: dt.datetime | None = None
    level: int | None = None


class CopyCreated(_Payload):
    copy_id: Id
    instance_id: Id
    definition_key: str | None = Field(default=None, max_length=255)
    node_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=500)
    recipients: list[Username] = Field(default_factory=list, max_length=5000)
    actor: OptionalName = None
    message: str | None = Field(default=None, max_length=10_000)
    initiator: OptionalName = None
    business_key: str | None = Field(default=None, max_length=255)
    at: dt.datetime | None = None


class InstanceWithdrawn(_Payload):
    instance_id: Id
    definition_key: str | None = Field(default=None, max_length=255)
    actor: OptionalName = None
    reason: str | None = Field(default=None, max_length=10_000)
    initiator: OptionalName = None
    business_key: str | None = Field(default=None, max_length=255)
    ended_at: dt.datetime | None = None


class IncidentCreated(_Payload):
    incident_id: Id
    #: null for an incident of the process definition (a timer start that could not start one)
    instance_id: Id | None = None
    definition_key: str | None = Field(default=None, max_length=255)
    definition_version: int | None = None
    node_id: str | None = Field(default=None, max_length=255)
    message: str | None = Field(default=None, max_length=10_000)
    at: dt.datetime | None = None


class InstanceCompleted(_Payload):
    instance_id: Id
    definition_key: str = Field(min_length=1, max_length=255)
    definition_version: int | None = None
    initiator: OptionalName = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    result: str | None = Field(default=None, max_length=32)
    business_key: str | None = Field(default=None, max_length=255)
    trial: bool = False


class InstanceEnded(_Payload):
    """Any event that ends an instance (`instance.terminated`)."""

    instance_id: Id
