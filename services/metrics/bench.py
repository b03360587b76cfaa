"""Speed of the analytics queries on a year of history: `bench_queries(server_url)`.

Creates a scratch database on the PostgreSQL server, migrates it, bulk-loads
100 000 completed expense claims with their tasks (COPY, not the event
handlers one by one) and the daily aggregates the handlers would have kept
(summed with the same contribution function), then times the bottleneck
ranking and the weekly report through the service functions the API calls.
Returns the median milliseconds of several runs; the scratch database is
dropped afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.engine import URL, make_url

from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.migrations import upgrade_to_head
from services.metrics.analytics import service as analytics
from services.metrics.analytics.aggregates import AggregateScope
from services.metrics.facts import contributions as contrib
from services.metrics.reports import service as reports
from services.metrics.reports.repository import Period
from services.metrics.worktime.calendar import default_calendar, working_seconds

DATABASE = "bench_metrics_queries"
KEY = "expense-reimbursement"
TIMEZONE = "Asia/Shanghai"
ORIGIN = dt.datetime(2025, 11, 24, tzinfo=ZoneInfo(TIMEZONE))  # a Monday; a year of claims
DEPARTMENTS = ("sales", "finance", "engineering", "operations", "hr", "marketing")
REJECTIONS = (
    "receipt missing",
    "amount over budget",
    "not a business expense",
    "duplicate claim",
    "wrong cost centre",
    "missing approval from project lead",
)
RETURNS = ("attach the invoice", "amount does not match the receipt", "wrong expense type")
HOUR = 3600.0

TASK_COLUMNS = (
    "task_id", "instance_id", "definition_key", "definition_version", "node_id", "name",
    "trial", "department", "state", "assignee", "candidate_users", "candidate_roles", "due_at",
    "created_at", "first_action_at", "ended_at", "overdue_at", "actor", "outcome", "comment",
    "end_reason", "returned_to", "duration_seconds", "duration_working_seconds",
    "queue_seconds", "queue_working_seconds", "work_seconds", "work_working_seconds",
    "last_sequence",
)  # fmt: skip
INSTANCE_COLUMNS = (
    "instance_id", "definition_key", "definition_version", "business_key", "initiator",
    "department", "trial", "state", "result", "satisfaction", "started_at", "ended_at",
    "cycle_seconds", "cycle_working_seconds", "last_sequence",
)  # fmt: skip
NODES = {
    "department_review": ("Department review", "bob", 3 * HOUR, 0.3 * HOUR, 86400.0),
    "finance_review": ("Finance review", "carol", 5 * HOUR, 0.5 * HOUR, 86400.0),
    "director_approval": ("Finance director approval", "dave", 8 * HOUR, 0.2 * HOUR, 86400.0),
    "cashier_payment": ("Cashier payment", "erin", 4 * HOUR, 0.1 * HOUR, 43200.0),
}


@dataclass
class _Load:
    rng: random.Random
    instances: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    aggregates: dict[tuple[str, tuple], Any] = field(default_factory=dict)


def _claims(count: int, seed: int) -> _Load:
    """`count` completed claims spread over a year, with realistic tasks."""
    load = _Load(random.Random(seed))  # noqa: S311 - test data, reproducible by its seed
    calendar = default_calendar(TIMEZONE)
    for n in range(count):
        _claim(load, n, count, calendar)
    return load


def _claim(load: _Load, n: int, count: int, calendar: Any) -> None:
    rng = load.rng
    day = ORIGIN + dt.timedelta(days=int(n * 364 / count))
    if day.weekday() >= 5:
        day += dt.timedelta(days=7 - day.weekday())
    start = day + dt.timedelta(hours=9 + rng.random() * 9)
    version = 1 if n < count // 2 else 2
    department = rng.choice(DEPARTMENTS)
    instance_id, at, sequence = uuid.uuid4(), start + dt.timedelta(seconds=30), 2
    steps = ["department_review", "finance_review"]
    result = "approved"
    i = 0
    while i < len(steps):
        node = steps[i]
        outcome, reason = _decide(rng, node, steps)
        at = _task(load, instance_id, version, department, node, at, outcome, reason, sequence,
                   calendar)  # fmt: skip
        sequence += 2
        if outcome == "reject":
            result = "rejected"
            break
        if outcome == "return":
            steps[i + 1 : i + 1] = ["department_review", "finance_review"]
        elif node == "finance_review" and "director_approval" not in steps and rng.random() < 0.2:
            steps.insert(i + 1, "director_approval")
        if i == len(steps) - 1 and node != "cashier_payment" and result == "approved":
            steps.append("cashier_payment")
        i += 1
    end = at + dt.timedelta(seconds=rng.uniform(1, 60))
    cycle = (end - start).total_seconds()
    load.instances.append(
        (
            instance_id,
            KEY,
            version,
            f"EX-{n:06d}",
            f"user{n % 500}",
            department,
            False,
            "completed",
            result,
            float(rng.randint(3, 5)) if rng.random() < 0.3 else None,
            start,
            end,
            cycle,
            working_seconds(start, end, calendar),
            sequence,
        )  # fmt: skip
    )


def _decide(rng: random.Random, node: str, steps: list[str]) -> tuple[str | None, str | None]:
    draw = rng.random()
    if node in ("department_review", "finance_review", "director_approval") and draw < 0.04:
        return "reject", rng.choice(REJECTIONS)
    if node == "finance_review" and draw < 0.12 and steps.count("finance_review") < 3:
        return "return", rng.choice(RETURNS)
    return ("approve" if node != "cashier_payment" else None), None


def _task(
    load: _Load,
    instance_id: uuid.UUID,
    version: int,
    department: str,
    node: str,
    created: dt.datetime,
    outcome: str | None,
    reason: str | None,
    sequence: int,
    calendar: Any,
) -> dt.datetime:
    rng = load.rng
    name, actor, mean_queue, mean_work, due = NODES[node]
    queue = rng.expovariate(1 / mean_queue)
    work = rng.expovariate(1 / mean_work)
    acted = created + dt.timedelta(seconds=queue)
    ended = acted + dt.timedelta(seconds=work)
    due_at = created + dt.timedelta(seconds=due)
    returned = outcome == "return"
    row = dict(
        zip(
            TASK_COLUMNS,
            (
                uuid.uuid4(),
                instance_id,
                KEY,
                version,
                node,
                name,
                False,
                department,
                "returned" if returned else "completed",
                actor,
                [],
                [node + "_role"],
                due_at,
                created,
                acted,
                ended,
                due_at if ended > due_at else None,
                actor,
                None if returned else outcome,
                reason if outcome == "reject" else None,
                reason if returned else None,
                "department_review" if returned else None,
                queue + work,
                working_seconds(created, ended, calendar),
                queue,
                working_seconds(created, acted, calendar),
                work,
                working_seconds(acted, ended, calendar),
                sequence,
            ),  # fmt: skip
            strict=True,
        )
    )
    load.tasks.append(tuple(row.values()))
    for c in contrib.task_contributions(row):
        values, _ = load.aggregates.setdefault((c.table, c.key), ({}, c.name))
        for measure, value in c.values.items():
            values[measure] = values.get(measure, 0) + value
    return ended + dt.timedelta(seconds=rng.uniform(1, 5))


async def _copy(url: URL, load: _Load) -> None:
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.query.get("host") or url.host,
        port=url.port,
        database=url.database,
    )
    try:
        await conn.copy_records_to_table(
            "instance_facts", records=load.instances, columns=INSTANCE_COLUMNS
        )
        await conn.copy_records_to_table("task_facts", records=load.tasks, columns=TASK_COLUMNS)
        for table, measures, keys in (
            (contrib.NODE_DAILY, contrib.NODE_MEASURES, 6),
            (contrib.REASON_DAILY, contrib.REASON_MEASURES, 8),
        ):
            rows = [
                (*key, *(values.get(m, 0) for m in measures), *([name] if keys == 6 else []))
                for (t, key), (values, name) in load.aggregates.items()
                if t == table
            ]
            columns = [
                "definition_key", "definition_version", "trial", "department", "day", "node_id",
                *(["kind", "reason"] if keys == 8 else []), *measures,
                *(["name"] if keys == 6 else []),
            ]  # fmt: skip
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _median_ms(db: Database, query: Callable[[Any], Awaitable[Any]], repeats: int) -> float:
    timings = []
    for _ in range(repeats + 1):  # the first run warms the caches and is not counted
        async with db.transaction() as session:
            started = time.perf_counter()
            await query(session)
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings[1:]), 2)


async def bench_queries(
    server_url: str, *, instances: int = 100_000, repeats: int = 7, seed: int = 1849
) -> dict[str, float]:
    """Median milliseconds of the bottleneck ranking (all of a process's history) and of the
    weekly report (every process, one week) over `instances` completed instances."""
    server = make_url(server_url).set(drivername="postgresql+asyncpg")
    url = server.set(database=DATABASE)
    await drop_database(server, DATABASE)
    await ensure_database(url)
    db = Database(url, application_name="metrics-bench")
    try:
        await upgrade_to_head(db.engine, Path(__file__).parent / "migrations", "metrics")
        load = await asyncio.to_thread(_claims, instances, seed)
        await _copy(url, load)
        label, start, end = reports.week_period("2026-W20", TIMEZONE)
        scope = AggregateScope(KEY)
        period = Period(start, end)
        return {
            "bottleneck_query_ms": await _median_ms(
                db, lambda s: analytics.bottlenecks(s, scope), repeats
            ),
            "weekly_report_query_ms": await _median_ms(
                db, lambda s: reports.weekly_report(s, label, TIMEZONE, period), repeats
            ),
        }
    finally:
        await db.dispose()
        await drop_database(server, DATABASE)


if __name__ == "__main__":
    import os
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else os.environ["BPM_DATABASE_URL"]
    print(asyncio.run(bench_queries(target)))  # noqa: T201
