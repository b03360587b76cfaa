"""Deadlines through a migration: the open tasks of nodes whose deadline rules changed
between the two versions follow the new version's rules.

A node's rules (`deadlines.service.deadline_rules`: time limit, remind-before, timeout
action, reassign rules, due date) are compared between the old node and the node it is
mapped to. Where they are the same, the task keeps its due time and its deadline jobs
as they are (same rows, same ids). Where they differ, and the migration asks for it
(`update_deadlines`, the default), the task's deadline is counted again from the
task's creation with the new rules, as task creation counts it (`recount_deadline`),
in the business calendar its time limit was counted in (the initiator's when it had
none): `due_at` and `time_limit` change on the task row, the old deadline jobs go and
new ones come (`deadline_jobs`): no reminder whose time has passed, an overdue job
already due fires at once. A node without a deadline in the new version leaves its
tasks without `due_at` and jobs.

Escalations already done stay done: the task keeps its `escalation_level` and its
history; the old version's pending escalation goes with the old jobs. The new overdue
job fires once at the new due time and, with `escalate`, escalates at the level after
the one reached (`deadlines/jobs.py`).

No event announces a changed due time (the runtime has no `task.updated`): the
`instance_migrated` history entry lists the tasks whose deadline changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import after_commit
from bpm_common.errors import Conflict
from bpm_process.engine import InstanceState, ProcessGraph, TaskSpec
from bpm_process.engine.state import ROOT_SCOPE
from services.runtime.deadlines.repository import CalendarCache
from services.runtime.deadlines.service import (
    DEADLINE_JOBS,
    deadline_jobs,
    deadline_rules,
    recount_deadline,
)
from services.runtime.instances.applier import Step
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import schedule
from services.runtime.tasks.models import tasks


@dataclass(frozen=True, slots=True)
class DeadlineChange:
    """The deadline an open task gets on the new version."""

    task_id: UUID
    old_node_id: str
    spec: TaskSpec
    """Carries the new node id and name, due time and rules (see `deadline_jobs`)."""
    calendar: str | None
    due_at_before: dt.datetime | None
    time_limit_before: str | None

    def view(self) -> dict[str, Any]:
        """What the dry run and the history entry say about it."""
        return {
            "task_id": str(self.task_id),
            "node_id": self.spec.node_id,
            "due_at_before": self.due_at_before,
            "due_at": self.spec.due_at,
            "time_limit_before": self.time_limit_before,
            "time_limit": self.spec.time_limit,
            "timeout_action": self.spec.timeout_action if self.spec.due_at is not None else None,
        }


def changed_nodes(old: ProcessGraph, new: ProcessGraph, mapping: Mapping[str, str]) -> dict[str, str]:
    """Old user task id -> its node in the new version, for the user tasks whose deadline
    rules differ between the two (a node the new version lacks is the engine's to refuse)."""
    changed = {}
    for node in old.nodes.values():
        if node.task is None:
            continue
        target = new.nodes.get(mapping.get(node.id, node.id))
        if target is not None and deadline_rules(node.task) != deadline_rules(target.task):
            changed[node.id] = target.id
    return changed


async def open_tasks_at(
    session: AsyncSession, instance_ids: Sequence[UUID], node_ids: Iterable[str]
) -> dict[UUID, list[dict[str, Any]]]:
    """The open tasks of these instances at these (old) nodes, by instance."""
    nodes = list(node_ids)
    found: dict[UUID, list[dict[str, Any]]] = {}
    if not nodes or not instance_ids:
        return found
    rows = (
        await session.execute(
            select(
                tasks.c.id, tasks.c.instance_id, tasks.c.node_id, tasks.c.due_at,
                tasks.c.time_limit, tasks.c.created_at,
            )
            .where(
                tasks.c.instance_id.in_(instance_ids),
                tasks.c.state == "open",
                tasks.c.node_id.in_(nodes),
            )
            .order_by(tasks.c.created_at, tasks.c.id)
        )
    ).mappings()
    for row in rows:
        found.setdefault(row["instance_id"], []).append(dict(row))
    return found


async def deadline_changes(
    session: AsyncSession,
    new: ProcessGraph,
    changed: Mapping[str, str],
    state: InstanceState,
    open_tasks: Sequence[Mapping[str, Any]],
    cache: CalendarCache | None,
) -> list[DeadlineChange]:
    """The new deadlines of an instance's open tasks at `changed` nodes (its state is the
    one before the migration: the variables its tasks see stay the same)."""
    if not open_tasks:
        return []
    calendars = await _calendars_used(session, [task["id"] for task in open_tasks])
    changes = []
    for task in open_tasks:
        node = new.nodes[changed[task["node_id"]]]
        spec, calendar = await recount_deadline(
            session,
            node.task,
            {**task, "node_id": node.id, "name": node.name},
            _context(state, str(task["id"])),
            calendar=calendars.get(task["id"]),
            initiator=state.initiator,
            cache=cache,
        )
        changes.append(
            DeadlineChange(task["id"], task["node_id"], spec, calendar, task["due_at"], task["time_limit"])
        )
    return changes


async def apply_changes(step: Step, changes: Sequence[DeadlineChange]) -> None:
    """Give the tasks their new deadlines: the task rows, the old jobs out, the new in.

    A deadline job a worker holds right now (its row locked: it waits for the instance
    this migration holds) would carry out the old rules once the migration commits, so
    the instance is refused instead (409): migrate it again."""
    if not changes:
        return
    task_ids = [change.task_id for change in changes]
    where = (jobs.c.task_id.in_(task_ids), jobs.c.kind.in_(DEADLINE_JOBS))
    existing = set((await step.session.execute(select(jobs.c.id).where(*where))).scalars())
    free = set(
        (
            await step.session.execute(
                select(jobs.c.id).where(*where).with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if existing - free:
        raise Conflict(
            "a deadline job of a task of this instance is running: migrate the instance again"
        )
    if free:
        await step.session.execute(delete(jobs).where(jobs.c.id.in_(free)))
    rows = []
    for change in changes:
        spec = change.spec
        await step.session.execute(
            update(tasks)
            .where(tasks.c.id == change.task_id)
            .values(due_at=spec.due_at, time_limit=spec.time_limit)
        )
        task = {
            "id": change.task_id,
            "instance_id": step.row.id,
            "node_id": spec.node_id,
            "due_at": spec.due_at,
        }
        rows.extend(deadline_jobs(task, spec, step.now, change.calendar))
    if rows:
        await schedule(step.session, *rows)
    runner = step.ctx.extras.get("jobs")
    if runner is not None and any(row["due_at"] <= step.now for row in rows):
        after_commit(step.session, runner.wake)  # an overdue job already due fires at once


async def _calendars_used(session: AsyncSession, task_ids: list[UUID]) -> dict[UUID, str]:
    """The business calendar each task's time limit was counted in, as its deadline jobs
    carry it (none for a task without a time limit or whose jobs are done)."""
    rows = await session.execute(
        select(jobs.c.task_id, jobs.c.payload["calendar"].astext).where(
            jobs.c.task_id.in_(task_ids), jobs.c.kind.in_(DEADLINE_JOBS)
        )
    )
    return {task_id: name for task_id, name in rows if name}


def _context(state: InstanceState, task_id: str) -> dict[str, Any]:
    """The variables expressions at the task see: the instance's, `initiator`, and the
    local variables of the scopes around the task (a multi-instance's item)."""
    token = next((t for t in state.tokens if t.task == task_id), None)
    return {"initiator": state.initiator, **state.scope_variables(token.scope if token is not None else ROOT_SCOPE)}
