"""Approval operations in the analytics: rejections, returns, rework loops, queue and work
time, deadlines, satisfaction, departments; per process, per node and as bottlenecks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from bpm_common.ids import new_id
from services.metrics.worktime.calendar import default_calendar, working_seconds
from tests.metrics.support import T0, Metrics, Run, iso

OFFICE = default_calendar("Asia/Shanghai")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def key() -> str:
    return f"expense-{new_id()[-8:]}"


class Expense:
    """Four expense claims whose numbers are worked out by hand in the tests below."""

    def __init__(self, k: str) -> None:
        self.key = k
        self.reworked = Run(k, department="sales")
        self.rejected = Run(k, department="finance")
        self.waiting = Run(k, department="sales")
        self.withdrawn = Run(k, department="sales")

    def events(self) -> list:
        r = self.reworked
        t = [new_id() for _ in range(6)]
        reworked = [
            r.started(),
            r.task_created(t[0], "review"),
            r.task_assigned(t[0], "review", at_seconds=600, assignee="bob"),
            r.task_completed(t[0], "review", at_seconds=1800, outcome="approve", actor="bob"),
            r.task_created(t[1], "finance", at_seconds=1800),
            r.task_completed(
                t[1],
                "finance",
                created_seconds=1800,
                at_seconds=5400,
                outcome="reject",
                comment="Receipt  missing.",
            ),
            r.task_created(t[2], "review", at_seconds=5400),
            r.task_completed(
                t[2], "review", created_seconds=5400, at_seconds=6000, outcome="approve"
            ),
            r.task_created(t[3], "finance", at_seconds=6000),
            r.task_returned(
                t[3], "finance", at_seconds=7000, reason="Amount wrong", target="review"
            ),
            r.task_cancelled(t[3], "finance", at_seconds=7000, reason="returned"),
            r.task_created(t[4], "review", at_seconds=7000),
            r.task_completed(
                t[4], "review", created_seconds=7000, at_seconds=7600, outcome="approve"
            ),
            r.task_created(t[5], "finance", at_seconds=7600, due_at=r.at(8000)),
            r.task_overdue(t[5], "finance", at_seconds=8000, due_at=r.at(8000)),
            r.task_completed(
                t[5], "finance", created_seconds=7600, at_seconds=9000, outcome="approve"
            ),
            r.completed(9000, satisfaction=4),
        ]
        j = self.rejected
        u = [new_id(), new_id()]
        rejected = [
            j.started(),
            j.task_created(u[0], "review", due_at=j.at(3600)),
            j.task_completed(u[0], "review", at_seconds=1200, outcome="approve"),
            j.task_created(u[1], "finance", at_seconds=1200),
            j.task_completed(
                u[1],
                "finance",
                created_seconds=1200,
                at_seconds=2400,
                outcome="reject",
                comment="receipt missing",
            ),
            j.completed(2400, result="rejected", satisfaction="5"),
        ]
        w, v = self.waiting, new_id()
        waiting = [
            w.started(),
            w.task_created(v, "review", due_at=w.at(3600)),
            w.task_assigned(v, "review", at_seconds=300, kind="transfer", assignee="dave"),
        ]
        x = self.withdrawn
        withdrawn = [x.started(), x.withdrawn(500), x.terminated(500, reason="withdrawn")]
        return reworked + rejected + waiting + withdrawn


async def test_summary_of_approvals_with_rework_rejections_and_deadlines(metrics: Metrics):
    scenario = Expense(key())
    assert set(await metrics.deliver(*scenario.events())) == {"handled"}

    s = await metrics.summary(scenario.key)
    counts = ("started", "completed", "running", "rejected", "withdrawn", "terminated")
    assert {c: s[c] for c in counts} == {
        "started": 4,
        "completed": 2,
        "running": 1,
        "rejected": 1,
        "withdrawn": 1,
        "terminated": 0,
    }
    assert s["avg_cycle_seconds"] == 5700.0
    assert (s["avg_satisfaction"], s["satisfaction_responses"]) == (4.5, 2)
    assert (s["tasks_created"], s["tasks_completed"], s["tasks_returned"], s["open_tasks"]) == (
        9,
        7,
        1,
        1,
    )
    assert s["rejection_rate"] == pytest.approx(2 / 7)
    assert s["return_rate"] == pytest.approx(1 / 8)
    assert s["sla_compliance_rate"] == 0.5
    assert s["overdue_tasks"] == 2, "one reported overdue, one still open past its due time"
    assert s["loops_per_instance"] == pytest.approx(9 / 5)
    assert s["avg_queue_seconds"] == pytest.approx(10500 / 9)
    expected_working = [working_seconds(T0, at(c), OFFICE) for c in (9000, 2400)]
    assert s["avg_cycle_working_seconds"] == pytest.approx(sum(expected_working) / 2)

    sales = await metrics.summary(scenario.key, department="sales")
    assert (sales["department"], sales["started"], sales["completed"], sales["withdrawn"]) == (
        "sales",
        3,
        1,
        1,
    )
    assert sales["rejection_rate"] == pytest.approx(1 / 5)


async def test_node_statistics(metrics: Metrics):
    scenario = Expense(key())
    await metrics.deliver(*scenario.events())

    nodes = await metrics.get(f"/api/v1/analytics/processes/{scenario.key}/nodes")
    assert [n["node_id"] for n in nodes["items"]] == ["review", "finance"]
    review, finance = nodes["items"]
    assert review["name"] == "Review"
    assert (review["tasks_created"], review["open"], review["completed"]) == (5, 1, 4)
    assert (review["instances"], review["loops_per_instance"]) == (3, pytest.approx(5 / 3))
    assert review["queue_seconds"]["median"] == 600.0, "claimed, transferred or decided"
    assert review["work_seconds"]["mean"] == 300.0, "claimed at 600 s, approved at 1800 s"
    queued = [(0, 600), (5400, 6000), (7000, 7600), (0, 1200), (0, 300)]
    assert review["queue_seconds"]["working_mean"] == pytest.approx(
        sum(working_seconds(at(a), at(b), OFFICE) for a, b in queued) / len(queued)
    )
    assert (review["overdue"], review["open_overdue"]) == (1, 1)
    assert review["sla_compliance_rate"] == 1.0

    assert (finance["completed"], finance["returned"], finance["cancelled"]) == (3, 1, 0)
    assert (finance["decisions"], finance["rejected"]) == (3, 2)
    assert finance["rejection_rate"] == pytest.approx(2 / 3)
    assert finance["return_rate"] == 0.25
    assert (finance["instances"], finance["loops_per_instance"]) == (2, 2.0)
    assert (finance["sla_compliance_rate"], finance["overdue"]) == (0.0, 1)
    assert finance["duration_seconds"]["mean"] == 1800.0


async def test_bottlenecks_rank_nodes_and_name_the_causes(metrics: Metrics):
    scenario = Expense(key())
    await metrics.deliver(*scenario.events())
    path = f"/api/v1/analytics/processes/{scenario.key}/bottlenecks"

    b = await metrics.get(path)
    assert [n["node_id"] for n in b["by_share"]] == ["finance", "review"]
    finance, review = b["by_share"]
    assert (b["total_seconds"], finance["total_seconds"], review["total_seconds"]) == (
        11400.0,
        7200.0,
        4200.0,
    )
    assert finance["share"] == pytest.approx(7200 / 11400)
    assert (finance["tasks"], finance["rejection_rate"], finance["return_rate"]) == (
        4,
        pytest.approx(2 / 3),
        0.25,
    )
    assert [n["node_id"] for n in b["by_waiting"]] == ["finance", "review"]
    assert (b["total_waiting_seconds"], review["waiting_seconds"]) == (10200.0, 3000.0)
    assert b["rejection_causes"] == [
        {"reason": "receipt missing", "count": 2, "share": 1.0, "node_ids": ["finance"]}
    ]
    assert b["return_causes"] == [
        {"reason": "amount wrong", "count": 1, "share": 1.0, "node_ids": ["finance"]}
    ]

    # a period of whole days reads the daily aggregates; partial days read the tasks
    midnight = dt.datetime.combine(T0.date(), dt.time(), tzinfo=dt.UTC)
    day = await metrics.get(
        path, **{"from": iso(midnight), "to": iso(midnight + dt.timedelta(days=1))}
    )
    around = await metrics.get(
        path,
        **{
            "from": iso(midnight - dt.timedelta(hours=19)),
            "to": iso(midnight + dt.timedelta(days=1, hours=5)),
        },
    )
    for period in (day, around):
        assert period["by_share"] == b["by_share"]
        assert period["rejection_causes"] == b["rejection_causes"]
    later = await metrics.get(path, **{"from": iso(T0 + dt.timedelta(seconds=2000))})
    by_node = {n["node_id"]: n["total_seconds"] for n in later["by_share"]}
    assert by_node == {"finance": 7200.0, "review": 1200.0}, "tasks ended from 2000 s on"
    assert later["rejection_causes"][0]["count"] == 2

    sales = await metrics.get(path, department="sales")
    assert {n["node_id"]: n["tasks"] for n in sales["by_share"]} == {"finance": 3, "review": 3}
    assert sales["rejection_causes"][0]["count"] == 1


def three_rejections(k: str) -> list:
    events = []
    for i, department in enumerate(("sales", "finance", "sales")):
        run, task = Run(k, department=department), new_id()
        events += [
            run.started(),
            run.task_created(task, "review"),
            run.task_assigned(task, "review", at_seconds=100 * (i + 1)),
            run.task_completed(
                task, "review", at_seconds=1000 * (i + 1), outcome="reject", comment=f"why {i}"
            ),
        ]
    return events


async def test_aggregates_follow_late_and_reordered_events(metrics: Metrics):
    """The daily aggregates equal a recount of the tasks whatever the arrival order."""
    k, k2 = key(), key()
    await metrics.deliver(*three_rejections(k))
    in_order = await metrics.get(f"/api/v1/analytics/processes/{k}/bottlenecks", department="sales")
    shuffled = three_rejections(k2)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a reproducible order
    for event in shuffled + shuffled[:3]:  # one at a time, some twice
        await metrics.deliver(event)
    reordered = await metrics.get(
        f"/api/v1/analytics/processes/{k2}/bottlenecks", department="sales"
    )
    assert reordered["by_share"] == in_order["by_share"]
    assert reordered["rejection_causes"] == in_order["rejection_causes"]
    [review] = reordered["by_share"]
    assert (review["tasks"], review["total_seconds"], review["waiting_seconds"]) == (
        2,
        4000.0,
        400.0,
    )


async def test_a_withdrawal_without_process_key_waits_for_its_instance(metrics: Metrics):
    run = Run(key())
    withdrawn = run.withdrawn(120)
    del withdrawn.data["definition_key"], withdrawn.data["definition_version"]
    assert await metrics.deliver(withdrawn) == ["retry"], "the instance is not known yet"
    # the refused event comes back after a delay; a copy of it is handled now the instance is known
    # (on a slow machine the original may already be back in the same pull: also handled)
    assert set(await metrics.deliver(run.started())) == {"handled"}
    assert set(await metrics.deliver(dataclasses.replace(withdrawn, id=new_id()))) == {"handled"}
    summary = await metrics.summary(run.key)
    assert (summary["started"], summary["withdrawn"], summary["running"]) == (1, 1, 0)


async def test_a_consumer_batch_counts_like_events_one_at_a_time(metrics: Metrics):
    """Under load the consumer handles many events in one transaction: same numbers."""
    one_by_one, batched = Expense(key()), Expense(key())
    await metrics.deliver(*one_by_one.events())
    events = batched.events()
    # tasks before their instance (its department reaches them in the same transaction),
    # and facts announced again under new ids
    events = events[1:4] + events[:1] + events[4:]
    events += [dataclasses.replace(e, id=new_id()) for e in events[2:6]]
    assert set(await metrics.deliver_batch(*events)) == {"handled"}

    for path in ("summary", "nodes", "bottlenecks"):
        expected = await metrics.get(f"/api/v1/analytics/processes/{one_by_one.key}/{path}")
        got = await metrics.get(f"/api/v1/analytics/processes/{batched.key}/{path}")
        expected.pop("key", None), got.pop("key", None)
        assert got == expected, path
    sales = {
        k.key: await metrics.get(
            f"/api/v1/analytics/processes/{k.key}/bottlenecks", department="sales"
        )
        for k in (one_by_one, batched)
    }
    assert sales[batched.key]["by_share"] == sales[one_by_one.key]["by_share"]
