"""The live monitoring board, and the business calendar behind working time."""

from __future__ import annotations

import datetime as dt

import pytest

from bpm_common.ids import new_id
from tests.metrics.support import T0, Metrics, Run, iso

ADMIN = ("ada", "admin")


async def test_board_counts_open_overdue_running_and_rejected_work(metrics: Metrics):
    k, other = f"purchase-{new_id()[-8:]}", f"leave-{new_id()[-8:]}"
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(hours=3)
    sales = Run(k, department="sales", started_at=start)
    finance = Run(k, department="finance", started_at=start)
    leave = Run(other, department="sales", started_at=start)
    trial = Run(k, department="sales", started_at=start, trial=True)
    late, waiting, held, rejected, leave_task = (new_id() for _ in range(5))
    await metrics.deliver(
        sales.started(),
        sales.task_created(late, "review", due_at=now - dt.timedelta(hours=1), assignee="bob"),
        sales.task_created(waiting, "approve", due_at=now + dt.timedelta(hours=1)),
        finance.started(),
        finance.task_created(held, "review", assignee="carol"),
        finance.task_created(rejected, "approve"),
        finance.task_completed(
            rejected, "approve", at_seconds=3600, actor="dave", outcome="reject", comment="no"
        ),
        leave.started(),
        leave.task_created(leave_task, "approve", assignee="bob"),
        leave.task_overdue(leave_task, "approve", at_seconds=60, due_at=start),
        trial.started(),
        trial.task_created(new_id(), "review", assignee="bob", due_at=start),
    )
    board = await metrics.get("/api/v1/analytics/board")
    mine = {p["key"]: p for p in board["by_process"]}
    assert {
        kk: (v["running_instances"], v["open_tasks"], v["overdue_tasks"], v["rejected"])
        for kk, v in mine.items()
        if kk in (k, other)
    } == {
        k: (2, 3, 1, 1),
        other: (1, 1, 1, 0),
    }

    only = await metrics.get("/api/v1/analytics/board", process=k)
    assert only["totals"] == {
        "running_instances": 2,
        "open_tasks": 3,
        "overdue_tasks": 1,
        "rejected": 1,
    }
    departments = {d["department"]: d for d in only["by_department"]}
    assert (departments["sales"]["open_tasks"], departments["sales"]["overdue_tasks"]) == (2, 1)
    assert (departments["finance"]["open_tasks"], departments["finance"]["rejected"]) == (1, 1)
    assignees = {a["assignee"]: a for a in only["by_assignee"]}
    assert set(assignees) == {"bob", "carol", None, "dave"}
    assert (assignees["bob"]["open_tasks"], assignees["bob"]["overdue_tasks"]) == (1, 1)
    assert (assignees[None]["open_tasks"], assignees["dave"]["rejected"]) == (1, 1)

    bob = await metrics.get("/api/v1/analytics/board", assignee="bob")
    bob_processes = {p["key"]: p["open_tasks"] for p in bob["by_process"] if p["open_tasks"]}
    assert bob_processes == {k: 1, other: 1}
    sales_only = await metrics.get("/api/v1/analytics/board", process=k, department="sales")
    assert sales_only["totals"]["running_instances"] == 1
    with_trial = await metrics.get("/api/v1/analytics/board", process=k, include_trial="true")
    assert with_trial["totals"]["open_tasks"] == 4
    since_later = await metrics.get(
        "/api/v1/analytics/board", process=k, rejected_since=iso(now - dt.timedelta(minutes=30))
    )
    assert since_later["totals"]["rejected"] == 0


async def test_the_default_calendar_and_an_administrators_change(metrics: Metrics):
    calendar = await metrics.get("/api/v1/analytics/calendar")
    assert calendar["timezone"] == "Asia/Shanghai"
    assert calendar["working_hours"]["mon"] == [{"start": "09:00", "end": "18:00"}]
    assert calendar["working_hours"]["sat"] == []
    assert calendar["updated_at"] is None

    body = {
        "timezone": "UTC",
        "working_hours": {
            day: [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
            for day in ("mon", "tue", "wed", "thu", "fri")
        },
        "holidays": ["2026-03-03"],
        "extra_working_days": ["2026-03-07"],
    }
    headers = metrics.client.as_user(*ADMIN)
    put = await metrics.client.put("/api/v1/analytics/calendar", json=body, headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["updated_by"] == "ada"
    assert (await metrics.get("/api/v1/analytics/calendar"))["holidays"] == ["2026-03-03"]

    # facts that close from now on are measured with it: Monday 09:00 UTC to Wednesday 09:00
    k = f"expense-{new_id()[-8:]}"
    run = Run(k, started_at=T0)
    await metrics.deliver(run.started(), run.completed(2 * 86400))
    summary = await metrics.summary(k)
    assert summary["avg_cycle_working_seconds"] == (7 + 0 + 1) * 3600  # the Tuesday is a holiday


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"working_hours": {"mon": [{"start": "18:00", "end": "09:00"}]}}, "working_hours.mon"),
        (
            {
                "working_hours": {
                    "tue": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]
                }
            },
            "working_hours.tue",
        ),
        (
            {"working_hours": {"wed": [{"start": "9:00", "end": "12:00"}]}},
            "working_hours.wed.0.start",
        ),
        ({"holidays": ["2026-05-01"], "extra_working_days": ["2026-05-01"]}, "extra_working_days"),
        # as the runtime's calendars: IANA zones only, every weekday key known, some working hours
        ({"timezone": "localtime"}, "timezone"),
        ({"working_hours": {"monday": [{"start": "09:00", "end": "18:00"}]}}, "working_hours.monday"),
        ({"working_hours": {}}, "working_hours"),
    ],
)
async def test_an_invalid_calendar_names_the_field(metrics: Metrics, change: dict, field: str):
    body = {"timezone": "Asia/Shanghai", "working_hours": {}, **change}
    response = await metrics.client.put(
        "/api/v1/analytics/calendar", json=body, headers=metrics.client.as_user(*ADMIN)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_only_administrators_change_the_calendar(metrics: Metrics):
    body = {"timezone": "UTC", "working_hours": {}}
    for role in ("analyst", "process_owner", "process_designer"):
        response = await metrics.client.put(
            "/api/v1/analytics/calendar", json=body, headers=metrics.client.as_user("x", role)
        )
        assert response.status_code == 403, role
    refused = await metrics.client.get(
        "/api/v1/analytics/calendar", headers=metrics.client.as_user("carol", "cashier")
    )
    assert refused.status_code == 403
