"""Writes to the analytical tables. Only flushes: the consumer's unit of work commits.

A record is applied in two steps that are safe with several replicas consuming
at once: insert it if the row does not exist yet (`ON CONFLICT DO NOTHING`),
otherwise lock the row, merge, and write the merged record back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, RowMapping, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import event_log, instance_facts, task_facts
from services.metrics.facts.parsing import LogEntry
from services.metrics.facts.records import (
    Applied,
    InstanceRecord,
    R,
    TaskRecord,
    as_row,
    instance_from_row,
    merge_instance,
    merge_task,
    task_from_row,
)


async def apply_instance(
    session: AsyncSession, incoming: InstanceRecord
) -> Applied[InstanceRecord]:
    return await _apply(
        session, instance_facts.c.instance_id, incoming, instance_from_row, merge_instance
    )


async def apply_task(session: AsyncSession, incoming: TaskRecord) -> Applied[TaskRecord]:
    if incoming.trial is None:
        incoming = dataclasses.replace(incoming, trial=await _known_trial(session, incoming))
    return await _apply(session, task_facts.c.task_id, incoming, task_from_row, merge_task)


async def _apply(
    session: AsyncSession,
    key: Column[Any],
    incoming: R,
    from_row: Callable[[RowMapping], R],
    merge: Callable[[R, R], R],
) -> Applied[R]:
    """Insert the record, or lock its row, merge and write the result back."""
    table, key_value = key.table, getattr(incoming, key.name)
    created = await session.execute(
        insert(table)
        .values(as_row(incoming))
        .on_conflict_do_nothing(index_elements=[key])
        .returning(key)
    )
    if created.first() is not None:
        return Applied(previous=None, record=incoming)
    locked = await session.execute(select(table).where(key == key_value).with_for_update())
    current = from_row(locked.mappings().one())
    merged = merge(current, incoming)
    if merged != current:
        await session.execute(
            update(table).where(key == key_value).values(**as_row(merged), updated_at=func.now())
        )
    return Applied(previous=current, record=merged)


async def _known_trial(session: AsyncSession, task: TaskRecord) -> bool:
    """Whether a task whose event does not say belongs to a trial instance, as far as known."""
    t = instance_facts
    trial = (
        await session.execute(select(t.c.trial).where(t.c.instance_id == task.instance_id))
    ).scalar_one_or_none()
    return bool(trial)


async def append_log(session: AsyncSession, entry: LogEntry) -> bool:
    """Append an event-log entry; False when the same fact is already logged."""
    values = dataclasses.asdict(entry)
    written = await session.execute(
        insert(event_log).values(values).on_conflict_do_nothing().returning(event_log.c.position)
    )
    return written.first() is not None
