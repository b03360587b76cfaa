"""What the analytics know about an instance or a task, and how a new event changes it.

Events for one instance may arrive late, out of order or more than once. The
merge rules below make the result independent of the arrival order:

1. A finished state (completed, terminated, cancelled) is never replaced by an
   unfinished one, whatever the sequences: an instance that ended does not run
   again, so a late `started` only fills in what is missing.
2. An unfinished state is replaced by a finished one, whatever the sequences.
3. Between two different finished states the newer event (higher `sequence`)
   wins, except where one state refines the other: an instance withdrawn by its
   initiator is also reported terminated, and a task returned to an earlier
   node is also reported cancelled; the refined state (`withdrawn`,
   `returned`) wins in either order.
4. Other attributes come from the newer event when it carries them; an older
   event only fills in what is still unknown. The first action on a task and
   the moment it went overdue are the earliest ones reported.

No I/O here: the repository reads the current record, merges and writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

INSTANCE_FINISHED = frozenset({"completed", "terminated", "withdrawn"})
TASK_FINISHED = frozenset({"completed", "cancelled", "returned"})
# (refined, general): the refined state wins over the general one in either order
_REFINES = {("withdrawn", "terminated"), ("returned", "cancelled")}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    instance_id: uuid.UUID
    definition_key: str
    definition_version: int
    state: str
    sequence: int
    trial: bool
    definition_id: uuid.UUID | None = None
    business_key: str | None = None
    initiator: str | None = None
    department: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    result: str | None = None
    satisfaction: float | None = None

    @property
    def cycle_seconds(self) -> float | None:
        return _seconds_between(self.started_at, self.ended_at)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    task_id: uuid.UUID
    instance_id: uuid.UUID
    definition_key: str
    definition_version: int
    node_id: str
    state: str
    sequence: int
    trial: bool | None
    """None when the event does not say (`task.cancelled`)."""
    name: str | None = None
    department: str | None = None
    assignee: str | None = None
    """'' when the task was explicitly left without an assignee (unclaimed)."""
    candidate_users: tuple[str, ...] = ()
    candidate_roles: tuple[str, ...] = ()
    due_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    first_action_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None
    actor: str | None = None
    outcome: str | None = None
    comment: str | None = None
    end_reason: str | None = None
    returned_to: str | None = None


R = TypeVar("R", InstanceRecord, TaskRecord)

_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (InstanceRecord, TaskRecord)
}


def replaced(record: R, **changes: Any) -> R:
    """`dataclasses.replace` for the records, without its per-field checks (every event
    rebuilds a record or two)."""
    values = {name: getattr(record, name) for name in _FIELD_NAMES[type(record)]}
    values.update(changes)
    return type(record)(**values)


@dataclass(frozen=True, slots=True)
class Applied(Generic[R]):
    """The outcome of applying one event: the record before (None if new) and after."""

    previous: R | None
    record: R


def merge_instance(current: InstanceRecord, incoming: InstanceRecord) -> InstanceRecord:
    newer = incoming.sequence > current.sequence
    takes_state = _takes_over(current.state, incoming.state, newer, INSTANCE_FINISHED)
    ended, other = (incoming, current) if takes_state else (current, incoming)
    same = incoming.state == current.state
    return replaced(
        current,
        state=ended.state,
        sequence=max(current.sequence, incoming.sequence),
        trial=current.trial or incoming.trial,
        definition_id=_pick(current.definition_id, incoming.definition_id, newer),
        business_key=_pick(current.business_key, incoming.business_key, newer),
        initiator=_pick(current.initiator, incoming.initiator, newer),
        department=_pick(current.department, incoming.department, newer),
        started_at=_pick(current.started_at, incoming.started_at, newer),
        ended_at=_first(ended.ended_at, other.ended_at if same else None),
        ended_by=_first(ended.ended_by, other.ended_by if same else None),
        end_reason=_first(ended.end_reason, other.end_reason if same else None),
        result=_first(ended.result, other.result if same else None),
        satisfaction=_pick(current.satisfaction, incoming.satisfaction, newer),
    )


def merge_task(current: TaskRecord, incoming: TaskRecord) -> TaskRecord:
    newer = incoming.sequence > current.sequence
    takes_state = _takes_over(current.state, incoming.state, newer, TASK_FINISHED)
    ended, other = (incoming, current) if takes_state else (current, incoming)
    same = incoming.state == current.state
    return replaced(
        current,
        state=ended.state,
        sequence=max(current.sequence, incoming.sequence),
        trial=bool(current.trial) or bool(incoming.trial),
        node_id=_pick(current.node_id, incoming.node_id, newer),
        name=_pick(current.name, incoming.name, newer),
        department=_pick(current.department, incoming.department, newer),
        assignee=_pick(current.assignee, incoming.assignee, newer),
        candidate_users=_pick_list(current.candidate_users, incoming.candidate_users, newer),
        candidate_roles=_pick_list(current.candidate_roles, incoming.candidate_roles, newer),
        due_at=_pick(current.due_at, incoming.due_at, newer),
        created_at=_pick(current.created_at, incoming.created_at, newer),
        first_action_at=_earliest(current.first_action_at, incoming.first_action_at),
        ended_at=_first(ended.ended_at, other.ended_at if same else None),
        overdue_at=_earliest(current.overdue_at, incoming.overdue_at),
        actor=_first(ended.actor, other.actor if same else None),
        outcome=_first(ended.outcome, other.outcome if same else None),
        comment=_first(ended.comment, other.comment if same else None),
        end_reason=_first(ended.end_reason, other.end_reason if same else None),
        returned_to=_first(ended.returned_to, other.returned_to if same else None),
    )


def _takes_over(current: str, incoming: str, newer: bool, finished: frozenset[str]) -> bool:
    """Whether the incoming event's state replaces the current one (rules 1-3)."""
    if incoming == current:
        return newer
    if (incoming, current) in _REFINES:
        return True
    if (current, incoming) in _REFINES:
        return False
    if current in finished and incoming not in finished:
        return False
    if incoming in finished and current not in finished:
        return True
    return newer


def _pick(current: T | None, incoming: T | None, newer: bool) -> T | None:
    """Rule 4: the newer event's value when it has one, otherwise whatever is known."""
    if newer:
        return incoming if incoming is not None else current
    return current if current is not None else incoming


def _pick_list(current: tuple[str, ...], incoming: tuple[str, ...], newer: bool) -> tuple[str, ...]:
    """Rule 4 for lists, where empty means unknown."""
    return _pick(current or None, incoming or None, newer) or ()


def _first(*values: T | None) -> T | None:
    return next((v for v in values if v is not None), None)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def _seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def fact_values(record: InstanceRecord | TaskRecord) -> dict[str, Any]:
    """The table columns a record sets (the stored sequence is the newest one applied)."""
    row = {name: getattr(record, name) for name in _FIELD_NAMES[type(record)]}
    row["last_sequence"] = row.pop("sequence")
    if isinstance(record, TaskRecord):
        row["candidate_users"] = list(record.candidate_users)
        row["candidate_roles"] = list(record.candidate_roles)
    return row


def instance_from_row(row: Any) -> InstanceRecord:
    return InstanceRecord(
        **{name: row[name] for name in _FIELD_NAMES[InstanceRecord] if name != "sequence"},
        sequence=row["last_sequence"],
    )


def task_from_row(row: Any) -> TaskRecord:
    values = {name: row[name] for name in _FIELD_NAMES[TaskRecord] if name != "sequence"}
    values["candidate_users"] = tuple(values["candidate_users"] or ())
    values["candidate_roles"] = tuple(values["candidate_roles"] or ())
    return TaskRecord(**values, sequence=row["last_sequence"])
