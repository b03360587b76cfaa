"""Reads of the daily aggregates over a period: whole UTC days from `node_daily` and
`reason_daily`, the partial days at either end from `task_facts` (through the same
contribution function the handlers use), so any period is exact and cheap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.facts import contributions as contrib
from services.metrics.facts.models import node_daily, reason_daily, task_facts


@dataclass(frozen=True, slots=True)
class AggregateScope:
    """Tasks of one process (or every process) that ended worked in a period."""

    key: str | None
    version: int | None = None
    include_trial: bool = False
    department: str | None = None
    ended_from: dt.datetime | None = None
    """Inclusive."""
    ended_to: dt.datetime | None = None
    """Exclusive."""

    def conditions(self, table: Table, *, raw: bool) -> list[ColumnElement[bool]]:
        c = table.c
        conds: list[ColumnElement[bool]] = []
        if self.key is not None:
            conds.append(c.definition_key == self.key)
        if self.version is not None:
            conds.append(c.definition_version == self.version)
        if not self.include_trial:
            conds.append(c.trial.is_(False))
        if self.department is not None:
            conds.append(c.department == self.department)
        if raw:
            conds.append(c.state.in_(("completed", "returned")))
        return conds


@dataclass(frozen=True, slots=True)
class Split:
    """A period as whole UTC days [first_day, end_day) plus partial-day ranges."""

    first_day: dt.date | None
    end_day: dt.date | None
    partial: tuple[tuple[dt.datetime, dt.datetime], ...]
    whole_days: bool = True


def split(start: dt.datetime | None, end: dt.datetime | None) -> Split:
    first_day = None if start is None else _day_at_or_after(start)
    end_day = None if end is None else end.astimezone(dt.UTC).date()
    if first_day is not None and end_day is not None and first_day >= end_day:
        assert start is not None and end is not None
        return Split(None, None, ((start, end),), whole_days=False)
    partial = []
    if start is not None and first_day is not None and _midnight(first_day) > start:
        partial.append((start, _midnight(first_day)))
    if end is not None and end_day is not None and _midnight(end_day) < end:
        partial.append((_midnight(end_day), end))
    return Split(first_day, end_day, tuple(partial))


@dataclass
class NodeTotals:
    name: str | None = None
    values: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(contrib.NODE_MEASURES, 0)
    )


@dataclass
class CauseTotals:
    count: int = 0
    nodes: set[str] = field(default_factory=set)


async def node_totals(session: AsyncSession, scope: AggregateScope) -> dict[str, NodeTotals]:
    """The summed measures of each node over the scope's period."""
    parts = split(scope.ended_from, scope.ended_to)
    totals: dict[str, NodeTotals] = defaultdict(NodeTotals)
    if parts.whole_days:
        n = node_daily.c
        stmt = (
            select(n.node_id, func.max(n.name), *(func.sum(n[m]) for m in contrib.NODE_MEASURES))
            .where(*scope.conditions(node_daily, raw=False), *_days(node_daily, parts))
            .group_by(n.node_id)
        )
        for node_id, name, *sums in (await session.execute(stmt)).all():
            entry = totals[node_id]
            entry.name = name
            for measure, value in zip(contrib.NODE_MEASURES, sums, strict=True):
                entry.values[measure] += float(value or 0)
    for change in await _partial_contributions(session, scope, parts):
        if change.table != contrib.NODE_DAILY:
            continue
        entry = totals[change.key[5]]
        entry.name = entry.name or change.name
        for measure, value in change.values.items():
            entry.values[measure] += value
    return {node: t for node, t in totals.items() if t.values["tasks"] > 0}


async def cause_totals(
    session: AsyncSession, scope: AggregateScope
) -> dict[tuple[str, str], CauseTotals]:
    """Rejections and returns per (kind, normalised reason) over the scope's period."""
    parts = split(scope.ended_from, scope.ended_to)
    totals: dict[tuple[str, str], CauseTotals] = defaultdict(CauseTotals)
    if parts.whole_days:
        r = reason_daily.c
        stmt = (
            select(r.kind, r.reason, r.node_id, func.sum(r.count))
            .where(*scope.conditions(reason_daily, raw=False), *_days(reason_daily, parts))
            .group_by(r.kind, r.reason, r.node_id)
        )
        for kind, reason, node_id, count in (await session.execute(stmt)).all():
            _add_cause(totals, kind, reason, node_id, count)
    for change in await _partial_contributions(session, scope, parts):
        if change.table == contrib.REASON_DAILY:
            _add_cause(totals, change.key[6], change.key[7], change.key[5], change.values["count"])
    return {k: v for k, v in totals.items() if v.count > 0}


def _add_cause(
    totals: dict[tuple[str, str], CauseTotals], kind: str, reason: str, node_id: str, count: Any
) -> None:
    if not count:
        return
    entry = totals[(kind, reason)]
    entry.count += int(count)
    entry.nodes.add(node_id)


def _days(table: Table, parts: Split) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if parts.first_day is not None:
        conds.append(table.c.day >= parts.first_day)
    if parts.end_day is not None:
        conds.append(table.c.day < parts.end_day)
    return conds


async def _partial_contributions(
    session: AsyncSession, scope: AggregateScope, parts: Split
) -> Iterable[contrib.Contribution]:
    if not parts.partial:
        return []
    t = task_facts.c
    result: list[contrib.Contribution] = []
    for start, end in parts.partial:
        rows = await session.execute(
            select(task_facts).where(
                *scope.conditions(task_facts, raw=True), t.ended_at >= start, t.ended_at < end
            )
        )
        for row in rows.mappings():
            result += contrib.task_contributions(row)
    return result


def _day_at_or_after(moment: dt.datetime) -> dt.date:
    utc = moment.astimezone(dt.UTC)
    day = utc.date()
    return day if _midnight(day) == utc else day + dt.timedelta(days=1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
