"""What the history says for a what-if: node durations, node visits, cycle times, models."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts.models import instance_facts, process_models, task_facts
from services.metrics.whatif.simulate import Recorded

SAMPLES_PER_NODE = 5000
CYCLE_SAMPLES = 20_000


@dataclass(frozen=True, slots=True)
class History:
    key: str
    version: int | None
    include_trial: bool

    def conditions(self, table: Table) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [table.c.definition_key == self.key]
        if self.version is not None:
            conds.append(table.c.definition_version == self.version)
        if not self.include_trial:
            conds.append(table.c.trial.is_(False))
        return conds


async def recorded(session: AsyncSession, h: History) -> Recorded:
    t = task_facts.c
    newest = func.row_number().over(partition_by=t.node_id, order_by=t.ended_at.desc()).label("n")
    ranked = (
        select(t.node_id, t.duration_seconds, newest)
        .where(
            *h.conditions(task_facts),
            t.state.in_(("completed", "returned")),
            t.duration_seconds.is_not(None),
        )
        .subquery()
    )
    durations: dict[str, list[float]] = defaultdict(list)
    rows = await session.execute(
        select(ranked.c.node_id, ranked.c.duration_seconds).where(ranked.c.n <= SAMPLES_PER_NODE)
    )
    for node_id, seconds in rows.all():
        durations[node_id].append(seconds)
    visits = await session.execute(
        select(
            t.node_id,
            func.count(func.distinct(t.instance_id)),
            func.count(func.distinct(func.concat(t.instance_id, "@", t.created_at))),
        )
        .where(*h.conditions(task_facts))
        .group_by(t.node_id)
    )
    instances, runs = {}, {}
    for node_id, n_instances, n_runs in visits.all():
        instances[node_id], runs[node_id] = n_instances, n_runs
    i = instance_facts.c
    completed = await session.scalar(
        select(func.count()).where(*h.conditions(instance_facts), i.state == "completed")
    )
    return Recorded(dict(durations), instances, runs, int(completed or 0))


async def cycle_times(session: AsyncSession, h: History) -> list[float]:
    """Cycle times of the newest completed instances."""
    i = instance_facts.c
    rows = await session.execute(
        select(i.cycle_seconds)
        .where(*h.conditions(instance_facts), i.state == "completed", i.cycle_seconds.is_not(None))
        .order_by(i.ended_at.desc())
        .limit(CYCLE_SAMPLES)
    )
    return list(rows.scalars())


async def model(session: AsyncSession, key: str, version: int | None) -> tuple[int, bytes] | None:
    """The BPMN of a version (the newest known when `version` is None)."""
    m = process_models.c
    stmt = select(m.definition_version, m.bpmn).where(m.definition_key == key)
    if version is not None:
        stmt = stmt.where(m.definition_version == version)
    row = (await session.execute(stmt.order_by(m.definition_version.desc()).limit(1))).first()
    return None if row is None else (row[0], row[1])
