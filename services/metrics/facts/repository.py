"""Reads and writes of the analytical tables. Only reads and writes: the consumer's unit of
work commits.

The runtime's events of one unit of work are applied together (`pending`):
`lock_instances` and `lock_tasks` read the rows they touch, locked in key order (so
replicas consuming at once take them in the same order), and `write` sends every
change in one statement. Rows are dictionaries of column values (`Row`), without
`updated_at`, which nothing here reads.

A row that another replica inserted after it was found missing makes `write` fail with
`RetryLater`: the unit of work is rolled back and its events are handled again (a
consumer batch one event at a time), and then find the row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.events.inbox import RetryLater
from services.metrics.facts import contributions as contrib
from services.metrics.facts import statements as sql
from services.metrics.facts.models import process_models

Row = dict[str, Any]
"""A fact row: column name -> value."""


@dataclasses.dataclass(slots=True)
class Changes:
    """What a unit of work writes: whole fact rows, aggregate rows, log entries.

    An aggregate row (per aggregate table, by its name in `statements.AGGREGATES`) is either
    an addition, summed into the stored row if there is one, or a total that replaces the
    sums of a stored row (read and locked first).
    """

    new_instances: list[Row] = dataclasses.field(default_factory=list)
    changed_instances: list[Row] = dataclasses.field(default_factory=list)
    new_tasks: list[Row] = dataclasses.field(default_factory=list)
    changed_tasks: list[Row] = dataclasses.field(default_factory=list)
    aggregate_additions: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    aggregate_totals: dict[str, list[Row]] = dataclasses.field(default_factory=dict)
    log: list[Row] = dataclasses.field(default_factory=list)


async def lock_instances(
    db: asyncpg.Connection, instance_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """The stored rows of these instances, locked (FOR UPDATE) in key order."""
    if not instance_ids:
        return {}
    records = await db.fetch(sql.LOCK_INSTANCES.sql, sorted(instance_ids))
    return {record["instance_id"]: _row(record) for record in records}


async def lock_tasks(
    db: asyncpg.Connection, task_ids: Collection[uuid.UUID], tasks_of: Collection[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """The stored rows of these tasks and of every task of the instances `tasks_of`, locked
    (FOR UPDATE) in key order. Taken after the instances' rows, as every writer does."""
    if not task_ids and not tasks_of:
        return {}
    records = await db.fetch(sql.LOCK_TASKS.sql, sorted(task_ids), sorted(tasks_of))
    return {record["task_id"]: _row(record) for record in records}


async def lock_aggregates(
    db: asyncpg.Connection, keys: Mapping[str, Collection[tuple[Any, ...]]]
) -> dict[str, dict[tuple[Any, ...], Row]]:
    """The stored rows of these aggregate keys (per aggregate table), locked (FOR UPDATE) in
    key order, by key."""
    found: dict[str, dict[tuple[Any, ...], Row]] = {}
    for name in (contrib.NODE_DAILY, contrib.REASON_DAILY):
        aggregate, wanted = sql.AGGREGATES[name], keys.get(name)
        found[name] = {}
        if not wanted:
            continue
        rows = jsonutil.dumps([dict(zip(aggregate.keys, key, strict=True)) for key in wanted])
        for record in await db.fetch(sql.LOCK_AGGREGATE[name], rows):
            found[name][tuple(record[k] for k in aggregate.keys)] = dict(record.items())
    return found


async def write(db: asyncpg.Connection, changes: Changes) -> None:
    """Write `changes`; `RetryLater` when a new fact row was inserted by someone else first."""
    aggregates: list[str] = []
    for name in (contrib.NODE_DAILY, contrib.REASON_DAILY):
        columns = sql.AGGREGATES[name].columns
        aggregates.append(_json(changes.aggregate_additions.get(name, []), columns))
        aggregates.append(_json(changes.aggregate_totals.get(name, []), columns))
    inserted = await db.fetchrow(
        sql.WRITE,
        _json(changes.new_instances, sql.INSTANCE_COLUMNS),
        _json(changes.changed_instances, sql.INSTANCE_COLUMNS),
        _json(changes.new_tasks, sql.TASK_COLUMNS),
        _json(changes.changed_tasks, sql.TASK_COLUMNS),
        *aggregates,
        _json(changes.log, sql.LOG_COLUMNS),
    )
    assert inserted is not None
    if (inserted["instances"], inserted["tasks"]) != (
        len(changes.new_instances),
        len(changes.new_tasks),
    ):
        raise RetryLater("a fact row was inserted by another consumer meanwhile")


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


def _row(record: asyncpg.Record) -> Row:
    return {name: value for name, value in record.items() if name != "updated_at"}


def _json(rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...]) -> str:
    """The rows as a JSON array of objects with exactly `columns` (a missing one is an error)."""
    return json.dumps(
        [{c: row[c] for c in columns} for row in rows],
        default=_json_value,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _json_value(value: Any) -> Any:
    """What PostgreSQL reads back as the same value: ISO 8601 times with their offset (UTC
    when they have none) and dates, UUIDs as text; anything else as `jsonutil` writes it."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return jsonutil.jsonable(value)
