"""Read the runtime's events (docs/events.md) into records and event-log entries.

An event whose data cannot be read (a missing key, a malformed id or time) can
never be handled, so it is refused as `PoisonEvent` and dead-lettered at once.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import PoisonEvent
from services.metrics.facts.records import InstanceRecord, TaskRecord

INSTANCE_STARTED = "bpm.runtime.instance.started"
INSTANCE_COMPLETED = "bpm.runtime.instance.completed"
INSTANCE_TERMINATED = "bpm.runtime.instance.terminated"
INSTANCE_WITHDRAWN = "bpm.runtime.instance.withdrawn"
TASK_CREATED = "bpm.runtime.task.created"
TASK_COMPLETED = "bpm.runtime.task.completed"
TASK_CANCELLED = "bpm.runtime.task.cancelled"
TASK_ASSIGNED = "bpm.runtime.task.assigned"
TASK_RETURNED = "bpm.runtime.task.returned"
TASK_OVERDUE = "bpm.runtime.task.overdue"

_INSTANCE_STATE = {
    INSTANCE_STARTED: "running",
    INSTANCE_COMPLETED: "completed",
    INSTANCE_TERMINATED: "terminated",
    INSTANCE_WITHDRAWN: "withdrawn",
}
_TASK_STATE = {
    TASK_CREATED: "open",
    TASK_COMPLETED: "completed",
    TASK_CANCELLED: "cancelled",
    TASK_RETURNED: "returned",
    TASK_ASSIGNED: "open",
    TASK_OVERDUE: "open",
}
# the transitions of the XES standard lifecycle model; task.overdue is a fact, not a transition
_LIFECYCLE = {
    INSTANCE_STARTED: "start",
    INSTANCE_COMPLETED: "complete",
    INSTANCE_TERMINATED: "pi_abort",
    INSTANCE_WITHDRAWN: "pi_abort",
    TASK_CREATED: "schedule",
    TASK_COMPLETED: "complete",
    TASK_CANCELLED: "withdraw",
    TASK_RETURNED: "ate_abort",
}
# task.assigned kinds that end the wait in the queue (someone took the task on)
QUEUE_ENDING_KINDS = frozenset({"claim", "delegate", "transfer"})
ASSIGNMENT_KINDS = frozenset(
    {"claim", "unclaim", "transfer", "delegate", "resolve", "reassign", "escalation"}
)


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

    def fail(self, name: str, problem: str) -> PoisonEvent:
        return PoisonEvent(f"{self.event.type} {self.event.id}: data.{name} {problem}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(name, "is missing")
            return None
        if not isinstance(value, str):
            raise self.fail(name, "is not a string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def version(self) -> int:
        value = self.data.get("definition_version")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail("definition_version", "is not a positive integer")
        return value

    def id(self, name: str, *, fallback: str | None = None) -> uuid.UUID:
        value = self.data.get(name) or fallback
        try:
            return uuid.UUID(str(value))
        except ValueError as exc:
            raise self.fail(name, "is not a UUID") from exc

    def optional_id(self, name: str) -> uuid.UUID | None:
        return self.id(name) if self.data.get(name) else None

    def time(self, name: str) -> dt.datetime | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise self.fail(name, "is not an ISO 8601 time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    def time_or_event_time(self, name: str) -> dt.datetime:
        return self.time(name) or self.event.time

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "is not a list of strings")
        return tuple(value)

    def score(self, name: str) -> float | None:
        """A number, or a text holding one; anything else (a comment) is no score."""
        value = self.data.get(name)
        if isinstance(value, bool) or value is None:
            return None
        try:
            score = float(value)
        except (TypeError, ValueError):
            return None
        return score if math.isfinite(score) else None

    def trial(self) -> bool | None:
        value = self.data.get("trial")
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail("trial", "is not a boolean")
        return value


def logs(event_type: str) -> bool:
    """Whether events of this type are entries of the event log."""
    return event_type in _LIFECYCLE or event_type == TASK_ASSIGNED


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
        department=d.text("initiator_department"),
        started_at=d.time("started_at") if ended else d.time_or_event_time("started_at"),
        ended_at=d.time_or_event_time("ended_at") if ended else None,
        ended_by=d.text("actor") if state in ("terminated", "withdrawn") else None,
        end_reason=d.text("reason") if state in ("terminated", "withdrawn") else None,
        result=d.text("result") if state == "completed" else None,
        satisfaction=d.score("satisfaction") if state == "completed" else None,
    )


def task_record(event: Event) -> TaskRecord:
    """The task as a `task.*` event describes it."""
    d = _Data(event)
    kind = event.type
    state = _TASK_STATE[kind]
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
        assignee=_assignee(d) if kind in (TASK_CREATED, TASK_ASSIGNED, TASK_OVERDUE) else None,
        candidate_users=d.texts("candidate_users"),
        candidate_roles=d.texts("candidate_roles"),
        due_at=d.time("due_at"),
        created_at=d.time_or_event_time("created_at")
        if kind == TASK_CREATED
        else d.time("created_at"),
        first_action_at=_first_action(d, kind),
        ended_at=_ended(d, kind),
        overdue_at=d.time_or_event_time("at") if kind == TASK_OVERDUE else None,
        actor=d.text("actor") if state in ("completed", "returned") else None,
        outcome=d.text("outcome") if state == "completed" else None,
        comment=d.text("comment") if state == "completed" else None,
        end_reason=d.text("reason") if state in ("cancelled", "returned") else None,
        returned_to=d.text("target_node_id") if state == "returned" else None,
    )


def _assignee(d: _Data) -> str | None:
    """The assignee; '' when a `task.assigned` leaves the task without one (unclaim)."""
    value = d.text("assignee")
    if d.event.type == TASK_ASSIGNED and value is None:
        return ""
    return value


def _ended(d: _Data, kind: str) -> dt.datetime | None:
    field_name = {
        TASK_COMPLETED: "completed_at",
        TASK_CANCELLED: "cancelled_at",
        TASK_RETURNED: "at",
    }
    return d.time_or_event_time(field_name[kind]) if kind in field_name else None


def _first_action(d: _Data, kind: str) -> dt.datetime | None:
    """When someone acted on the task: a claim, delegation, transfer, decision or return."""
    if kind == TASK_COMPLETED:
        return d.time_or_event_time("completed_at")
    if kind == TASK_RETURNED:
        return d.time_or_event_time("at")
    if kind == TASK_ASSIGNED:
        assignment = d.text("kind")
        if assignment is not None and assignment not in ASSIGNMENT_KINDS:
            raise d.fail("kind", f"is not one of {', '.join(sorted(ASSIGNMENT_KINDS))}")
        if assignment in QUEUE_ENDING_KINDS:
            return d.time_or_event_time("at")
    return None


def instance_log_entry(event: Event, record: InstanceRecord, *, trial: bool) -> LogEntry:
    """The event-log entry of an `instance.*` event; `record` is what the event said."""
    attributes = {
        "business_key": record.business_key,
        "department": record.department,
        "result": record.result,
        "reason": record.end_reason,
    }
    ended_by_someone = record.state in ("terminated", "withdrawn")
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
        if ended_by_someone
        else (record.initiator if record.state == "running" else None),
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def task_log_entry(event: Event, record: TaskRecord, *, trial: bool) -> LogEntry:
    """The event-log entry of a `task.*` event; `record` is what the event said."""
    d = _Data(event)
    assigned = event.type == TASK_ASSIGNED
    attributes: dict[str, Any] = {
        "due_at": record.due_at.isoformat() if record.due_at else None,
        "candidate_roles": list(record.candidate_roles) or None,
        "candidate_users": list(record.candidate_users) or None,
        "outcome": record.outcome,
        "reason": record.end_reason or (d.text("reason") if assigned else None),
        "target_node_id": record.returned_to,
        "kind": d.text("kind") if assigned else None,
        "previous_assignee": d.text("previous_assignee") if assigned else None,
    }
    if assigned:
        lifecycle = "assign" if d.text("kind") == "claim" else "reassign"
        occurred_at = d.time_or_event_time("at")
    else:
        lifecycle = _LIFECYCLE[event.type]
        occurred_at = record.ended_at or record.created_at or event.time
    worked = record.state in ("completed", "returned")
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
        lifecycle=lifecycle,
        occurred_at=occurred_at,
        resource=(record.actor if worked else record.assignee) or None,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def _event_id(event: Event) -> uuid.UUID:
    try:
        return uuid.UUID(event.id)
    except ValueError as exc:
        raise PoisonEvent(f"{event.type}: event id {event.id!r} is not a UUID") from exc
