"""The `migration_batch` job: migrates the next batch of a migration's instances.

One transaction per batch (the job's), one savepoint per instance, so an instance
that cannot move (a token with no counterpart, an instance that ended meanwhile) is
recorded as failed with its reason without undoing the others. The job reschedules
itself until no instance is pending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, DomainError
from bpm_process.engine import InstanceState, ProcessGraph, Result, migrate
from services.runtime.definitions.service import GraphCache
from services.runtime.instances.models import instances
from services.runtime.instances.service import InstanceCommands
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import delete_job, job_handler
from services.runtime.migration.deadlines import (
    DeadlineChange,
    apply_changes,
    changed_nodes,
    deadline_changes,
    open_tasks_at,
)
from services.runtime.migration.models import instance_migration_items, instance_migrations
from services.runtime.migration.service import BATCH_KIND
from services.runtime.operations.actions import instance_action
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks
from services.runtime.work.models import CANCELLED, COMPLETED, incidents, work_items


@job_handler(BATCH_KIND)
async def run_batch(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    migration_id = UUID(str(job["payload"]["migration_id"]))
    migration = (
        (
            await session.execute(
                select(instance_migrations)
                .where(instance_migrations.c.id == migration_id)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if migration is None or migration["state"] == "completed":
        await delete_job(session, job["id"])
        return
    pending = (
        (
            await session.execute(
                select(instance_migration_items.c.instance_id)
                .where(
                    instance_migration_items.c.migration_id == migration_id,
                    instance_migration_items.c.state == "pending",
                )
                .order_by(instance_migration_items.c.instance_id)
                .limit(migration["batch_size"] + 1)
            )
        )
        .scalars()
        .all()
    )
    now = dt.datetime.now(dt.UTC)
    migrated = failed = 0
    update_deadlines = bool(migration["update_deadlines"])
    for instance_id in pending[: migration["batch_size"]]:
        error = await _migrate_one(session, ctx, migration, instance_id, update_deadlines)
        await session.execute(
            update(instance_migration_items)
            .where(
                instance_migration_items.c.migration_id == migration_id,
                instance_migration_items.c.instance_id == instance_id,
            )
            .values(state="failed" if error else "migrated", error=error, processed_at=now)
        )
        failed += error is not None
        migrated += error is None
    more = len(pending) > migration["batch_size"]
    await session.execute(
        update(instance_migrations)
        .where(instance_migrations.c.id == migration_id)
        .values(
            state="running" if more else "completed",
            migrated=instance_migrations.c.migrated + migrated,
            failed=instance_migrations.c.failed + failed,
            finished_at=None if more else now,
        )
    )
    if more:
        await session.execute(
            update(jobs).where(jobs.c.id == job["id"]).values(due_at=now, attempts=0)
        )
    else:
        await delete_job(session, job["id"])


async def _migrate_one(
    session: AsyncSession,
    ctx: ServiceContext,
    migration: Mapping[str, Any],
    instance_id: UUID,
    update_deadlines: bool,
) -> str | None:
    """Migrate one instance in its own savepoint; the reason it failed, or None."""
    try:
        async with session.begin_nested():
            await migrate_instance(
                session, ctx, migration, instance_id, update_deadlines=update_deadlines
            )
    except DomainError as exc:
        details = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or ())
        return f"{exc.detail} ({details})" if details else exc.detail
    return None


async def migrate_instance(
    session: AsyncSession,
    ctx: ServiceContext,
    migration: Mapping[str, Any],
    instance_id: UUID,
    *,
    update_deadlines: bool = False,
) -> None:
    """Move one instance to the migration's new version: the engine state (through
    `execute`), then its rows (instance, open tasks, timers, subscriptions), with a
    history entry and `instance.migrated`. Due dates stay as they were, except, with
    `update_deadlines`, those of open tasks at nodes whose deadline rules changed, which
    are recounted with the new rules (`migration/deadlines.py`)."""
    commands = InstanceCommands(session, ctx)
    row = await commands.lock(instance_id)
    if row.definition_id != migration["from_definition_id"]:
        raise Conflict(
            f"the instance runs on version {row.definition_version}, "
            f"not {migration['from_version']}"
        )
    graphs: GraphCache = ctx.extras["graphs"]
    new_graph = await graphs.get(session, migration["to_definition_id"])
    mapping: dict[str, str] = dict(migration["mapping"] or {})
    actor, reason = migration["created_by"], migration["reason"]
    produced: list[Result] = []
    # read before anything moves: the tasks still stand at the old nodes, the state is the
    # one their expressions saw (a migration changes no variable)
    changed: dict[str, str] = {}
    at_changed: list[dict[str, Any]] = []
    if update_deadlines:
        old_graph = await graphs.get(session, migration["from_definition_id"])
        changed = changed_nodes(old_graph, new_graph, mapping)
        at_changed = (await open_tasks_at(session, [instance_id], changed)).get(instance_id, [])
    state_before = InstanceState.from_json(row.engine_state) if at_changed else None

    def command(graph: ProcessGraph, state: InstanceState, now: Any, nid: Any) -> Result:
        result = migrate(graph, new_graph, state, mapping=mapping, now=now, new_id=nid)
        produced.append(result)
        return result

    # the rows of the old nodes first: the rows the migration itself makes (the new
    # version's events it arms) already carry the new ids and must not be renamed
    await _rename_nodes(session, instance_id, mapping, new_graph)
    await commands.execute(instance_id, command, actor=actor, reason=reason, allow_suspended=True)
    record = next(r for r in produced[0].events if r.type == "instance_migrated")
    # counted once the engine accepted the move (a refusal names the engine's reason)
    changes: list[DeadlineChange] = []
    if state_before is not None:
        changes = await deadline_changes(
            session, new_graph, changed, state_before, at_changed, ctx.extras.get("calendars")
        )
    async with instance_action(
        session, ctx, instance_id, actor=actor, reason=reason, allow_suspended=True
    ) as step:
        await _move_rows(session, instance_id, migration)
        await apply_changes(step, changes)
        step.row.definition_id = migration["to_definition_id"]
        step.row.definition_version = migration["to_version"]
        step.history.add(
            "instance_migrated",
            step.now,
            actor=actor,
            comment=reason,
            details={
                "migration_id": str(migration["id"]),
                "from_definition_id": str(migration["from_definition_id"]),
                "to_definition_id": str(migration["to_definition_id"]),
                "from_version": migration["from_version"],
                "to_version": migration["to_version"],
                "mapping": dict(record.mapping),
                "update_deadlines": update_deadlines,
                "deadlines_changed": [change.view() for change in changes],
            },
        )
        step.event(
            "instance.migrated",
            {
                **step.instance_common(),
                "definition_id": str(migration["to_definition_id"]),
                "from_version": migration["from_version"],
                "to_version": migration["to_version"],
                "migration_id": str(migration["id"]),
                "actor": actor,
                "at": step.now,
            },
        )


async def _move_rows(session: AsyncSession, instance_id: UUID, migration: Mapping[str, Any]) -> None:
    """The instance, its open tasks and its jobs now belong to the new version."""
    to_id, to_version = migration["to_definition_id"], migration["to_version"]
    await session.execute(
        update(instances)
        .where(instances.c.id == instance_id)
        .values(definition_id=to_id, definition_version=to_version)
    )
    await session.execute(
        update(tasks)
        .where(tasks.c.instance_id == instance_id, tasks.c.state == "open")
        .values(definition_version=to_version)
    )
    # Every job of the instance follows it: timers, which fire on the new version's graph.
    # A task's deadline jobs (which carry no definition) keep the old version's action and
    # limit unless `apply_changes` replaced them (`update_deadlines`, rules changed).
    await session.execute(
        update(jobs)
        .where(jobs.c.instance_id == instance_id, jobs.c.definition_id == migration["from_definition_id"])
        .values(definition_id=to_id)
    )


async def _rename_nodes(
    session: AsyncSession, instance_id: UUID, mapping: Mapping[str, str], new_graph: ProcessGraph
) -> None:
    """The instance's rows of renamed nodes (open tasks, jobs, work items, open incidents,
    subscriptions) take the new ids, each row once: one statement per table renames them
    all together, so a chain (`a -> b, b -> c`) or a swap (`a -> b, b -> a`) does not move
    a row twice."""
    renamed = {old: new for old, new in mapping.items() if old != new}
    if not renamed:
        return
    names = {old: new_graph.nodes[new].name for old, new in renamed.items()}
    for table, name_column, only in (
        (tasks, "name", tasks.c.state == "open"),
        (jobs, None, None),
        (work_items, "node_name", work_items.c.state.notin_((COMPLETED, CANCELLED))),
        (incidents, "node_name", incidents.c.state == "open"),
        (subscriptions, None, None),
    ):
        values: dict[str, Any] = {"node_id": case(renamed, value=table.c.node_id)}
        if name_column is not None:
            values[name_column] = case(names, value=table.c.node_id)
        where = [table.c.instance_id == instance_id, table.c.node_id.in_(list(renamed))]
        if only is not None:
            where.append(only)
        await session.execute(update(table).where(*where).values(**values))
