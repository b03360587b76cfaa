"""The event log of one process, case by case, streamed from the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import RowMapping, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import event_log, instance_facts

BATCH = 2000


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The cases (instances) of one process to export, with all their events."""

    key: str
    version: int | None = None
    include_trial: bool = False
    department: str | None = None
    started_from: dt.datetime | None = None
    started_to: dt.datetime | None = None


def statement(f: LogFilter) -> Select:
    e, i = event_log.c, instance_facts.c
    stmt = (
        select(
            e.case_id,
            e.activity,
            e.activity_name,
            e.lifecycle,
            e.occurred_at,
            e.resource,
            e.event_type,
            e.task_id,
            e.definition_key,
            e.definition_version,
            e.attributes,
            i.business_key,
            i.department,
            i.started_at.label("case_started_at"),
        )
        .select_from(event_log.join(instance_facts, i.instance_id == e.case_id))
        .where(e.definition_key == f.key, i.definition_key == f.key)
        .order_by(i.started_at, e.case_id, e.occurred_at, e.sequence, e.position)
    )
    if f.version is not None:
        stmt = stmt.where(i.definition_version == f.version)
    if not f.include_trial:
        stmt = stmt.where(i.trial.is_(False), e.trial.is_(False))
    if f.department is not None:
        stmt = stmt.where(i.department == f.department)
    if f.started_from is not None:
        stmt = stmt.where(i.started_at >= f.started_from)
    if f.started_to is not None:
        stmt = stmt.where(i.started_at < f.started_to)
    return stmt


async def events(session: AsyncSession, f: LogFilter) -> AsyncIterator[RowMapping]:
    """Every event of the selected cases, case after case, each case in time order."""
    result = await session.stream(statement(f).execution_options(yield_per=BATCH))
    async for row in result.mappings():
        yield row
