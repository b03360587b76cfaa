"""The weekly report's queries: instances and tasks of one week, read through time indexes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import instance_facts, task_facts


@dataclass(frozen=True, slots=True)
class Period:
    """Instances and tasks of one period [start, end), of one process or all."""

    start: dt.datetime
    end: dt.datetime
    key: str | None = None
    version: int | None = None
    department: str | None = None
    include_trial: bool = False

    def scope(self, table: Table) -> list[ColumnElement[bool]]:
        c = table.c
        conds: list[ColumnElement[bool]] = []
        if self.key is not None:
            conds.append(c.definition_key == self.key)
        if self.version is not None:
            conds.append(c.definition_version == self.version)
        if self.department is not None:
            conds.append(c.department == self.department)
        if not self.include_trial:
            conds.append(c.trial.is_(False))
        return conds

    def within(self, column: Any) -> list[ColumnElement[bool]]:
        return [column >= self.start, column < self.end]


async def started(session: AsyncSession, p: Period) -> dict[str, int]:
    i = instance_facts.c
    stmt = (
        select(i.definition_key, func.count())
        .where(*p.scope(instance_facts), *p.within(i.started_at))
        .group_by(i.definition_key)
    )
    return {key: n for key, n in (await session.execute(stmt)).all()}


async def ended(session: AsyncSession, p: Period) -> dict[str, dict[str, Any]]:
    i = instance_facts.c
    done = i.state == "completed"
    stmt = (
        select(
            i.definition_key.label("key"),
            func.count().filter(done).label("completed"),
            func.avg(i.cycle_seconds).filter(done).label("mean_cycle_seconds"),
            func.avg(i.cycle_working_seconds).filter(done).label("mean_cycle_working_seconds"),
            func.count().filter(i.state == "withdrawn").label("withdrawn"),
            func.count().filter(i.state == "terminated").label("terminated"),
        )
        .where(*p.scope(instance_facts), *p.within(i.ended_at))
        .group_by(i.definition_key)
    )
    return {r["key"]: dict(r) for r in (await session.execute(stmt)).mappings()}


async def decisions(session: AsyncSession, p: Period) -> dict[str, dict[str, Any]]:
    t = task_facts.c
    completed = t.state == "completed"
    stmt = (
        select(
            t.definition_key.label("key"),
            func.count().filter(completed, t.outcome.in_(("approve", "reject"))).label("decisions"),
            func.count().filter(completed, t.outcome == "reject").label("rejected"),
            func.count().filter(t.state == "returned").label("returned"),
        )
        .where(*p.scope(task_facts), *p.within(t.ended_at))
        .group_by(t.definition_key)
    )
    return {r["key"]: dict(r) for r in (await session.execute(stmt)).mappings()}


async def overdue(session: AsyncSession, p: Period) -> dict[str, int]:
    """Tasks due in the period that were not done by then (reported overdue, done late, or
    still open past the due time)."""
    t = task_facts.c
    late = or_(t.overdue_at.is_not(None), t.due_at < func.coalesce(t.ended_at, func.now()))
    stmt = (
        select(t.definition_key, func.count())
        .where(*p.scope(task_facts), *p.within(t.due_at), late)
        .group_by(t.definition_key)
    )
    return {key: n for key, n in (await session.execute(stmt)).all()}


async def exception_reasons(session: AsyncSession, p: Period) -> list[tuple[str, str, str | None]]:
    """(key, kind, reason) of every rejection, return, withdrawal and termination of the period."""
    t, i = task_facts.c, instance_facts.c
    rejections = select(t.definition_key, literal("reject", Text), t.comment).where(
        *p.scope(task_facts),
        *p.within(t.ended_at),
        t.state == "completed",
        t.outcome == "reject",
    )
    returns = select(t.definition_key, literal("return", Text), t.end_reason).where(
        *p.scope(task_facts), *p.within(t.ended_at), t.state == "returned"
    )
    stopped = select(i.definition_key, i.state, i.end_reason).where(
        *p.scope(instance_facts), *p.within(i.ended_at), i.state.in_(("withdrawn", "terminated"))
    )
    rows = await session.execute(union_all(rejections, returns, stopped))
    return [(key, _KINDS[kind], reason) for key, kind, reason in rows.all()]


_KINDS = {
    "reject": "reject",
    "return": "return",
    "withdrawn": "withdraw",
    "terminated": "terminate",
}
