"""Writes to the analytical tables. Only writes: the consumer's unit of work commits.

A record is applied in steps that are safe with several replicas consuming at
once: lock the row if it exists, otherwise insert it (`ON CONFLICT DO
NOTHING`, and lock it after all if another replica inserted it first), merge,
and write the merged record back with its measures. A task row's change is
carried into the daily aggregates in the same transaction (`contributions`).

Every runtime event comes through here, so the statements are compiled once
and run on the session's asyncpg connection (`statements`), and what the
database would only echo back is not asked for: the row written is the values
sent (all its columns but `updated_at`, which nothing here reads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from itertools import groupby
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import driver_connection
from services.metrics.facts import contributions as contrib
from services.metrics.facts import statements as sql
from services.metrics.facts.measures import CalendarSource, instance_measures, task_measures
from services.metrics.facts.models import process_models
from services.metrics.facts.parsing import LogEntry
from services.metrics.facts.records import (
    Applied,
    InstanceRecord,
    TaskRecord,
    fact_values,
    instance_from_row,
    merge_instance,
    merge_task,
    task_from_row,
)

R = TypeVar("R", InstanceRecord, TaskRecord)
Row = Mapping[str, Any]
Measures = Callable[[R, Row | None, CalendarSource], Awaitable[dict[str, Any]]]


@dataclasses.dataclass(frozen=True, slots=True)
class FactTable(Generic[R]):
    """How records of one kind are read, merged, measured and written."""

    statements: sql.FactStatements
    from_row: Callable[[Row], R]
    merge: Callable[[R, R], R]
    measures: Measures[R]


INSTANCE_TABLE = FactTable(sql.INSTANCES, instance_from_row, merge_instance, instance_measures)
TASK_TABLE = FactTable(sql.TASKS, task_from_row, merge_task, task_measures)


@dataclasses.dataclass(frozen=True, slots=True)
class Written(Generic[R]):
    """A record applied: what the event changed, and the table row before and after."""

    applied: Applied[R]
    before: Row | None
    after: Row


async def apply_instance(
    session: AsyncSession, incoming: InstanceRecord, calendar: CalendarSource
) -> Applied[InstanceRecord]:
    db = await driver_connection(session)
    before = await _fetch(db, sql.INSTANCES.lock, {"instance_id": incoming.instance_id})
    written = await _apply(db, INSTANCE_TABLE, incoming, before, calendar)
    department = written.after["department"]
    if department is not None and (
        written.before is None or written.before["department"] != department
    ):
        await _set_task_department(db, incoming.instance_id, department)
    return written.applied


async def apply_task(
    session: AsyncSession, incoming: TaskRecord, calendar: CalendarSource
) -> Applied[TaskRecord]:
    db = await driver_connection(session)
    # the task's row and its instance's context in one round trip
    found = await _fetch(
        db,
        sql.TASK_WITH_INSTANCE,
        {"task_id": incoming.task_id, "instance_id": incoming.instance_id},
    )
    assert found is not None  # one row whether or not the task and the instance exist
    if incoming.trial is None or incoming.department is None:
        incoming = _with_instance_context(
            incoming, found["instance_trial"], found["instance_department"]
        )
    before = found if found["task_id"] is not None else None
    written = await _apply(db, TASK_TABLE, incoming, before, calendar)
    await _carry_into_aggregates(db, written.before, written.after)
    return written.applied


async def instance_identity(session: AsyncSession, instance_id: Any) -> tuple[str, int] | None:
    """The process key and version of a known instance."""
    db = await driver_connection(session)
    row = await _fetch(db, sql.INSTANCE_IDENTITY, {"instance_id": instance_id})
    return None if row is None else (row["definition_key"], row["definition_version"])


async def append_log(session: AsyncSession, entry: LogEntry) -> None:
    """Append an event-log entry, unless the same fact is already logged."""
    values = {name: getattr(entry, name) for name in sql.LOG_COLUMNS}
    values["attributes"] = jsonutil.dumps(values["attributes"])
    db = await driver_connection(session)
    await db.execute(sql.APPEND_LOG.sql, *sql.APPEND_LOG.args(values))


async def save_model(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the BPMN of a published version (a newer event about it wins)."""
    stmt = insert(process_models).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[process_models.c.definition_key, process_models.c.definition_version],
            set_={
                k: stmt.excluded[k]
                for k in values
                if k not in ("definition_key", "definition_version")
            },
            where=process_models.c.last_sequence <= stmt.excluded.last_sequence,
        )
    )


async def _fetch(
    db: asyncpg.Connection, statement: sql.Prepared, values: Row
) -> asyncpg.Record | None:
    return await db.fetchrow(statement.sql, *statement.args(values))


async def _apply(
    db: asyncpg.Connection,
    table: FactTable[R],
    incoming: R,
    before: Row | None,
    calendar: CalendarSource,
) -> Written[R]:
    """Insert the record if it has no row (`before`, locked), otherwise merge and write back."""
    statements = table.statements
    if before is None:
        values = {**fact_values(incoming), **await table.measures(incoming, None, calendar)}
        if await db.fetchval(statements.insert.sql, *statements.insert.args(values)):
            return Written(Applied(previous=None, record=incoming), None, values)
        # another replica inserted it first
        before = await _fetch(db, statements.lock, {statements.key: values[statements.key]})
        assert before is not None
    current = table.from_row(before)
    merged = table.merge(current, incoming)
    if merged == current:
        return Written(Applied(previous=current, record=current), before, before)
    values = {**fact_values(merged), **await table.measures(merged, before, calendar)}
    values["where_key"] = values[statements.key]
    await db.execute(statements.update.sql, *statements.update.args(values))
    return Written(Applied(previous=current, record=merged), before, values)


def _with_instance_context(
    task: TaskRecord, instance_trial: bool | None, instance_department: str | None
) -> TaskRecord:
    """Fill in what a task event does not say from its instance: trial flag, department."""
    trial = task.trial if task.trial is not None else bool(instance_trial)
    department = task.department if task.department is not None else instance_department
    return dataclasses.replace(task, trial=trial, department=department or None)


async def _set_task_department(db: asyncpg.Connection, instance_id: Any, department: str) -> None:
    """Give the instance's tasks its department (tasks may have arrived before the instance)."""
    rows = await db.fetch(
        sql.TASKS_OF_OTHER_DEPARTMENT.sql,
        *sql.TASKS_OF_OTHER_DEPARTMENT.args({"instance_id": instance_id, "department": department}),
    )
    for before in rows:
        after = {**before, "department": department}
        await db.execute(
            sql.SET_TASK_DEPARTMENT.sql,
            *sql.SET_TASK_DEPARTMENT.args({"where_key": before["task_id"], "department": department}),
        )
        await _carry_into_aggregates(db, before, after)


async def _carry_into_aggregates(db: asyncpg.Connection, before: Row | None, after: Row) -> None:
    if before is after:
        return
    old = contrib.task_contributions(before) if before is not None else []
    new = contrib.task_contributions(after)
    if not old and not new:  # a task that has not ended worked adds nothing
        return
    for table_name, group in groupby(contrib.delta(old, new), key=lambda c: c.table):
        await _add_to_aggregate(db, sql.AGGREGATES[table_name], list(group))


async def _add_to_aggregate(
    db: asyncpg.Connection, table: sql.AggregateStatement, changes: list[contrib.Contribution]
) -> None:
    """Add contributions to one aggregate table (one row per key, measures summed)."""
    rows = []
    for change in changes:
        row: dict[str, Any] = dict(zip(table.keys, change.key, strict=True))
        row.update({m: change.values.get(m, 0) for m in table.measures})
        if table.has_name:
            row["name"] = change.name
        rows.append(table.upsert.args(row))
    # the keys differ and come sorted, so rows are locked in the same order by every replica
    if len(rows) == 1:
        await db.execute(table.upsert.sql, *rows[0])
    else:
        await db.executemany(table.upsert.sql, rows)
