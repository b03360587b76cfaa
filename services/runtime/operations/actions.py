"""Instance-level actions that change no engine state: a task changes hands, an urge,
a suspension, the version an instance runs on.

They still take the instance lock, so they serialise with completions and every
other command, and they continue the instance's hash-chained history and event
sequence through the same `Step` the applier uses (`applier.record_step` writes it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, NotFound
from services.runtime.instances.applier import Step, record_step
from services.runtime.instances.history import HistoryWriter
from services.runtime.instances.service import InstanceCommands, utcnow
from services.runtime.tasks.models import tasks


@asynccontextmanager
async def instance_action(
    session: AsyncSession,
    ctx: ServiceContext,
    instance_id: UUID,
    *,
    actor: str | None,
    reason: str | None = None,
    allow_suspended: bool = False,
    allow_ended: bool = False,
) -> AsyncIterator[Step]:
    """Lock the instance and yield a `Step` to collect history entries and events in;
    on leaving the block they are written (the chain goes on from the row's last hash).

    Refuses (409) an instance that is no longer active or, unless `allow_suspended`,
    one that is suspended.
    """
    commands = InstanceCommands(session, ctx)
    row = await commands.lock(instance_id)
    if row.state != "active" and not allow_ended:
        raise Conflict(f"process instance {row.id} is {row.state}")
    if row.suspended and not allow_suspended:
        raise Conflict(f"process instance {row.id} is suspended")
    graph = await commands.graphs.get(session, row.definition_id)
    step = Step(
        session,
        ctx,
        row,
        graph,
        utcnow(),
        actor,
        HistoryWriter(row.id, row.history_hash, ctx.extras["history_keys"]),
        reason=reason,
    )
    yield step
    await record_step(step)


async def task_row(session: AsyncSession, task_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    """The task's row (404 if there is none); `lock` holds it until the unit of work ends."""
    query = select(tasks).where(tasks.c.id == task_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    return dict(row)


def task_event_data(step: Step, task: Mapping[str, Any]) -> dict[str, Any]:
    """The common fields of a task event, plus the instance's initiator and business key."""
    return {
        **step.task_common(str(task["id"]), task["node_id"], task["name"]),
        "initiator": step.row.initiator,
        "business_key": step.row.business_key,
    }
