"""Business metrics for Prometheus, served by this service's `/metrics`.

- `bpm_analytics_cycle_time_seconds{process}`: a histogram observed once per
  instance, when its completion is first recorded, after the commit.
- `bpm_analytics_instances_running{process}`, `bpm_analytics_open_tasks{process}`,
  `bpm_analytics_overdue_tasks{process}`: gauges read from the database at
  scrape time (by `GaugeRefreshMiddleware`), so they are right across restarts
  and replicas. The queries only touch unfinished rows, through partial indexes.

Trial instances and their tasks are left out, as in the analytics API. The
runtime exposes its own counters (`bpm_process_instances_*_total`); these names
differ on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import Database, after_commit
from services.metrics.analytics.repository import process_keys
from services.metrics.facts.models import instance_facts, task_facts

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
# fmt: off
CYCLE_TIME_BUCKETS = (
    _MINUTE, 5 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE,
    _HOUR, 2 * _HOUR, 4 * _HOUR, 8 * _HOUR,
    _DAY, 2 * _DAY, 3 * _DAY, 5 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY,
)
# fmt: on

CYCLE_TIME = Histogram(
    "bpm_analytics_cycle_time_seconds",
    "Cycle time of completed process instances (start to end), by process key",
    ["process"],
    buckets=CYCLE_TIME_BUCKETS,
)


def observe_cycle_time_after_commit(session: AsyncSession, process: str, seconds: float) -> None:
    """Count a completed instance's cycle time once the unit of work committed."""
    after_commit(session, lambda: CYCLE_TIME.labels(process).observe(seconds))


@dataclass(frozen=True, slots=True)
class GaugeSnapshot:
    running: dict[str, int] = field(default_factory=dict)
    open_tasks: dict[str, int] = field(default_factory=dict)
    overdue_tasks: dict[str, int] = field(default_factory=dict)


_GAUGES = (
    ("bpm_analytics_instances_running", "Process instances running now, by process key", "running"),
    ("bpm_analytics_open_tasks", "User tasks waiting to be worked, by process key", "open_tasks"),
    (
        "bpm_analytics_overdue_tasks",
        "Open user tasks past their due time, by process key",
        "overdue_tasks",
    ),
)


MAX_PROCESSES = 10_000


async def read_snapshot(db: Database) -> GaugeSnapshot:
    """Read the gauges; every process with live instances has a value, zero included."""
    i, t = instance_facts, task_facts
    async with db.transaction() as session:
        keys = await process_keys(session, include_trial=False, after=None, limit=MAX_PROCESSES)
        running = (
            await session.execute(
                select(i.c.definition_key, func.count())
                .where(i.c.state == "running", i.c.trial.is_(False))
                .group_by(i.c.definition_key)
            )
        ).all()
        overdue = func.count().filter(t.c.due_at < func.now())
        tasks = (
            await session.execute(
                select(t.c.definition_key, func.count(), overdue)
                .where(t.c.state == "open", t.c.trial.is_(False))
                .group_by(t.c.definition_key)
            )
        ).all()
    zeros = dict.fromkeys(keys, 0)
    return GaugeSnapshot(
        running=zeros | {key: n for key, n in running},
        open_tasks=zeros | {key: n for key, n, _ in tasks},
        overdue_tasks=zeros | {key: n for key, _, n in tasks},
    )


class BusinessGauges(Collector):
    """Yields the gauges of the last snapshot; `GaugeRefreshMiddleware` keeps it current.

    A missing snapshot (never read, or the last read failed) leaves the gauges
    out of the scrape: stale numbers would look like real ones.
    """

    def __init__(self) -> None:
        self.snapshot: GaugeSnapshot | None = None

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, doc, labels=["process"]) for name, doc, _ in _GAUGES]

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        for name, doc, attribute in _GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["process"])
            for process, value in sorted(getattr(snapshot, attribute).items()):
                family.add_metric([process], value)
            yield family


BUSINESS_GAUGES = BusinessGauges()
REGISTRY.register(BUSINESS_GAUGES)
