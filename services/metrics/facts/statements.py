"""The statements that apply a unit of work's events: compiled once at import, run by asyncpg.

Every runtime event passes through here, so this is the service's hottest code.
The events of one unit of work (a consumer batch) are applied together (see
`pending`): their rows are read and locked with two statements (`LOCK_INSTANCES`,
`LOCK_TASKS`; `LOCK_AGGREGATE` too for aggregate rows they change more than once),
and everything they change is written with one (`WRITE`), whatever the number of
events. The reads are SQLAlchemy Core, compiled for asyncpg once;
they are sent to the session's own asyncpg connection with positional parameters
(asyncpg keeps them prepared) and share the consumer's transaction.

The writes take their rows as one JSON array per table (`json_populate_recordset`
with the table's own row type), so a single prepared statement serves any number
of rows of any table; values are sent as `jsonutil.dumps` writes them (UTC times,
floats in their shortest exact form), which PostgreSQL reads back to the same
values. Rows come back as asyncpg records, which read like mappings
(`row["state"]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Executable, Table, Uuid, any_, bindparam, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
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
_QUOTE = postgresql.dialect().identifier_preparer


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


def written_columns(table: Table) -> tuple[str, ...]:
    """The columns an event sets: all but the ones the database fills in."""
    return tuple(
        c.name for c in table.c if c.name not in ("updated_at", "position", "recorded_at")
    )


INSTANCE_COLUMNS = written_columns(instance_facts)
TASK_COLUMNS = written_columns(task_facts)
LOG_COLUMNS = written_columns(event_log)

_IDS = ARRAY(Uuid)

# the rows of the given instances, locked in key order
LOCK_INSTANCES = Prepared.of(
    select(instance_facts)
    .where(instance_facts.c.instance_id == any_(bindparam("instance_ids", type_=_IDS)))
    .order_by(instance_facts.c.instance_id)
    .with_for_update()
)

# the rows of the given tasks and of every task of the given instances, locked in key order
LOCK_TASKS = Prepared.of(
    select(task_facts)
    .where(
        or_(
            task_facts.c.task_id == any_(bindparam("task_ids", type_=_IDS)),
            task_facts.c.instance_id == any_(bindparam("instance_ids", type_=_IDS)),
        )
    )
    .order_by(task_facts.c.task_id)
    .with_for_update()
)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """An aggregate table: its key columns, its summed measures, whether it keeps a name."""

    table: Table
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    has_name: bool

    @classmethod
    def of(cls, table: Table, measures: tuple[str, ...]) -> Aggregate:
        keys = tuple(c.name for c in table.primary_key.columns)
        return cls(table, keys, measures, "name" in table.c)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.keys, *self.measures, *(("name",) if self.has_name else ()))


AGGREGATES: dict[str, Aggregate] = {
    contrib.NODE_DAILY: Aggregate.of(node_daily, contrib.NODE_MEASURES),
    contrib.REASON_DAILY: Aggregate.of(reason_daily, contrib.REASON_MEASURES),
}


def _q(name: str) -> str:
    return _QUOTE.quote(name)


def _rows(table: Table, parameter: int) -> str:
    """The rows of a JSON array parameter as rows of `table`, with their position in it."""
    return f"json_populate_recordset(NULL::{_q(table.name)}, ${parameter}::json) WITH ORDINALITY AS v"


def _insert(table: Table, columns: tuple[str, ...], parameter: int) -> str:
    """INSERT the rows of a JSON array parameter, in their order."""
    names = ", ".join(_q(c) for c in columns)
    values = ", ".join(f"v.{_q(c)}" for c in columns)
    return (
        f"INSERT INTO {_q(table.name)} ({names}) "  # noqa: S608 - names from the table metadata
        f"SELECT {values} FROM {_rows(table, parameter)} ORDER BY v.ordinality"
    )


def _update(table: Table, columns: tuple[str, ...], parameter: int) -> str:
    """UPDATE the rows named by the key of each row of a JSON array parameter to its values.

    The rows are found by their key in the key's index (`= ANY` of the keys): PostgreSQL
    guesses a hundred rows for any JSON array, and joining that many by hash reads the
    whole fact table, which only grows.
    """
    key = _q(table.primary_key.columns.values()[0].name)
    sets = ", ".join(f"{_q(c)} = v.{_q(c)}" for c in columns if _q(c) != key)
    keys = f"ARRAY(SELECT k.{key} FROM json_populate_recordset(NULL::{_q(table.name)}, ${parameter}::json) AS k)"  # noqa: S608
    return (
        f"UPDATE {_q(table.name)} AS t SET {sets}, updated_at = now() "  # noqa: S608 - as above
        f"FROM {_rows(table, parameter)} WHERE t.{key} = v.{key} AND t.{key} = ANY({keys})"
    )


def _add(aggregate: Aggregate, parameter: int) -> str:
    """Add the rows of a JSON array parameter to an aggregate table: summed into an existing
    row, whose name is kept unless a new one is given. One row per key at most."""
    table = _q(aggregate.table.name)
    updates = [f"{_q(m)} = {table}.{_q(m)} + excluded.{_q(m)}" for m in aggregate.measures]
    if aggregate.has_name:
        updates.append(f"name = coalesce(excluded.name, {table}.name)")
    keys = ", ".join(_q(k) for k in aggregate.keys)
    return (
        f"{_insert(aggregate.table, aggregate.columns, parameter)} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(updates)}"
    )


def _set(aggregate: Aggregate, parameter: int) -> str:
    """Set existing aggregate rows to the totals of a JSON array parameter (rows found by key)."""
    values = [*aggregate.measures, *(("name",) if aggregate.has_name else ())]
    sets = ", ".join(f"{_q(c)} = v.{_q(c)}" for c in values)
    keys = " AND ".join(f"t.{_q(k)} = v.{_q(k)}" for k in aggregate.keys)
    return (
        f"UPDATE {_q(aggregate.table.name)} AS t SET {sets} "  # noqa: S608 - names from the table metadata
        f"FROM {_rows(aggregate.table, parameter)} WHERE {keys}"
    )


def _lock(aggregate: Aggregate) -> str:
    """The aggregate rows of the keys in a JSON array parameter ($1), locked in key order."""
    table, keys = _q(aggregate.table.name), ", ".join(_q(k) for k in aggregate.keys)
    return (
        f"SELECT {', '.join(_q(c) for c in aggregate.columns)} FROM {table} "  # noqa: S608 - as above
        f"WHERE ({keys}) IN (SELECT {keys} FROM json_populate_recordset(NULL::{table}, $1::json)) "
        f"ORDER BY {keys} FOR UPDATE"
    )


LOCK_AGGREGATE = {name: _lock(aggregate) for name, aggregate in AGGREGATES.items()}


def _write() -> str:
    """Every change of a unit of work in one statement; answers how many new fact rows went in.

    Parameters (JSON arrays of rows): $1 new instances, $2 changed instances, $3 new tasks,
    $4 changed tasks, $5 additions to node_daily and $6 node_daily totals, $7 and $8 the same
    for reason_daily, $9 event-log entries. The parts touch different rows, so it does not
    matter that they all see the tables as they were before the statement.
    """
    nodes, reasons = AGGREGATES[contrib.NODE_DAILY], AGGREGATES[contrib.REASON_DAILY]
    parts = {
        "new_instances": _insert(instance_facts, INSTANCE_COLUMNS, 1)
        + " ON CONFLICT (instance_id) DO NOTHING RETURNING 1",
        "changed_instances": _update(instance_facts, INSTANCE_COLUMNS, 2),
        "new_tasks": _insert(task_facts, TASK_COLUMNS, 3) + " ON CONFLICT (task_id) DO NOTHING RETURNING 1",
        "changed_tasks": _update(task_facts, TASK_COLUMNS, 4),
        "node_additions": _add(nodes, 5),
        "node_totals": _set(nodes, 6),
        "reason_additions": _add(reasons, 7),
        "reason_totals": _set(reasons, 8),
        # the same fact announced again under a new event id is not a second entry
        "log": _insert(event_log, LOG_COLUMNS, 9) + " ON CONFLICT DO NOTHING",
    }
    ctes = ", ".join(f"{name} AS ({sql})" for name, sql in parts.items())
    return (
        f"WITH {ctes} SELECT (SELECT count(*) FROM new_instances) AS instances, "  # noqa: S608
        "(SELECT count(*) FROM new_tasks) AS tasks"
    )


WRITE = _write()
