"""Process analytics: runtime events in through the consumer, summaries out through the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import statistics

import pytest

from bpm_common.ids import new_id
from tests.metrics.support import T0, Metrics, Run, iso

SUMMARY_FIELDS = {
    "key",
    "version",
    "started",
    "completed",
    "running",
    "terminated",
    "avg_cycle_seconds",
    "median_cycle_seconds",
    "p90_cycle_seconds",
    "min_cycle_seconds",
    "max_cycle_seconds",
    "tasks_created",
    "tasks_completed",
    "open_tasks",
    "avg_task_seconds",
    "department",
    "rejected",
    "withdrawn",
    "avg_cycle_working_seconds",
    "median_cycle_working_seconds",
    "p90_cycle_working_seconds",
    "avg_satisfaction",
    "satisfaction_responses",
    "tasks_returned",
    "avg_queue_seconds",
    "avg_work_seconds",
    "rejection_rate",
    "return_rate",
    "loops_per_instance",
    "sla_compliance_rate",
    "overdue_tasks",
}


def key(prefix: str = "expense") -> str:
    return f"{prefix}-{new_id()[-8:]}"


def cycle_stats(cycles: list[float]) -> dict[str, float]:
    """What the API must report, computed here from the timestamps the events carried."""
    return {
        "avg_cycle_seconds": statistics.fmean(cycles),
        "median_cycle_seconds": statistics.median(cycles),
        "p90_cycle_seconds": statistics.quantiles(cycles, n=10, method="inclusive")[8],
        "min_cycle_seconds": min(cycles),
        "max_cycle_seconds": max(cycles),
    }


def assert_stats(summary: dict, cycles: list[float]) -> None:
    for name, expected in cycle_stats(cycles).items():
        assert summary[name] == pytest.approx(expected), name


async def test_summary_counts_and_cycle_times_per_version_and_over_all(metrics: Metrics):
    k = key()
    v1_cycles, v2_cycles = [600.0, 1800.0, 3600.0, 7200.0, 86400.0], [900.0, 2700.0, 5400.0, 4000.0]
    handling = iter([100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0])
    task_seconds = []
    events = []
    for version, cycles in ((1, v1_cycles), (2, v2_cycles)):
        for i, cycle in enumerate(cycles):
            run = Run(k, version=version, started_at=T0 + dt.timedelta(hours=i))
            task, seconds = new_id(), next(handling)
            task_seconds.append(seconds)
            events += [
                run.started(),
                run.task_created(task, "review", at_seconds=10),
                run.task_completed(task, "review", created_seconds=10, at_seconds=10 + seconds),
                run.completed(cycle),
            ]
    waiting = Run(k, version=1)
    stopped = Run(k, version=2)
    events += [
        waiting.started(),
        waiting.task_created(new_id(), "review"),
        stopped.started(),
        stopped.terminated(300),
    ]
    assert set(await metrics.deliver(*events)) == {"handled"}

    overall = await metrics.summary(k)
    assert set(overall) == SUMMARY_FIELDS
    assert overall["key"] == k and overall["version"] is None
    assert (
        overall["started"],
        overall["completed"],
        overall["running"],
        overall["terminated"],
    ) == (11, 9, 1, 1)
    assert_stats(overall, v1_cycles + v2_cycles)
    assert (overall["tasks_created"], overall["tasks_completed"], overall["open_tasks"]) == (
        10,
        9,
        1,
    )
    assert overall["avg_task_seconds"] == pytest.approx(statistics.fmean(task_seconds))

    v1 = await metrics.summary(k, version=1)
    assert v1["version"] == 1
    assert (v1["started"], v1["completed"], v1["running"], v1["terminated"]) == (6, 5, 1, 0)
    assert_stats(v1, v1_cycles)
    assert (v1["tasks_created"], v1["tasks_completed"], v1["open_tasks"]) == (6, 5, 1)
    assert v1["avg_task_seconds"] == pytest.approx(statistics.fmean(task_seconds[:5]))

    v2 = await metrics.summary(k, version=2)
    assert (v2["started"], v2["completed"], v2["running"], v2["terminated"]) == (5, 4, 0, 1)
    assert_stats(v2, v2_cycles)
    assert v2["open_tasks"] == 0


async def test_late_and_repeated_events_are_counted_once(metrics: Metrics):
    k = key()
    run, task = Run(k), new_id()
    started = run.started()
    created = run.task_created(task, "review", at_seconds=10)
    task_done = run.task_completed(task, "review", created_seconds=10, at_seconds=70)
    completed = run.completed(100)

    # the completion arrives first, the start last, and the completion is delivered twice
    outcomes = await metrics.deliver(completed, task_done, created, started, completed)
    assert outcomes == ["handled", "handled", "handled", "handled", "duplicate"]
    expected = {
        "started": 1,
        "completed": 1,
        "running": 0,
        "terminated": 0,
        "avg_cycle_seconds": 100.0,
        "median_cycle_seconds": 100.0,
        "p90_cycle_seconds": 100.0,
        "tasks_created": 1,
        "tasks_completed": 1,
        "open_tasks": 0,
        "avg_task_seconds": 60.0,
    }
    summary = await metrics.summary(k)
    assert {f: summary[f] for f in expected} == expected

    # the same facts announced again under new event ids change nothing either
    again = [dataclasses.replace(e, id=new_id()) for e in (started, created, task_done, completed)]
    assert await metrics.deliver(*again) == ["handled"] * 4
    summary = await metrics.summary(k)
    assert {f: summary[f] for f in expected} == expected


async def test_every_arrival_order_gives_the_same_result(metrics: Metrics):
    k = key()
    orders = 0
    for order in itertools.permutations(range(4)):
        run, task = Run(k), new_id()
        events = [
            run.started(),
            run.task_created(task, "review", at_seconds=30),
            run.task_completed(task, "review", created_seconds=30, at_seconds=90),
            run.completed(120),
        ]
        assert await metrics.deliver(*(events[i] for i in order)) == ["handled"] * 4
        orders += 1
    summary = await metrics.summary(k)
    assert (summary["started"], summary["completed"], summary["running"]) == (orders, orders, 0)
    assert summary["min_cycle_seconds"] == summary["max_cycle_seconds"] == 120.0
    assert (summary["tasks_created"], summary["tasks_completed"], summary["open_tasks"]) == (
        orders,
        orders,
        0,
    )
    assert summary["avg_task_seconds"] == 60.0


async def test_a_terminated_instance_stays_terminated_and_its_cancelled_task_is_not_open(
    metrics: Metrics,
):
    k = key()
    run, task = Run(k), new_id()
    started, created = run.started(), run.task_created(task, "review")
    cancelled, terminated = run.task_cancelled(task, "review", at_seconds=50), run.terminated(60)
    await metrics.deliver(terminated, cancelled, created, started)
    summary = await metrics.summary(k)
    assert (
        summary["started"],
        summary["completed"],
        summary["running"],
        summary["terminated"],
    ) == (1, 0, 0, 1)
    assert summary["avg_cycle_seconds"] is None, "cycle times are over completed instances only"
    assert (summary["tasks_created"], summary["tasks_completed"], summary["open_tasks"]) == (
        1,
        0,
        0,
    )


async def test_trial_instances_are_left_out_unless_asked_for(metrics: Metrics):
    k = key()
    live, trial = Run(k), Run(k, version=2, trial=True)
    live_task, trial_task, cancelled_task = new_id(), new_id(), new_id()
    await metrics.deliver(
        live.started(),
        live.task_created(live_task, "review"),
        live.task_completed(live_task, "review", at_seconds=40),
        live.completed(100),
        trial.started(),
        # task.cancelled does not say whether it is a trial; here it comes before the creation
        trial.task_cancelled(cancelled_task, "review", at_seconds=5),
        trial.task_created(cancelled_task, "review"),
        trial.task_created(trial_task, "approve", at_seconds=5),
        trial.completed(500),
    )
    live_only = await metrics.summary(k)
    assert (live_only["started"], live_only["completed"], live_only["avg_cycle_seconds"]) == (
        1,
        1,
        100.0,
    )
    assert (live_only["tasks_created"], live_only["open_tasks"]) == (1, 0)

    both = await metrics.summary(k, include_trial="true")
    assert (both["started"], both["completed"], both["avg_cycle_seconds"]) == (2, 2, 300.0)
    assert (both["tasks_created"], both["tasks_completed"], both["open_tasks"]) == (3, 1, 1)

    trial_version = await metrics.summary(k, version=2)
    assert (trial_version["started"], trial_version["tasks_created"]) == (0, 0)


async def test_time_window_on_start_time(metrics: Metrics):
    k = key()
    runs = [Run(k, started_at=T0 + dt.timedelta(days=d)) for d in range(3)]
    await metrics.deliver(
        *(e for r in runs for e in (r.started(), r.completed(60 * (1 + runs.index(r)))))
    )
    day1, day2 = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)

    assert (await metrics.summary(k, **{"from": iso(day1)}))["started"] == 2
    assert (await metrics.summary(k, to=iso(day1)))["started"] == 1, "`to` is exclusive"
    window = await metrics.summary(k, **{"from": iso(day1), "to": iso(day2)})
    assert (window["started"], window["avg_cycle_seconds"]) == (1, 120.0)
    naive_utc = await metrics.summary(k, **{"from": day1.replace(tzinfo=None).isoformat()})
    assert naive_utc["started"] == 2
    shifted = await metrics.summary(
        k, **{"from": day1.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()}
    )
    assert shifted["started"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"version": "0"}, "version"),
        ({"version": "two"}, "version"),
        ({"version": str(2**31)}, "version"),
        ({"from": "9999-12-31T23:59:59Z"}, "from"),
        ({"from": "9999-12-31T23:59:59+14:00"}, "from"),
        ({"to": "0001-01-01T00:00:00+14:00"}, "to"),
    ],
)
async def test_invalid_query_names_the_field(metrics: Metrics, params: dict, field: str):
    for view in ("summary", "nodes", "bottlenecks"):  # far-off times answered 500 (days out of range)
        response = await metrics.client.get(
            f"/api/v1/analytics/processes/expense/{view}",
            params=params,
            headers=metrics.client.as_user("ann", "analyst"),
        )
        assert response.status_code == 422, (view, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_process_without_data_has_zeros_and_nulls(metrics: Metrics):
    summary = await metrics.summary("never-started")
    assert set(summary) == SUMMARY_FIELDS
    assert summary["key"] == "never-started"
    counts = {"started", "completed", "running", "terminated", "rejected", "withdrawn"}
    counts |= {"tasks_created", "tasks_completed", "tasks_returned", "open_tasks"}
    counts |= {"satisfaction_responses", "overdue_tasks"}
    assert {f: summary[f] for f in counts} == dict.fromkeys(counts, 0)
    assert all(summary[f] is None for f in SUMMARY_FIELDS - counts - {"key"})
    assert (await metrics.summary("never-started", version=3))["version"] == 3


async def test_process_list_with_versions_counts_and_pages(metrics: Metrics):
    a, b, trial_only = "a-" + key(), "b-" + key(), "c-" + key()
    runs = [
        Run(a, version=1),
        Run(a, version=2),
        Run(a, version=2),
        Run(b),
        Run(trial_only, trial=True),
    ]
    await metrics.deliver(*(r.started() for r in runs), runs[0].completed(10))
    headers = metrics.client.as_user("olga", "process_owner")

    first = await metrics.client.get(
        "/api/v1/analytics/processes", params={"limit": 1}, headers=headers
    )
    assert first.status_code == 200, first.text
    [item] = first.json()["items"]
    assert item["key"] == a
    assert (item["started"], item["completed"], item["running"]) == (3, 1, 2)
    assert [
        (v["version"], v["started"], v["completed"], v["running"]) for v in item["versions"]
    ] == [
        (2, 2, 0, 2),
        (1, 1, 1, 0),
    ]
    cursor = first.json()["next_cursor"]
    assert cursor

    second = await metrics.client.get(
        "/api/v1/analytics/processes", params={"limit": 1, "cursor": cursor}, headers=headers
    )
    assert [i["key"] for i in second.json()["items"]] == [b]
    assert second.json()["next_cursor"] is None

    with_trial = await metrics.client.get(
        "/api/v1/analytics/processes", params={"include_trial": "true"}, headers=headers
    )
    assert [i["key"] for i in with_trial.json()["items"]] == [a, b, trial_only]

    bad = await metrics.client.get(
        "/api/v1/analytics/processes", params={"cursor": "%%%"}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "path", ["/api/v1/analytics/processes", "/api/v1/analytics/processes/expense/summary"]
)
async def test_only_analytics_roles_may_read(metrics: Metrics, path: str):
    client = metrics.client
    assert (await client.get(path)).status_code == 401
    assert (
        await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    ).status_code == 401
    refused = await client.get(path, headers=client.as_user("carol", "finance_reviewer"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    for role in ("admin", "process_designer", "analyst", "process_owner"):
        assert (
            await client.get(path, headers=client.as_user("someone", role))
        ).status_code == 200, role


async def test_an_unreadable_event_is_dead_lettered_and_changes_nothing(metrics: Metrics):
    k = key()
    run = Run(k)
    broken = run.started()
    del broken.data["definition_key"]
    assert await metrics.deliver(broken) == ["dead"]
    assert len(metrics.broker.messages("BPM_DLQ")) == 1
    assert (await metrics.summary(k))["started"] == 0
