"""Writes to the analytical tables. Only flushes: the consumer's unit of work commits.

A record is applied in steps that are safe with several replicas consuming at
once: lock the row if it exists, otherwise insert it (`ON CONFLICT DO
NOTHING`, and lock it after all if another replica inserted it first), merge,
and write the merged record back with its measures. A task row's change is
carried into the daily aggregates in the same transaction (`contributions`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import groupby
from typing import Any, Generic, TypeVar

from sqlalchemy import RowMapping, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts import contributions as contrib
from services.metrics.facts.measures import CalendarSource, instance_measures, task_measures
from services.metrics.facts.models import (
    event_log,
    instance_facts,
    node_daily,
    process_models,
    reason_daily,
    task_facts,
)
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
Measures = Callable[[R, Mapping[str, Any] | None, CalendarSource], Awaitable[dict[str, Any]]]

AGGREGATES: dict[str, tuple[Table, tuple[str, ...]]] = {
    contrib.NODE_DAILY: (node_daily, contrib.NODE_MEASURES),
    contrib.REASON_DAILY: (reason_daily, contrib.REASON_MEASURES),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Written(Generic[R]):
    """A record applied: what the event changed, and the table row before and after."""

    applied: Applied[R]
    before: RowMapping | None
    after: RowMapping


async def apply_instance(
    session: AsyncSession, incoming: InstanceRecord, calendar: CalendarSource
) -> Applied[InstanceRecord]:
    written = await _apply(
        session,
        instance_facts,
        incoming,
        instance_from_row,
        merge_instance,
        instance_measures,
        calendar,
    )
    department = written.after["department"]
    if department is not None and (
        written.before is None or written.before["department"] != department
    ):
        await _set_task_department(session, incoming.instance_id, department)
    return written.applied


async def apply_task(
    session: AsyncSession, incoming: TaskRecord, calendar: CalendarSource
) -> Applied[TaskRecord]:
    if incoming.trial is None or incoming.department is None:
        incoming = await _with_instance_context(session, incoming)
    written = await _apply(
        session, task_facts, incoming, task_from_row, merge_task, task_measures, calendar
    )
    await _carry_into_aggregates(session, written.before, written.after)
    return written.applied


async def instance_identity(session: AsyncSession, instance_id: Any) -> tuple[str, int] | None:
    """The process key and version of a known instance."""
    i = instance_facts.c
    row = (
        await session.execute(
            select(i.definition_key, i.definition_version).where(i.instance_id == instance_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def append_log(session: AsyncSession, entry: LogEntry) -> bool:
    """Append an event-log entry; False when the same fact is already logged."""
    values = dataclasses.asdict(entry)
    written = await session.execute(
        insert(event_log).values(values).on_conflict_do_nothing().returning(event_log.c.position)
    )
    return written.first() is not None


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


async def _apply(
    session: AsyncSession,
    table: Table,
    incoming: R,
    from_row: Callable[[RowMapping], R],
    merge: Callable[[R, R], R],
    measures: Measures[R],
    calendar: CalendarSource,
) -> Written[R]:
    """Lock the record's row (inserting it if new), merge, and write the result back."""
    key = table.primary_key.columns.values()[0]
    key_value = getattr(incoming, key.name)
    before = await _locked(session, table, key, key_value)
    if before is None:
        values = {**fact_values(incoming), **await measures(incoming, None, calendar)}
        created = await session.execute(
            insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=[key])
            .returning(table)
        )
        after = created.mappings().first()
        if after is not None:
            return Written(Applied(previous=None, record=incoming), None, after)
        before = await _locked(session, table, key, key_value)  # another replica was first
        assert before is not None
    current = from_row(before)
    merged = merge(current, incoming)
    if merged == current:
        return Written(Applied(previous=current, record=current), before, before)
    values = {**fact_values(merged), **await measures(merged, before, calendar)}
    updated = await session.execute(
        update(table)
        .where(key == key_value)
        .values(**values, updated_at=func.now())
        .returning(table)
    )
    return Written(Applied(previous=current, record=merged), before, updated.mappings().one())


async def _locked(session: AsyncSession, table: Table, key: Any, value: Any) -> RowMapping | None:
    result = await session.execute(select(table).where(key == value).with_for_update())
    return result.mappings().one_or_none()


async def _with_instance_context(session: AsyncSession, task: TaskRecord) -> TaskRecord:
    """Fill in what a task event does not say from its instance: trial flag, department."""
    i = instance_facts.c
    row = (
        await session.execute(
            select(i.trial, i.department).where(i.instance_id == task.instance_id)
        )
    ).first()
    trial = task.trial if task.trial is not None else bool(row and row.trial)
    department = task.department if task.department is not None else (row and row.department)
    return dataclasses.replace(task, trial=trial, department=department or None)


async def _set_task_department(session: AsyncSession, instance_id: Any, department: str) -> None:
    """Give the instance's tasks its department (tasks may have arrived before the instance)."""
    t = task_facts.c
    rows = (
        (
            await session.execute(
                select(task_facts)
                .where(t.instance_id == instance_id, t.department.is_distinct_from(department))
                .order_by(t.task_id)
                .with_for_update()
            )
        )
        .mappings()
        .all()
    )
    for before in rows:
        after = (
            (
                await session.execute(
                    update(task_facts)
                    .where(t.task_id == before["task_id"])
                    .values(department=department, updated_at=func.now())
                    .returning(task_facts)
                )
            )
            .mappings()
            .one()
        )
        await _carry_into_aggregates(session, before, after)


async def _carry_into_aggregates(
    session: AsyncSession, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> None:
    if before is after:
        return
    old = contrib.task_contributions(before) if before is not None else []
    changes = contrib.delta(old, contrib.task_contributions(after))
    for table_name, group in groupby(changes, key=lambda c: c.table):
        await add_to_aggregate(session, table_name, list(group))


async def add_to_aggregate(
    session: AsyncSession, table_name: str, changes: Sequence[contrib.Contribution]
) -> None:
    """Add contributions to one aggregate table (one row per key, measures summed)."""
    table, measures = AGGREGATES[table_name]
    key_columns = [c.name for c in table.primary_key.columns]
    rows = []
    for change in changes:
        row: dict[str, Any] = dict(zip(key_columns, change.key, strict=True))
        row.update({m: change.values.get(m, 0) for m in measures})
        if "name" in table.c:
            row["name"] = change.name
        rows.append(row)
    stmt = insert(table).values(rows)
    updates: dict[str, Any] = {m: table.c[m] + stmt.excluded[m] for m in measures}
    if "name" in table.c:
        updates["name"] = func.coalesce(stmt.excluded["name"], table.c["name"])
    await session.execute(stmt.on_conflict_do_update(index_elements=key_columns, set_=updates))
