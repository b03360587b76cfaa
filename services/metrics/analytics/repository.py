"""Aggregations over the fact tables, computed in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Table, and_, func, literal, or_, select, true
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
    department: str | None = None
    """The initiator's department when the instance started."""

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
        if self.department is not None:
            conds.append(c.department == self.department)
        return conds


def _instance_counts(table: Table) -> list[Any]:
    state = table.c.state
    return [
        func.count().label("started"),
        func.count().filter(state == "completed").label("completed"),
        func.count().filter(state == "running").label("running"),
        func.count().filter(state == "terminated").label("terminated"),
    ]


def _spread(column: Any, condition: ColumnElement[bool], prefix: str, suffix: str) -> list[Any]:
    """Mean, median and 90th percentile of `column` where `condition` holds."""
    return [
        func.avg(column).filter(condition).label(f"avg_{prefix}{suffix}"),
        func.percentile_cont(0.5)
        .within_group(column)
        .filter(condition)
        .label(f"median_{prefix}{suffix}"),
        func.percentile_cont(0.9)
        .within_group(column)
        .filter(condition)
        .label(f"p90_{prefix}{suffix}"),
    ]


def _ratio(numerator: Any, denominator: Any) -> Any:
    return numerator * 1.0 / func.nullif(denominator, 0)


def _overdue(t: Any) -> ColumnElement[bool]:
    """A task that went past its due time: reported overdue, ended late, or open and late."""
    return or_(t.overdue_at.is_not(None), t.due_at < func.coalesce(t.ended_at, func.now()))


async def summary(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """Instance counts, cycle times, task counts, rates and loops: one query."""
    i, t = instance_facts, task_facts
    done, cycle = i.c.state == "completed", i.c.cycle_seconds
    instances = (
        select(
            *_instance_counts(i),
            func.count().filter(i.c.state == "withdrawn").label("withdrawn"),
            func.count().filter(done, i.c.result == "rejected").label("rejected"),
            *_spread(cycle, done, "cycle", "_seconds"),
            func.min(cycle).filter(done).label("min_cycle_seconds"),
            func.max(cycle).filter(done).label("max_cycle_seconds"),
            *_spread(i.c.cycle_working_seconds, done, "cycle", "_working_seconds"),
            func.avg(i.c.satisfaction).filter(done).label("avg_satisfaction"),
            func.count(i.c.satisfaction).filter(done).label("satisfaction_responses"),
        )
        .where(*scope.conditions(i, "started_at"))
        .subquery("instances")
    )
    c = t.c
    completed, returned = c.state == "completed", c.state == "returned"
    decided = and_(completed, c.outcome.in_(("approve", "reject")))
    with_due = and_(completed, c.due_at.is_not(None))
    tasks = (
        select(
            func.count().label("tasks_created"),
            func.count().filter(completed).label("tasks_completed"),
            func.count().filter(returned).label("tasks_returned"),
            func.count().filter(c.state == "open").label("open_tasks"),
            func.avg(c.duration_seconds).filter(completed).label("avg_task_seconds"),
            func.avg(c.queue_seconds).label("avg_queue_seconds"),
            func.avg(c.work_seconds).label("avg_work_seconds"),
            _ratio(
                func.count().filter(completed, c.outcome == "reject"), func.count().filter(decided)
            ).label("rejection_rate"),
            _ratio(
                func.count().filter(returned), func.count().filter(or_(completed, returned))
            ).label("return_rate"),
            _ratio(
                func.count().filter(with_due, c.ended_at <= c.due_at), func.count().filter(with_due)
            ).label("sla_compliance_rate"),
            func.count().filter(_overdue(c)).label("overdue_tasks"),
        )
        .where(*scope.conditions(t, "created_at"))
        .subquery("tasks")
    )
    runs = (
        select(func.count(func.distinct(c.created_at)).label("runs"))
        .where(*scope.conditions(t, "created_at"))
        .group_by(c.instance_id, c.node_id)
        .subquery("runs")
    )
    loops = select(func.avg(runs.c.runs).label("loops_per_instance")).subquery("loops")
    row = await session.execute(
        select(instances, tasks, loops).select_from(
            instances.join(tasks, true()).join(loops, true())
        )
    )
    return dict(row.mappings().one())


async def node_stats(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per node: counts, rates, loops and the spread of queue, work and total time."""
    t = task_facts
    c = t.c
    completed, returned = c.state == "completed", c.state == "returned"
    worked = or_(completed, returned)
    decided = and_(completed, c.outcome.in_(("approve", "reject")))
    with_due = and_(completed, c.due_at.is_not(None))
    anything = true()
    stats = (
        select(
            c.node_id,
            func.max(c.name).label("name"),
            func.min(c.created_at).label("first_created_at"),
            func.count().label("tasks_created"),
            func.count().filter(c.state == "open").label("open"),
            func.count().filter(completed).label("completed"),
            func.count().filter(returned).label("returned"),
            func.count().filter(c.state == "cancelled").label("cancelled"),
            func.count().filter(decided).label("decisions"),
            func.count().filter(completed, c.outcome == "reject").label("rejected"),
            _ratio(func.count().filter(returned), func.count().filter(worked)).label("return_rate"),
            _ratio(
                func.count().filter(with_due, c.ended_at <= c.due_at), func.count().filter(with_due)
            ).label("sla_compliance_rate"),
            func.count().filter(_overdue(c)).label("overdue"),
            func.count().filter(c.state == "open", _overdue(c)).label("open_overdue"),
            *_spread(c.queue_seconds, anything, "queue", "_seconds"),
            *_spread(c.queue_working_seconds, anything, "queue", "_working_seconds"),
            *_spread(c.work_seconds, anything, "work", "_seconds"),
            *_spread(c.work_working_seconds, anything, "work", "_working_seconds"),
            *_spread(c.duration_seconds, worked, "duration", "_seconds"),
            *_spread(c.duration_working_seconds, worked, "duration", "_working_seconds"),
        )
        .where(*scope.conditions(t, "created_at"))
        .group_by(c.node_id)
        .subquery("stats")
    )
    per_instance = (
        select(c.node_id, func.count(func.distinct(c.created_at)).label("runs"))
        .where(*scope.conditions(t, "created_at"))
        .group_by(c.node_id, c.instance_id)
        .subquery("per_instance")
    )
    loops = (
        select(
            per_instance.c.node_id,
            func.count().label("instances"),
            func.avg(per_instance.c.runs).label("loops_per_instance"),
        )
        .group_by(per_instance.c.node_id)
        .subquery("loops")
    )
    stmt = (
        select(stats, loops.c.instances, loops.c.loops_per_instance)
        .select_from(stats.join(loops, loops.c.node_id == stats.c.node_id))
        .order_by(stats.c.first_created_at, stats.c.node_id)
    )
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


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
