"""The records a command emits, in the order things happened.

The runtime turns them into history rows and outbox events. They are immutable and
small; all of them happen at the command's ``now``, which is why they carry no time.
Activity records for a given node are identical in every instance, so the compiled
graph creates them once and commands reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "ActivityCancelled",
    "ActivityCompleted",
    "ActivityStarted",
    "Event",
    "InstanceCompleted",
    "InstanceTerminated",
    "TaskCancelled",
    "TaskCompleted",
    "TaskCreated",
    "TaskSpec",
]


class _Record:
    """Shared behaviour: ``type`` names the record, :meth:`to_dict` gives plain JSON."""

    __slots__ = ()
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": self.type}
        for field in fields(self):  # type: ignore[arg-type]
            result[field.name] = _plain(getattr(self, field.name))
        return result


def _plain(value: Any) -> Any:
    if isinstance(value, TaskSpec):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A user task as created: who may work it, by when, with which form."""

    id: str
    node_id: str
    name: str | None
    assignee: str | None
    candidate_users: tuple[str, ...]
    candidate_groups: tuple[str, ...]
    """Role names of the organisation model."""
    due_at: datetime | None
    """Aware, in UTC."""
    priority: int
    form_key: str | None
    documentation: str | None

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class ActivityStarted(_Record):
    """A token entered a flow node (event, activity or gateway). A synchronising
    gateway reports it once, when it fires, not for every arriving token."""

    type: ClassVar[str] = "activity_started"
    node_id: str
    node_name: str | None
    node_kind: str


@dataclass(frozen=True, slots=True)
class ActivityCompleted(_Record):
    """A token left a flow node normally."""

    type: ClassVar[str] = "activity_completed"
    node_id: str
    node_name: str | None
    node_kind: str


@dataclass(frozen=True, slots=True)
class ActivityCancelled(_Record):
    """A token was removed from a flow node before it completed (terminate end event)."""

    type: ClassVar[str] = "activity_cancelled"
    node_id: str
    node_name: str | None
    node_kind: str


@dataclass(frozen=True, slots=True)
class TaskCreated(_Record):
    type: ClassVar[str] = "task_created"
    task: TaskSpec


@dataclass(frozen=True, slots=True)
class TaskCompleted(_Record):
    type: ClassVar[str] = "task_completed"
    task_id: str
    node_id: str
    actor: str | None


@dataclass(frozen=True, slots=True)
class TaskCancelled(_Record):
    type: ClassVar[str] = "task_cancelled"
    task_id: str
    node_id: str
    reason: str
    """Why: ``"terminated"`` (a terminate end event) so far."""


@dataclass(frozen=True, slots=True)
class InstanceCompleted(_Record):
    """The last token of the instance reached an end."""

    type: ClassVar[str] = "instance_completed"


@dataclass(frozen=True, slots=True)
class InstanceTerminated(_Record):
    """A terminate end event ended the instance; ``node_id`` is that event."""

    type: ClassVar[str] = "instance_terminated"
    node_id: str


Event = (
    ActivityStarted
    | ActivityCompleted
    | ActivityCancelled
    | TaskCreated
    | TaskCompleted
    | TaskCancelled
    | InstanceCompleted
    | InstanceTerminated
)
