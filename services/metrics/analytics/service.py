"""Rules of the analytics API: time windows, scopes and pages."""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from bpm_common.pagination import decode_cursor, encode_cursor, text
from services.metrics.analytics import aggregates, board, repository
from services.metrics.analytics.aggregates import AggregateScope, NodeTotals
from services.metrics.analytics.repository import Scope
from services.metrics.analytics.schemas import (
    Board,
    BoardAssignee,
    BoardCounts,
    BoardDepartment,
    BoardProcess,
    BottleneckNode,
    Bottlenecks,
    Cause,
    NodeStats,
    NodeStatsList,
    ProcessOverview,
    ProcessPage,
    ProcessSummary,
    Spread,
    VersionOverview,
)

MAX_CAUSES = 10
FIRST_YEAR, LAST_YEAR = 1900, 9000
"""Times a query may name (the whole days around a window must exist)."""


def window(
    start: dt.datetime | None, end: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A time window in UTC (a time without a zone is UTC); it must not be empty."""
    start, end = utc(start, "from"), utc(end, "to")
    if start is not None and end is not None and end <= start:
        raise Unprocessable(
            "the time window is empty", errors=[field_error("to", "must be later than 'from'")]
        )
    return start, end


def summary_scope(
    key: str,
    *,
    version: int | None,
    include_trial: bool,
    started_from: dt.datetime | None,
    started_to: dt.datetime | None,
    department: str | None = None,
) -> Scope:
    """The scope of a summary or of node statistics."""
    started_from, started_to = window(started_from, started_to)
    return Scope(key, version, include_trial, started_from, started_to, department)


async def summarize(session: AsyncSession, scope: Scope) -> ProcessSummary:
    """Counts, cycle times and rates of a process (zero and null for a key without data)."""
    values = await repository.summary(session, scope)
    return ProcessSummary(
        key=scope.key, version=scope.version, department=scope.department, **values
    )


async def node_statistics(session: AsyncSession, scope: Scope) -> NodeStatsList:
    rows = await repository.node_stats(session, scope)
    return NodeStatsList(key=scope.key, version=scope.version, items=[_node(r) for r in rows])


def _node(row: dict[str, Any]) -> NodeStats:
    def spread(prefix: str) -> Spread:
        return Spread(
            mean=row[f"avg_{prefix}_seconds"],
            median=row[f"median_{prefix}_seconds"],
            p90=row[f"p90_{prefix}_seconds"],
            working_mean=row[f"avg_{prefix}_working_seconds"],
            working_median=row[f"median_{prefix}_working_seconds"],
            working_p90=row[f"p90_{prefix}_working_seconds"],
        )

    return NodeStats(
        **{k: row[k] for k in NodeStats.model_fields if k in row and not k.endswith("_seconds")},
        rejection_rate=_rate(row["rejected"], row["decisions"]),
        queue_seconds=spread("queue"),
        work_seconds=spread("work"),
        duration_seconds=spread("duration"),
    )


async def bottlenecks(session: AsyncSession, scope: AggregateScope) -> Bottlenecks:
    """Nodes ranked by their share of the time spent in tasks and by waiting time, with
    the most frequent reasons for rejections and returns."""
    nodes = await aggregates.node_totals(session, scope)
    causes = await aggregates.cause_totals(session, scope)
    total = sum(n.values["duration_sum"] for n in nodes.values())
    waiting = sum(n.values["queue_sum"] for n in nodes.values())
    ranked = [_bottleneck(node_id, n, total, waiting) for node_id, n in nodes.items()]
    assert scope.key is not None
    return Bottlenecks(
        key=scope.key,
        version=scope.version,
        department=scope.department,
        period_from=scope.ended_from,
        period_to=scope.ended_to,
        total_seconds=total,
        total_waiting_seconds=waiting,
        by_share=sorted(ranked, key=lambda b: (-b.total_seconds, b.node_id)),
        by_waiting=sorted(ranked, key=lambda b: (-b.waiting_seconds, b.node_id)),
        rejection_causes=_causes(causes, "reject"),
        return_causes=_causes(causes, "return"),
    )


def _bottleneck(node_id: str, n: NodeTotals, total: float, waiting: float) -> BottleneckNode:
    v = n.values
    return BottleneckNode(
        node_id=node_id,
        name=n.name,
        tasks=int(v["tasks"]),
        total_seconds=v["duration_sum"],
        share=_rate(v["duration_sum"], total),
        mean_seconds=_rate(v["duration_sum"], v["tasks"]),
        mean_working_seconds=_rate(v["duration_working_sum"], v["tasks"]),
        waiting_seconds=v["queue_sum"],
        waiting_share=_rate(v["queue_sum"], waiting),
        mean_waiting_seconds=_rate(v["queue_sum"], v["queue_count"]),
        mean_waiting_working_seconds=_rate(v["queue_working_sum"], v["queue_count"]),
        mean_work_seconds=_rate(v["work_sum"], v["work_count"]),
        mean_work_working_seconds=_rate(v["work_working_sum"], v["work_count"]),
        rejection_rate=_rate(v["rejected"], v["decisions"]),
        return_rate=_rate(v["returned"], v["tasks"]),
        sla_compliance_rate=_rate(v["on_time"], v["due_count"]),
        overdue=int(v["overdue"]),
    )


def _causes(causes: dict[tuple[str, str], aggregates.CauseTotals], kind: str) -> list[Cause]:
    of_kind = [(reason, c) for (k, reason), c in causes.items() if k == kind]
    total = sum(c.count for _, c in of_kind)
    of_kind.sort(key=lambda rc: (-rc[1].count, rc[0]))
    return [
        Cause(reason=reason or None, count=c.count, share=c.count / total, node_ids=sorted(c.nodes))
        for reason, c in of_kind[:MAX_CAUSES]
    ]


async def monitoring_board(
    session: AsyncSession, f: board.BoardFilter, *, since: dt.datetime, limit: int
) -> Board:
    """Open, overdue, running and rejected work by process, department and assignee."""
    tasks = await board.open_tasks(session, f)
    running = await board.running_instances(session, f)
    rejected = await board.rejections(session, f, since)
    fields = ("running_instances", "open_tasks", "overdue_tasks", "rejected")

    def fold(rows_by: str) -> dict[Any, dict[str, int]]:
        out: dict[Any, dict[str, int]] = {}
        for rows in (tasks, running, rejected):
            for row in rows:
                if rows_by not in row:
                    continue
                entry = out.setdefault(row[rows_by], dict.fromkeys(fields, 0))
                for name in fields:
                    entry[name] += row.get(name, 0)
        return out

    def top(groups: dict[Any, dict[str, int]]) -> list[tuple[Any, dict[str, int]]]:
        ordered = sorted(
            groups.items(),
            key=lambda g: (-g[1]["open_tasks"], -g[1]["running_instances"], str(g[0])),
        )
        return ordered[:limit]

    totals = {
        name: sum(r.get(name, 0) for rows in (tasks, running, rejected) for r in rows)
        for name in fields
    }
    return Board(
        as_of=dt.datetime.now(dt.UTC),
        rejected_since=since,
        totals=BoardCounts(**totals),
        by_process=[BoardProcess(key=k, **v) for k, v in top(fold("key"))],
        by_department=[BoardDepartment(department=k, **v) for k, v in top(fold("department"))],
        by_assignee=[
            BoardAssignee(
                assignee=k,
                open_tasks=v["open_tasks"],
                overdue_tasks=v["overdue_tasks"],
                rejected=v["rejected"],
            )
            for k, v in top(fold("assignee"))
        ],
    )


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


async def list_processes(
    session: AsyncSession, *, include_trial: bool, limit: int, cursor: str | None
) -> ProcessPage:
    """Process keys in key order with their versions and instance counts."""
    after = _cursor_key(cursor)
    keys = await repository.process_keys(
        session, include_trial=include_trial, after=after, limit=limit + 1
    )
    page_keys = keys[:limit]
    rows = await repository.version_counts(session, page_keys, include_trial=include_trial)
    items = [
        _overview(key, list(versions)) for key, versions in groupby(rows, key=lambda r: r["key"])
    ]
    next_cursor = encode_cursor(page_keys[-1]) if len(keys) > limit else None
    return ProcessPage(items=items, next_cursor=next_cursor)


def _overview(key: str, versions: list[dict[str, Any]]) -> ProcessOverview:
    counts = {
        f: sum(v[f] for v in versions) for f in ("started", "completed", "running", "terminated")
    }
    started = [v["last_started_at"] for v in versions if v["last_started_at"] is not None]
    return ProcessOverview(
        key=key,
        **counts,
        last_started_at=max(started, default=None),
        versions=[
            VersionOverview(**{k: v for k, v in row.items() if k != "key"}) for row in versions
        ],
    )


def _cursor_key(cursor: str | None) -> str | None:
    values = decode_cursor(cursor, text)
    return values[0] if values else None


def utc(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """A time in UTC; a time without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        moment = None
    if moment is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise Unprocessable(
            "the time is out of range",
            errors=[field_error(field, f"must be in UTC between the years {FIRST_YEAR} and {LAST_YEAR}")],
        )
    return moment
