"""Read the runtime's events (docs/events.md) into records and event-log entries.

An event whose data cannot be read (a missing key, a malformed id or time) can
never be handled, so it is refused as `PoisonEvent` and dead-lettered at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import PoisonEvent
from services.metrics.facts.records import InstanceRecord, TaskRecord

INSTANCE_STARTED = "bpm.runtime.instance.started"
INSTANCE_COMPLETED = "bpm.runtime.instance.completed"
INSTANCE_TERMINATED = "bpm.runtime.instance.terminated"
TASK_CREATED = "bpm.runtime.task.created"
TASK_COMPLETED = "bpm.runtime.task.completed"
TASK_CANCELLED = "bpm.runtime.task.cancelled"

_INSTANCE_STATE = {
    INSTANCE_STARTED: "running",
    INSTANCE_COMPLETED: "completed",
    INSTANCE_TERMINATED: "terminated",
}
_TASK_STATE = {TASK_CREATED: "open", TASK_COMPLETED: "completed", TASK_CANCELLED: "cancelled"}
# the transitions of the XES standard lifecycle model
_LIFECYCLE = {
    INSTANCE_STARTED: "start",
    INSTANCE_COMPLETED: "complete",
    INSTANCE_TERMINATED: "pi_abort",
    TASK_CREATED: "schedule",
    TASK_COMPLETED: "complete",
    TASK_CANCELLED: "withdraw",
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    event_id: uuid.UUID
    event_type: str
    sequence: int
    case_id: uuid.UUID
    definition_key: str
    definition_version: int
    trial: bool
    activity: str
    lifecycle: str
    occurred_at: dt.datetime
    task_id: uuid.UUID | None = None
    activity_name: str | None = None
    resource: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class _Data:
    """Typed access to an event's data that names the field at fault."""

    def __init__(self, event: Event) -> None:
        self.event, self.data = event, event.data

    def _fail(self, name: str, problem: str) -> PoisonEvent:
        return PoisonEvent(f"{self.event.type} {self.event.id}: data.{name} {problem}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self._fail(name, "is missing")
            return None
        if not isinstance(value, str):
            raise self._fail(name, "is not a string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def version(self) -> int:
        value = self.data.get("definition_version")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._fail("definition_version", "is not a positive integer")
        return value

    def id(self, name: str, *, fallback: str | None = None) -> uuid.UUID:
        value = self.data.get(name) or fallback
        try:
            return uuid.UUID(str(value))
        except ValueError as exc:
            raise self._fail(name, "is not a UUID") from exc

    def optional_id(self, name: str) -> uuid.UUID | None:
        return self.id(name) if self.data.get(name) else None

    def time(self, name: str) -> dt.datetime | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise self._fail(name, "is not an ISO 8601 time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    def time_or_event_time(self, name: str) -> dt.datetime:
        return self.time(name) or self.event.time

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(name, "is not a list of strings")
        return tuple(value)

    def trial(self) -> bool | None:
        value = self.data.get("trial")
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._fail("trial", "is not a boolean")
        return value


def instance_record(event: Event) -> InstanceRecord:
    """The instance as an `instance.*` event describes it."""
    d = _Data(event)
    state = _INSTANCE_STATE[event.type]
    ended = state != "running"
    return InstanceRecord(
        instance_id=d.id("instance_id", fallback=event.subject),
        definition_key=d.required_text("definition_key"),
        definition_version=d.version(),
        state=state,
        sequence=event.sequence,
        trial=bool(d.trial()),
        definition_id=d.optional_id("definition_id"),
        business_key=d.text("business_key"),
        initiator=d.text("initiator"),
        started_at=d.time("started_at") if ended else d.time_or_event_time("started_at"),
        ended_at=d.time_or_event_time("ended_at") if ended else None,
        ended_by=d.text("actor") if state == "terminated" else None,
        end_reason=d.text("reason") if state == "terminated" else None,
    )


def task_record(event: Event) -> TaskRecord:
    """The task as a `task.*` event describes it."""
    d = _Data(event)
    state = _TASK_STATE[event.type]
    ended_field = {"completed": "completed_at", "cancelled": "cancelled_at"}.get(state)
    return TaskRecord(
        task_id=d.id("task_id"),
        instance_id=d.id("instance_id", fallback=event.subject),
        definition_key=d.required_text("definition_key"),
        definition_version=d.version(),
        node_id=d.required_text("node_id"),
        state=state,
        sequence=event.sequence,
        trial=d.trial(),
        name=d.text("name"),
        assignee=d.text("assignee"),
        candidate_users=d.texts("candidate_users"),
        candidate_roles=d.texts("candidate_roles"),
        due_at=d.time("due_at"),
        created_at=d.time_or_event_time("created_at") if state == "open" else d.time("created_at"),
        ended_at=d.time_or_event_time(ended_field) if ended_field else None,
        actor=d.text("actor") if state == "completed" else None,
        outcome=d.text("outcome") if state == "completed" else None,
        end_reason=d.text("reason") if state == "cancelled" else None,
    )


def instance_log_entry(event: Event, record: InstanceRecord, *, trial: bool) -> LogEntry:
    """The event-log entry of an `instance.*` event; `record` is what the event said."""
    attributes = {"business_key": record.business_key, "reason": record.end_reason}
    return LogEntry(
        event_id=_event_id(event),
        event_type=event.type,
        sequence=event.sequence,
        case_id=record.instance_id,
        definition_key=record.definition_key,
        definition_version=record.definition_version,
        trial=trial,
        activity=record.definition_key,
        lifecycle=_LIFECYCLE[event.type],
        occurred_at=record.ended_at or record.started_at or event.time,
        resource=record.ended_by
        if record.state == "terminated"
        else (record.initiator if record.state == "running" else None),
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def task_log_entry(event: Event, record: TaskRecord, *, trial: bool) -> LogEntry:
    """The event-log entry of a `task.*` event; `record` is what the event said."""
    attributes: dict[str, Any] = {
        "due_at": record.due_at.isoformat() if record.due_at else None,
        "candidate_roles": list(record.candidate_roles) or None,
        "candidate_users": list(record.candidate_users) or None,
        "outcome": record.outcome,
        "reason": record.end_reason,
    }
    return LogEntry(
        event_id=_event_id(event),
        event_type=event.type,
        sequence=event.sequence,
        case_id=record.instance_id,
        definition_key=record.definition_key,
        definition_version=record.definition_version,
        trial=trial,
        task_id=record.task_id,
        activity=record.node_id,
        activity_name=record.name,
        lifecycle=_LIFECYCLE[event.type],
        occurred_at=record.ended_at or record.created_at or event.time,
        resource=record.actor if record.state == "completed" else record.assignee,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def _event_id(event: Event) -> uuid.UUID:
    try:
        return uuid.UUID(event.id)
    except ValueError as exc:
        raise PoisonEvent(f"{event.type}: event id {event.id!r} is not a UUID") from exc
