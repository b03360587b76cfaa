"""Live counts for the monitoring board: open, overdue, running and rejected work.

Open tasks and running instances are read through partial indexes on the
unfinished rows, so the cost follows the work in progress, not the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import instance_facts, task_facts


@dataclass(frozen=True, slots=True)
class BoardFilter:
    process: str | None = None
    department: str | None = None
    assignee: str | None = None
    include_trial: bool = False


def _task_conditions(f: BoardFilter) -> list[ColumnElement[bool]]:
    t = task_facts.c
    conds: list[ColumnElement[bool]] = []
    if f.process is not None:
        conds.append(t.definition_key == f.process)
    if f.department is not None:
        conds.append(t.department == f.department)
    if not f.include_trial:
        conds.append(t.trial.is_(False))
    return conds


async def open_tasks(session: AsyncSession, f: BoardFilter) -> list[dict[str, Any]]:
    """Open and overdue tasks per process, department and assignee."""
    t = task_facts.c
    assignee = func.nullif(t.assignee, "")
    overdue = or_(t.overdue_at.is_not(None), t.due_at < func.now())
    stmt = (
        select(
            t.definition_key.label("key"),
            t.department.label("department"),
            assignee.label("assignee"),
            func.count().label("open_tasks"),
            func.count().filter(overdue).label("overdue_tasks"),
        )
        .where(t.state == "open", *_task_conditions(f))
        .group_by(t.definition_key, t.department, assignee)
    )
    if f.assignee is not None:
        stmt = stmt.where(t.assignee == f.assignee)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def running_instances(session: AsyncSession, f: BoardFilter) -> list[dict[str, Any]]:
    """Running instances per process and department (an assignee filter does not apply)."""
    i = instance_facts.c
    stmt = (
        select(
            i.definition_key.label("key"),
            i.department.label("department"),
            func.count().label("running_instances"),
        )
        .where(i.state == "running")
        .group_by(i.definition_key, i.department)
    )
    if f.process is not None:
        stmt = stmt.where(i.definition_key == f.process)
    if f.department is not None:
        stmt = stmt.where(i.department == f.department)
    if not f.include_trial:
        stmt = stmt.where(i.trial.is_(False))
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def rejections(
    session: AsyncSession, f: BoardFilter, since: dt.datetime
) -> list[dict[str, Any]]:
    """Rejection decisions since a time, per process, department and deciding user."""
    t = task_facts.c
    stmt = (
        select(
            t.definition_key.label("key"),
            t.department.label("department"),
            t.actor.label("assignee"),
            func.count().label("rejected"),
        )
        .where(
            t.ended_at >= since,
            t.state == "completed",
            t.outcome == "reject",
            *_task_conditions(f),
        )
        .group_by(t.definition_key, t.department, t.actor)
    )
    if f.assignee is not None:
        stmt = stmt.where(t.actor == f.assignee)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]
