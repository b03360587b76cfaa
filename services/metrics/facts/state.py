"""The fact rows a unit of work's events touch, changed in memory one event after another.

The rules are those of applying each event on its own:

- A record is merged into its row (`records`), the row's measures are worked out
  (`measures`) and the row is written, unless the merge changed nothing; a record
  without a row becomes one.
- A task event leaves out what its instance knows (trial flag, department): the
  instance's row as it is then fills it in.
- An instance's department reaches its tasks, also those that arrived before it.
- A task row's change is carried into the daily aggregates (`contributions`).

Every event sees the rows as the earlier events of the unit of work left them, as it
would have in the tables, so the rows written at the end (`changes`) are the ones the
events would have left one by one. The changes to the aggregates are kept in the
order they happened, so that their sums are added up in that order too.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Generic, TypeVar

from services.metrics.facts import contributions as contrib
from services.metrics.facts import statements as sql
from services.metrics.facts.measures import CalendarSource, instance_measures, task_measures
from services.metrics.facts.parsing import LogEntry
from services.metrics.facts.records import (
    Applied,
    InstanceRecord,
    TaskRecord,
    fact_values,
    instance_from_row,
    merge_instance,
    merge_task,
    replaced,
    task_from_row,
)
from services.metrics.facts.repository import Changes, Row

R = TypeVar("R", InstanceRecord, TaskRecord)
Measures = Callable[[R, Row | None, CalendarSource], Awaitable[dict[str, Any]]]


@dataclasses.dataclass(frozen=True, slots=True)
class FactTable(Generic[R]):
    """How records of one kind are keyed, read from a row, merged and measured."""

    key: str
    from_row: Callable[[Row], R]
    merge: Callable[[R, R], R]
    measures: Measures[R]


INSTANCE_TABLE = FactTable("instance_id", instance_from_row, merge_instance, instance_measures)
TASK_TABLE = FactTable("task_id", task_from_row, merge_task, task_measures)


@dataclasses.dataclass(frozen=True, slots=True)
class Written(Generic[R]):
    """A record applied: what the event changed, and the row before and after (the same
    object when nothing changed)."""

    applied: Applied[R]
    before: Row | None
    after: Row


class Rows:
    """One fact table's rows: as stored, as the events so far left them, which they wrote."""

    def __init__(self, stored: dict[uuid.UUID, Row]) -> None:
        self.stored = stored
        self.current: dict[uuid.UUID, Row] = dict(stored)
        self._written: set[uuid.UUID] = set()

    def get(self, key: uuid.UUID) -> Row | None:
        return self.current.get(key)

    def put(self, key: uuid.UUID, row: Row) -> None:
        self.current[key] = row
        self._written.add(key)

    def new_and_changed(self) -> tuple[list[Row], list[Row]]:
        """The written rows that are not stored yet and those that are, in key order."""
        new, changed = [], []
        for key in sorted(self._written):
            (changed if key in self.stored else new).append(self.current[key])
        return new, changed


class FactState:
    """The rows a unit of work's events touch (read once, locked), changed event by event.

    `tasks_of` are the instances all of whose task rows are among the stored ones: those
    whose department an event of the unit of work may change.
    """

    def __init__(
        self,
        instances: dict[uuid.UUID, Row],
        tasks: dict[uuid.UUID, Row],
        tasks_of: Collection[uuid.UUID],
        calendar: CalendarSource,
    ) -> None:
        self.instances, self.tasks = Rows(instances), Rows(tasks)
        self._tasks_of = frozenset(tasks_of)
        self._calendar = calendar
        self._additions: list[tuple[str, tuple[Any, ...], Row]] = []
        self._log: list[tuple[LogEntry, bool]] = []

    def identity(self, instance_id: uuid.UUID) -> tuple[str, int] | None:
        """The process key and version of a known instance."""
        row = self.instances.get(instance_id)
        return None if row is None else (row["definition_key"], row["definition_version"])

    async def apply_instance(self, incoming: InstanceRecord) -> Applied[InstanceRecord]:
        written = await self._apply(INSTANCE_TABLE, self.instances, incoming)
        department = written.after["department"]
        if department is not None and (
            written.before is None or written.before["department"] != department
        ):
            self._set_task_department(incoming.instance_id, department)
        return written.applied

    async def apply_task(self, incoming: TaskRecord) -> Applied[TaskRecord]:
        if incoming.trial is None or incoming.department is None:
            instance = self.instances.get(incoming.instance_id)
            incoming = _with_instance_context(
                incoming,
                None if instance is None else instance["trial"],
                None if instance is None else instance["department"],
            )
        written = await self._apply(TASK_TABLE, self.tasks, incoming)
        self._carry_into_aggregates(written.before, written.after)
        return written.applied

    def log(self, entry: LogEntry, *, trial: bool) -> None:
        """Append an event-log entry with the trial flag of the applied record (unless the
        same fact is logged already, which the table sees to)."""
        self._log.append((entry, trial))

    def repeated_aggregate_keys(self) -> dict[str, list[tuple[Any, ...]]]:
        """The aggregate keys (per aggregate table) the events added to more than once.

        One addition per key and statement: the stored rows of these keys are read (and
        locked) for `changes`, which adds their changes up in the order of the events, as
        that many statements would have."""
        repeated: dict[str, list[tuple[Any, ...]]] = {}
        for (table, key), rows in self._additions_per_key().items():
            if len(rows) > 1:
                repeated.setdefault(table, []).append(key)
        return repeated

    def changes(self, stored: Mapping[str, Mapping[tuple[Any, ...], Row]]) -> Changes:
        """What to write: the rows the events wrote (new and changed, in key order), the
        aggregate rows (in key order, the order they are locked in), the log entries.

        `stored`: the stored aggregate rows of the `repeated_aggregate_keys`."""
        changes = Changes()
        changes.new_instances, changes.changed_instances = self.instances.new_and_changed()
        changes.new_tasks, changes.changed_tasks = self.tasks.new_and_changed()
        additions = self._additions_per_key()
        for table, key in sorted(additions, key=lambda table_key: _lock_order(*table_key)):
            row = stored.get(table, {}).get(key)
            total = _added_up(sql.AGGREGATES[table], row, additions[(table, key)])
            # a total of a stored row replaces it; otherwise it is added (to a row another
            # replica may have inserted meanwhile)
            target = changes.aggregate_totals if row is not None else changes.aggregate_additions
            target.setdefault(table, []).append(total)
        changes.log = [{**_log_row(entry), "trial": trial} for entry, trial in self._log]
        return changes

    def _additions_per_key(self) -> dict[tuple[str, tuple[Any, ...]], list[Row]]:
        """The additions to the aggregates per (table, key), each key's in the order made."""
        per_key: dict[tuple[str, tuple[Any, ...]], list[Row]] = {}
        for table, key, row in self._additions:
            per_key.setdefault((table, key), []).append(row)
        return per_key

    async def _apply(self, table: FactTable[R], rows: Rows, incoming: R) -> Written[R]:
        """Insert the record if it has no row, otherwise merge it in and write it back."""
        key = getattr(incoming, table.key)
        before = rows.get(key)
        if before is None:
            values = {**fact_values(incoming), **await table.measures(incoming, None, self._calendar)}
            rows.put(key, values)
            return Written(Applied(previous=None, record=incoming), None, values)
        current = table.from_row(before)
        merged = table.merge(current, incoming)
        if merged == current:
            return Written(Applied(previous=current, record=current), before, before)
        values = {**fact_values(merged), **await table.measures(merged, before, self._calendar)}
        rows.put(key, values)
        return Written(Applied(previous=current, record=merged), before, values)

    def _set_task_department(self, instance_id: uuid.UUID, department: str) -> None:
        """Give the instance's tasks its department (tasks may have arrived before the instance)."""
        if instance_id not in self._tasks_of:
            raise RuntimeError(f"the tasks of instance {instance_id} were not read")
        befores = sorted(
            (
                row
                for row in self.tasks.current.values()
                if row["instance_id"] == instance_id and row["department"] != department
            ),
            key=lambda row: row["task_id"],
        )
        for before in befores:
            after = {**before, "department": department}
            self.tasks.put(before["task_id"], after)
            self._carry_into_aggregates(before, after)

    def _carry_into_aggregates(self, before: Row | None, after: Row) -> None:
        if before is after:
            return
        old = contrib.task_contributions(before) if before is not None else []
        new = contrib.task_contributions(after)
        if not old and not new:  # a task that has not ended worked adds nothing
            return
        for change in contrib.delta(old, new):
            aggregate = sql.AGGREGATES[change.table]
            row: Row = dict(zip(aggregate.keys, change.key, strict=True))
            row.update({m: change.values.get(m, 0) for m in aggregate.measures})
            if aggregate.has_name:
                row["name"] = change.name
            self._additions.append((change.table, change.key, row))


def _with_instance_context(
    task: TaskRecord, instance_trial: bool | None, instance_department: str | None
) -> TaskRecord:
    """Fill in what a task event does not say from its instance: trial flag, department."""
    trial = task.trial if task.trial is not None else bool(instance_trial)
    department = task.department if task.department is not None else instance_department
    department = department or None
    if trial == task.trial and department == task.department:
        return task
    return replaced(task, trial=trial, department=department)


def _log_row(entry: LogEntry) -> Row:
    return {c: getattr(entry, c) for c in sql.LOG_COLUMNS}


def _added_up(aggregate: sql.Aggregate, stored: Row | None, additions: list[Row]) -> Row:
    """The aggregate row after `additions`, one after another, to the `stored` one (or to
    none): what as many upserts would leave (sums added in the same order, so the same
    floating-point result; a name kept unless a new one is given)."""
    total = dict(stored) if stored is not None else None
    for addition in additions:
        if total is None:
            total = dict(addition)
            continue
        for measure in aggregate.measures:
            total[measure] = total[measure] + addition[measure]
        if aggregate.has_name and addition["name"] is not None:
            total["name"] = addition["name"]
    assert total is not None
    return total


def _lock_order(table: str, key: tuple[Any, ...]) -> tuple[str, tuple[str, ...]]:
    """The order aggregate rows are added in (and locked in), as `contributions.delta` sorts."""
    return table, tuple(str(part) for part in key)
