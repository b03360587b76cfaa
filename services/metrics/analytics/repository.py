"""Aggregations over the fact tables, computed in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Table, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import instance_facts, task_facts


@dataclass(frozen=True, slots=True)
class Scope:
    """Which instances (and tasks) an aggregation covers."""

    key: str
    version: int | None = None
    include_trial: bool = False
    started_from: dt.datetime | None = None
    """Inclusive; on the instance's start (a task's creation)."""
    started_to: dt.datetime | None = None
    """Exclusive."""

    def conditions(self, table: Table, start_column: str) -> list[ColumnElement[bool]]:
        c = table.c
        conds: list[ColumnElement[bool]] = [c.definition_key == self.key]
        if self.version is not None:
            conds.append(c.definition_version == self.version)
        if not self.include_trial:
            conds.append(c.trial.is_(False))
        if self.started_from is not None:
            conds.append(c[start_column] >= self.started_from)
        if self.started_to is not None:
            conds.append(c[start_column] < self.started_to)
        return conds


def _instance_counts(table: Table) -> list[Any]:
    state = table.c.state
    return [
        func.count().label("started"),
        func.count().filter(state == "completed").label("completed"),
        func.count().filter(state == "running").label("running"),
        func.count().filter(state == "terminated").label("terminated"),
    ]


async def summary(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """Instance counts, cycle-time statistics, task counts and mean task time: one query."""
    i, t = instance_facts, task_facts
    done, cycle = i.c.state == "completed", i.c.cycle_seconds
    instances = (
        select(
            *_instance_counts(i),
            func.avg(cycle).filter(done).label("avg_cycle_seconds"),
            func.percentile_cont(0.5)
            .within_group(cycle)
            .filter(done)
            .label("median_cycle_seconds"),
            func.percentile_cont(0.9).within_group(cycle).filter(done).label("p90_cycle_seconds"),
            func.min(cycle).filter(done).label("min_cycle_seconds"),
            func.max(cycle).filter(done).label("max_cycle_seconds"),
        )
        .where(*scope.conditions(i, "started_at"))
        .subquery("instances")
    )
    tasks = (
        select(
            func.count().label("tasks_created"),
            func.count().filter(t.c.state == "completed").label("tasks_completed"),
            func.count().filter(t.c.state == "open").label("open_tasks"),
            func.avg(t.c.duration_seconds)
            .filter(t.c.state == "completed")
            .label("avg_task_seconds"),
        )
        .where(*scope.conditions(t, "created_at"))
        .subquery("tasks")
    )
    row = await session.execute(select(instances, tasks).select_from(instances.join(tasks, true())))
    return dict(row.mappings().one())


async def process_keys(
    session: AsyncSession, *, include_trial: bool, after: str | None, limit: int
) -> list[str]:
    """Process keys with instances, in key order, after the cursor's key.

    A loose index scan: each step asks the index for the next key, so the cost
    grows with the number of keys returned, not with the number of instances.
    """
    i = instance_facts
    counted = [] if include_trial else [i.c.trial.is_(False)]

    def next_key(previous: ColumnElement[str] | None) -> ScalarSelect[str]:
        after_previous = [] if previous is None else [i.c.definition_key > previous]
        return (
            select(func.min(i.c.definition_key)).where(*counted, *after_previous).scalar_subquery()
        )

    start = None if after is None else literal(after)
    keys = select(next_key(start).label("key")).cte("keys", recursive=True)
    keys = keys.union_all(select(next_key(keys.c.key)).where(keys.c.key.is_not(None)))
    stmt = select(keys.c.key).where(keys.c.key.is_not(None)).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def version_counts(
    session: AsyncSession, keys: Sequence[str], *, include_trial: bool
) -> list[dict[str, Any]]:
    """Instance counts per key and version of `keys`."""
    i = instance_facts
    stmt = (
        select(
            i.c.definition_key.label("key"),
            i.c.definition_version.label("version"),
            *_instance_counts(i),
            func.max(i.c.started_at).label("last_started_at"),
        )
        .where(i.c.definition_key.in_(keys))
        .group_by(i.c.definition_key, i.c.definition_version)
        .order_by(i.c.definition_key, i.c.definition_version.desc())
    )
    if not include_trial:
        stmt = stmt.where(i.c.trial.is_(False))
    return [dict(r) for r in (await session.execute(stmt)).mappings()]
