"""The event handlers' statements: SQLAlchemy Core, compiled once at import, run by asyncpg.

Every runtime event passes through the handlers, several statements each, so
this is the service's hottest code. Building a Core statement and executing it
through the session costs several times what asyncpg needs to run it (statement
construction, cache keys, parameter and result processing; see
`bpm_common.db.driver_connection`). So the statements are written here with
Core, as everywhere else, compiled for asyncpg once, and sent to the session's
own asyncpg connection with positional parameters; asyncpg keeps them prepared.
They share the consumer's transaction and commit or roll back with it.

Parameters go to asyncpg as they are: booleans, UUIDs, aware datetimes, lists
for arrays, JSON as text (`jsonutil.dumps`). Rows come back as asyncpg records,
which read like mappings (`row["state"]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Table, Uuid, bindparam, func, select, true, update
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql import ClauseElement

from services.metrics.facts import contributions as contrib
from services.metrics.facts.models import (
    event_log,
    instance_facts,
    node_daily,
    reason_daily,
    task_facts,
)

_DIALECT = asyncpg_dialect.dialect()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A compiled statement: its SQL and the names of its positional parameters, in order."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, statement: Executable) -> Prepared:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=_DIALECT)
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters, taken by name from `values`."""
        return [values[name] for name in self.names]


def _written_columns(table: Table) -> list[str]:
    """The columns an event sets: all but the ones the database fills in."""
    return [c.name for c in table.c if c.name not in ("updated_at", "position", "recorded_at")]


@dataclass(frozen=True, slots=True)
class FactStatements:
    """Lock, insert and update of one fact table, keyed by its single-column primary key."""

    key: str
    lock: Prepared
    """The row, locked (FOR UPDATE); parameter: the key."""
    insert: Prepared
    """Insert unless present (ON CONFLICT DO NOTHING), returning true when inserted."""
    update: Prepared
    """Every written column and `updated_at`; the key is the parameter `where_key`."""

    @classmethod
    def of(cls, table: Table) -> FactStatements:
        key = table.primary_key.columns.values()[0]
        columns = _written_columns(table)
        return cls(
            key=key.name,
            lock=Prepared.of(select(table).where(key == bindparam(key.name)).with_for_update()),
            insert=Prepared.of(
                insert(table)
                .values({c: bindparam(c) for c in columns})
                .on_conflict_do_nothing(index_elements=[key])
                .returning(true())
            ),
            update=Prepared.of(
                update(table)
                .where(key == bindparam("where_key"))
                .values({c: bindparam(c) for c in columns if c != key.name})
                .values(updated_at=func.now())
            ),
        )


INSTANCES = FactStatements.of(instance_facts)
TASKS = FactStatements.of(task_facts)


def _task_with_instance() -> Prepared:
    """A task's row, locked (its columns all null when the task is new), with the trial flag
    and department of its instance (null when the instance is not known yet): what a task
    event needs before merging, in one round trip."""
    t, i = task_facts, instance_facts
    locked = select(t).where(t.c.task_id == bindparam("task_id")).with_for_update().cte("task")
    wanted = select(bindparam("instance_id", type_=Uuid).label("instance_id")).subquery("wanted")
    return Prepared.of(
        select(
            locked,
            i.c.trial.label("instance_trial"),
            i.c.department.label("instance_department"),
        ).select_from(
            wanted.outerjoin(i, i.c.instance_id == wanted.c.instance_id).outerjoin(locked, true())
        )
    )


TASK_WITH_INSTANCE = _task_with_instance()

INSTANCE_IDENTITY = Prepared.of(
    select(instance_facts.c.definition_key, instance_facts.c.definition_version).where(
        instance_facts.c.instance_id == bindparam("instance_id")
    )
)

# the tasks of an instance whose department differs from the given one, locked in key order
TASKS_OF_OTHER_DEPARTMENT = Prepared.of(
    select(task_facts)
    .where(
        task_facts.c.instance_id == bindparam("instance_id"),
        task_facts.c.department.is_distinct_from(bindparam("department")),
    )
    .order_by(task_facts.c.task_id)
    .with_for_update()
)

SET_TASK_DEPARTMENT = Prepared.of(
    update(task_facts)
    .where(task_facts.c.task_id == bindparam("where_key"))
    .values(department=bindparam("department"), updated_at=func.now())
)

LOG_COLUMNS = tuple(_written_columns(event_log))
APPEND_LOG = Prepared.of(
    # inline: no RETURNING of the generated position, which nothing reads
    insert(event_log).values({c: bindparam(c) for c in LOG_COLUMNS}).on_conflict_do_nothing().inline()
)


@dataclass(frozen=True, slots=True)
class AggregateStatement:
    """Add one row of measures to an aggregate table (summed into an existing row)."""

    keys: tuple[str, ...]
    measures: tuple[str, ...]
    has_name: bool
    upsert: Prepared


def _aggregate(table: Table, measures: tuple[str, ...]) -> AggregateStatement:
    keys = tuple(c.name for c in table.primary_key.columns)
    has_name = "name" in table.c
    columns = [*keys, *measures, *(["name"] if has_name else [])]
    stmt = insert(table).values({c: bindparam(c) for c in columns})
    updates: dict[str, Any] = {m: table.c[m] + stmt.excluded[m] for m in measures}
    if has_name:
        updates["name"] = func.coalesce(stmt.excluded["name"], table.c["name"])
    upsert = Prepared.of(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates))
    return AggregateStatement(keys, measures, has_name, upsert)


AGGREGATES: dict[str, AggregateStatement] = {
    contrib.NODE_DAILY: _aggregate(node_daily, contrib.NODE_MEASURES),
    contrib.REASON_DAILY: _aggregate(reason_daily, contrib.REASON_MEASURES),
}
