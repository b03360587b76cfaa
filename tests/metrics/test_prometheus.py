"""Business metrics in this service's Prometheus exposition."""

from __future__ import annotations

import datetime as dt

from bpm_common.ids import new_id
from tests.metrics.support import Metrics, Run, sample


async def test_business_gauges_and_cycle_time_histogram(metrics: Metrics):
    k = f"purchase-{new_id()[-8:]}"
    now = dt.datetime.now(dt.UTC)
    late, waiting, done, trial = Run(k), Run(k), Run(k), Run(k, trial=True)
    await metrics.deliver(
        late.started(),
        late.task_created(new_id(), "review", due_at=now - dt.timedelta(days=1)),
        waiting.started(),
        waiting.task_created(new_id(), "review", due_at=now + dt.timedelta(days=1)),
        done.started(),
        done.completed(3600),
        done.completed(3600),  # repeated: observed once
        trial.started(),
        trial.task_created(new_id(), "review", due_at=now - dt.timedelta(days=1)),
        trial.completed(60),
    )

    response = await metrics.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert sample(text, "bpm_analytics_instances_running", process=k) == 2
    assert sample(text, "bpm_analytics_open_tasks", process=k) == 2
    assert sample(text, "bpm_analytics_overdue_tasks", process=k) == 1
    assert sample(text, "bpm_analytics_cycle_time_seconds_count", process=k) == 1
    assert sample(text, "bpm_analytics_cycle_time_seconds_sum", process=k) == 3600
    assert sample(text, "bpm_analytics_cycle_time_seconds_bucket", process=k, le="1800.0") == 0
    assert sample(text, "bpm_analytics_cycle_time_seconds_bucket", process=k, le="3600.0") == 1

    # the gauges are read at scrape time; a process with nothing running reports zero
    finished = Run(f"leave-{new_id()[-8:]}")
    await metrics.deliver(waiting.completed(7200), finished.started(), finished.completed(60))
    text = (await metrics.client.get("/metrics")).text
    assert sample(text, "bpm_analytics_instances_running", process=k) == 1
    assert sample(text, "bpm_analytics_instances_running", process=finished.key) == 0
    assert sample(text, "bpm_analytics_open_tasks", process=finished.key) == 0
    assert sample(text, "bpm_analytics_cycle_time_seconds_count", process=k) == 2
    assert sample(text, "bpm_analytics_cycle_time_seconds_sum", process=k) == 3600 + 7200
