"""Versions in flight: plan, dry-run and apply the migration of running instances from
one version of a process to another.

The plan comes from the two versions' diff (`engine.migration_plan`) plus a
suggested mapping for the nodes that need one; the dry run migrates instances in
memory and reports per instance what would happen; applying creates a migration
record with one item per instance, processed in batches by the `migration_batch` job
(`migration/batch.py`). With `update_deadlines` the open tasks at nodes whose
deadline rules changed follow the new version's rules (`migration/deadlines.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Uuid, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.db import after_commit
from bpm_common.errors import DomainError, NotFound, Unprocessable, field_error
from bpm_common.ids import new_id
from bpm_common.pagination import encode_cursor
from bpm_process.engine import (
    EngineError,
    InstanceState,
    ProcessGraph,
    duplicate_targets,
    migrate,
    migration_plan,
)
from services.runtime.deadlines.repository import CalendarCache
from services.runtime.definitions.models import definitions
from services.runtime.definitions.service import GraphCache
from services.runtime.instances.models import instances
from services.runtime.jobs.worker import schedule
from services.runtime.migration.deadlines import changed_nodes, deadline_changes, open_tasks_at
from services.runtime.migration.models import instance_migration_items, instance_migrations

BATCH_KIND = "migration_batch"
DEFAULT_BATCH = 100


@dataclass(frozen=True, slots=True)
class Versions:
    """The two versions of a migration, with their compiled graphs."""

    key: str
    from_id: UUID
    to_id: UUID
    from_version: int
    to_version: int
    old: ProcessGraph
    new: ProcessGraph


async def load_versions(
    session: AsyncSession, graphs: GraphCache, from_id: UUID, to_id: UUID
) -> Versions:
    """Both definitions, known to the runtime, of the same process, and different."""
    rows = {
        row.id: row
        for row in (
            await session.execute(
                select(definitions.c.id, definitions.c.key, definitions.c.version).where(
                    definitions.c.id.in_([from_id, to_id])
                )
            )
        ).all()
    }
    for field, definition_id in (("from_definition_id", from_id), ("to_definition_id", to_id)):
        if definition_id not in rows:
            raise NotFound(
                f"definition {definition_id} is not known to the runtime",
                errors=[field_error(field, "unknown definition")],
            )
    if from_id == to_id:
        raise Unprocessable(
            "migrating to the same version changes nothing",
            errors=[field_error("to_definition_id", "same as from_definition_id")],
        )
    old, new = rows[from_id], rows[to_id]
    if old.key != new.key:
        raise Unprocessable(
            f"instances of {old.key!r} cannot move to another process ({new.key!r})",
            errors=[field_error("to_definition_id", f"a version of {old.key!r}")],
        )
    return Versions(
        old.key,
        from_id,
        to_id,
        old.version,
        new.version,
        await graphs.get(session, from_id),
        await graphs.get(session, to_id),
    )


def check_mapping(versions: Versions, mapping: Mapping[str, str]) -> None:
    """Old node id -> new node id, both existing."""
    errors = []
    for old_id, new_id_ in mapping.items():
        if old_id not in versions.old.nodes:
            errors.append(
                field_error(f"mapping.{old_id}", f"not a node of version {versions.from_version}")
            )
        elif new_id_ not in versions.new.nodes:
            errors.append(
                field_error(
                    f"mapping.{old_id}",
                    f"{new_id_!r} is not a node of version {versions.to_version}",
                )
            )
    if errors:
        raise Unprocessable("the mapping names unknown nodes", errors=errors)
    for new_id_, old_ids in duplicate_targets(versions.old, versions.new, mapping).items():
        errors.append(field_error(
            f"mapping.{old_ids[-1]}",
            f"{', '.join(map(repr, old_ids))} would all become {new_id_!r}: map each to a node of its own",
        ))
    if errors:
        raise Unprocessable("the mapping makes one node of several", errors=errors)


def suggested_mapping(versions: Versions, risks: list[dict[str, str]]) -> dict[str, str | None]:
    """For each node that needs a mapping, a node of the new version with the same name
    and behaviour (a renamed id), or None to choose by hand."""
    suggestions: dict[str, str | None] = {}
    for risk in risks:
        old = versions.old.nodes[risk["node_id"]]
        suggestions[old.id] = next(
            (
                node.id
                for node in versions.new.nodes.values()
                if old.name
                and node.name == old.name
                and node.id != old.id
                and node.behavior == old.behavior
                and (node.loop is None) == (old.loop is None)
            ),
            None,
        )
    return suggestions


async def plan(
    session: AsyncSession, graphs: GraphCache, from_id: UUID, to_id: UUID
) -> dict[str, Any]:
    versions = await load_versions(session, graphs, from_id, to_id)
    diff = migration_plan(versions.old, versions.new)
    waiting = (
        await session.execute(
            select(func.unnest(instances.c.active_nodes).label("node"), func.count())
            .where(instances.c.definition_id == from_id, instances.c.state == "active")
            .group_by("node")
        )
    ).all()
    active = (
        await session.execute(
            select(func.count()).where(
                instances.c.definition_id == from_id, instances.c.state == "active"
            )
        )
    ).scalar_one()
    return {
        "from_definition_id": str(from_id),
        "to_definition_id": str(to_id),
        "definition_key": versions.key,
        "from_version": versions.from_version,
        "to_version": versions.to_version,
        **diff,
        "mapping": suggested_mapping(versions, diff["unmapped_active_risks"]),
        "active_instances": active,
        "waiting_at": {node: count for node, count in waiting},
    }


def try_migration(
    versions: Versions,
    engine_state: Mapping[str, Any],
    mapping: Mapping[str, str],
    now: dt.datetime,
) -> dict[str, Any]:
    """Migrate one instance in memory: what would happen, or why it is refused."""
    state = InstanceState.from_json(engine_state)
    try:
        result = migrate(versions.old, versions.new, state, mapping=mapping, now=now, new_id=new_id)
    except EngineError as exc:
        return {"status": "refused", "reason": exc.message, "node_id": exc.element_id, "moves": []}
    moves = [
        {"token_id": before.id, "from_node": before.node, "to_node": after.node}
        for before, after in zip(state.tokens, result.state.tokens, strict=True)
    ]
    return {
        "status": "ok",
        "reason": None,
        "node_id": None,
        "moves": moves,
        "timers_cancelled": len(result.cancelled_jobs),
        "timers_created": len(result.jobs),
    }


async def dry_run(
    session: AsyncSession,
    graphs: GraphCache,
    from_id: UUID,
    to_id: UUID,
    mapping: dict[str, str],
    instance_ids: list[UUID] | None,
    after: UUID | None,
    limit: int,
    *,
    update_deadlines: bool = True,
    calendars: CalendarCache | None = None,
) -> dict[str, Any]:
    """Per instance (the given ones, or a page of the active instances of the old
    version) what migrating would do, with `update_deadlines` the tasks whose deadline
    would be recounted; nothing is written."""
    versions = await load_versions(session, graphs, from_id, to_id)
    check_mapping(versions, mapping)
    query = select(
        instances.c.id,
        instances.c.business_key,
        instances.c.definition_id,
        instances.c.state,
        instances.c.engine_state,
    )
    if instance_ids:
        query = query.where(instances.c.id.in_(instance_ids))
    else:
        query = query.where(instances.c.definition_id == from_id, instances.c.state == "active")
    if after is not None:
        query = query.where(instances.c.id > after)
    rows = (await session.execute(query.order_by(instances.c.id).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    now = dt.datetime.now(dt.UTC)
    items = []
    changed = changed_nodes(versions.old, versions.new, mapping) if update_deadlines else {}
    at_changed = await open_tasks_at(
        session, [row.id for row in rows if not _not_migratable(row, from_id)], changed
    )
    for row in rows:
        refusal = _not_migratable(row, from_id)
        outcome = (
            {"status": "refused", "reason": refusal, "node_id": None, "moves": []}
            if refusal
            else try_migration(versions, row.engine_state, mapping, now)
        )
        if update_deadlines and outcome["status"] == "ok":
            try:
                changes = await deadline_changes(
                    session, versions.new, changed, InstanceState.from_json(row.engine_state),
                    at_changed.get(row.id, []), calendars,
                )
                outcome["deadlines"] = [change.view() for change in changes]
            except DomainError as exc:
                outcome = {"status": "refused", "reason": exc.detail, "node_id": None, "moves": []}
        items.append({"instance_id": str(row.id), "business_key": row.business_key, **outcome})
    if instance_ids and after is None:  # reported once, on the first page
        found = set(
            (await session.execute(select(instances.c.id).where(instances.c.id.in_(instance_ids)))).scalars()
        )
        items.extend(
            {
                "instance_id": str(i),
                "business_key": None,
                "status": "refused",
                "reason": "no such process instance",
                "node_id": None,
                "moves": [],
            }
            for i in instance_ids
            if i not in found
        )
    return {
        "items": items,
        "next_cursor": encode_cursor(str(rows[-1].id)) if more else None,
        "summary": {
            "ok": sum(i["status"] == "ok" for i in items),
            "refused": sum(i["status"] == "refused" for i in items),
        },
    }


def _not_migratable(row: Any, from_id: UUID) -> str | None:
    if row.state != "active":
        return f"the instance is {row.state}"
    if row.definition_id != from_id:
        return "the instance does not run on the version migrated from"
    return None


async def create(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    actor: str,
    from_id: UUID,
    to_id: UUID,
    mapping: dict[str, str],
    instance_ids: list[UUID] | None,
    reason: str | None,
    batch_size: int,
    update_deadlines: bool = True,
) -> dict[str, Any]:
    """Record a migration of the given instances (or every active one of the old
    version) and schedule its first batch."""
    graphs: GraphCache = ctx.extras["graphs"]
    versions = await load_versions(session, graphs, from_id, to_id)
    check_mapping(versions, mapping)
    migration_id = UUID(new_id())
    now = dt.datetime.now(dt.UTC)
    await session.execute(
        insert(instance_migrations).values(
            id=migration_id,
            definition_key=versions.key,
            from_definition_id=from_id,
            to_definition_id=to_id,
            from_version=versions.from_version,
            to_version=versions.to_version,
            mapping=mapping,
            state="pending",
            batch_size=batch_size,
            reason=reason,
            update_deadlines=update_deadlines,
            created_by=actor,
            created_at=now,
        )
    )
    if instance_ids:
        await session.execute(
            insert(instance_migration_items),
            [
                {"migration_id": migration_id, "instance_id": i, "state": "pending"}
                for i in dict.fromkeys(instance_ids)
            ],
        )
    else:
        await session.execute(
            insert(instance_migration_items).from_select(
                ["migration_id", "instance_id", "state"],
                select(literal(migration_id, Uuid), instances.c.id, literal("pending")).where(
                    instances.c.definition_id == from_id, instances.c.state == "active"
                ),
            )
        )
    total = (
        await session.execute(
            select(func.count()).where(instance_migration_items.c.migration_id == migration_id)
        )
    ).scalar_one()
    values: dict[str, Any] = {"total": total}
    if total == 0:
        values.update(state="completed", finished_at=now)
    else:
        await schedule(
            session,
            {
                "id": UUID(new_id()),
                "kind": BATCH_KIND,
                "due_at": now,
                "payload": {"migration_id": str(migration_id)},
            },
        )
        runner = ctx.extras.get("jobs")
        if runner is not None:
            after_commit(session, runner.wake)
    await session.execute(
        instance_migrations.update()
        .where(instance_migrations.c.id == migration_id)
        .values(**values)
    )
    return await view(session, migration_id)


async def view(session: AsyncSession, migration_id: UUID) -> dict[str, Any]:
    """The migration with its progress and its first failures."""
    row = (
        (
            await session.execute(
                select(instance_migrations).where(instance_migrations.c.id == migration_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"migration {migration_id} not found")
    failures = (
        await session.execute(
            select(instance_migration_items.c.instance_id, instance_migration_items.c.error)
            .where(
                instance_migration_items.c.migration_id == migration_id,
                instance_migration_items.c.state == "failed",
            )
            .order_by(instance_migration_items.c.instance_id)
            .limit(100)
        )
    ).all()
    return {
        "id": str(row["id"]),
        "definition_key": row["definition_key"],
        "from_definition_id": str(row["from_definition_id"]),
        "to_definition_id": str(row["to_definition_id"]),
        "from_version": row["from_version"],
        "to_version": row["to_version"],
        "mapping": row["mapping"],
        "state": row["state"],
        "batch_size": row["batch_size"],
        "total": row["total"],
        "migrated": row["migrated"],
        "failed": row["failed"],
        "pending": row["total"] - row["migrated"] - row["failed"],
        "reason": row["reason"],
        "update_deadlines": row["update_deadlines"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
        "failures": [{"instance_id": str(f.instance_id), "error": f.error} for f in failures],
    }


async def items(
    session: AsyncSession, migration_id: UUID, state: str | None, after: UUID | None, limit: int
) -> dict[str, Any]:
    """The migration's instances with their outcome, by instance id."""
    await view(session, migration_id)
    query = select(instance_migration_items).where(
        instance_migration_items.c.migration_id == migration_id
    )
    if state:
        query = query.where(instance_migration_items.c.state == state)
    if after is not None:
        query = query.where(instance_migration_items.c.instance_id > after)
    rows = (
        (
            await session.execute(
                query.order_by(instance_migration_items.c.instance_id).limit(limit + 1)
            )
        )
        .mappings()
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [
            {
                "instance_id": str(r["instance_id"]),
                "state": r["state"],
                "error": r["error"],
                "processed_at": r["processed_at"],
            }
            for r in rows
        ],
        "next_cursor": encode_cursor(str(rows[-1]["instance_id"])) if more else None,
    }
