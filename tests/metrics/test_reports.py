"""The weekly report and the version comparison, as JSON, CSV and Excel."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bpm_common.ids import new_id
from tests.metrics.support import T0, Metrics, Run
from tests.metrics.test_approval_analytics import Expense, key

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W10"  # Monday 2 March 2026 (T0 is that day, 17:00 in Shanghai) to Sunday 8 March


async def week_of_expenses(metrics: Metrics) -> str:
    scenario = Expense(key())
    k = scenario.key
    before = Run(k, started_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))  # Sunday 20:00 local
    sunday = Run(k, started_at=dt.datetime(2026, 3, 8, 9, tzinfo=dt.UTC))  # Sunday 17:00 local
    after = Run(k, started_at=dt.datetime(2026, 3, 8, 17, tzinfo=dt.UTC))  # Monday 01:00 local
    await metrics.deliver(
        *scenario.events(),
        before.started(),
        before.completed(86400),
        sunday.started(),
        after.started(),
    )
    return k


async def test_weekly_report_of_one_process(metrics: Metrics):
    k = await week_of_expenses(metrics)
    report = await metrics.get("/api/v1/reports/weekly", key=k, week=WEEK)
    assert report["week"] == WEEK
    assert report["timezone"] == "Asia/Shanghai"
    assert report["period_from"] == "2026-03-01T16:00:00Z"
    assert report["period_to"] == "2026-03-08T16:00:00Z"
    [row] = report["items"]
    assert row == {
        "key": k,
        "started": 5,
        "completed": 3,
        "mean_cycle_seconds": pytest.approx((9000 + 2400 + 86400) / 3),
        "mean_cycle_working_seconds": row["mean_cycle_working_seconds"],
        "overdue": 2,
        "rejection_rate": pytest.approx(2 / 7),
        "rejected": 2,
        "returned": 1,
        "withdrawn": 1,
        "terminated": 0,
        "exception_reasons": [
            {"kind": "reject", "reason": "receipt missing", "count": 2},
            {"kind": "return", "reason": "amount wrong", "count": 1},
            {"kind": "withdraw", "reason": "no longer needed", "count": 1},
        ],
    }
    previous = await metrics.get("/api/v1/reports/weekly", key=k, week="2026-W09")
    assert [(r["started"], r["completed"]) for r in previous["items"]] == [(1, 0)]


async def test_weekly_report_downloads(metrics: Metrics):
    k = await week_of_expenses(metrics)
    headers = metrics.client.as_user("ann", "analyst")
    params = {"key": k, "week": WEEK}

    response = await metrics.client.get(
        "/api/v1/reports/weekly", params={**params, "format": "csv"}, headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="weekly-report-2026-W10.csv"' in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["week"], row["process"], row["started"], row["overdue"]) == (WEEK, k, "5", "2")
    assert row["main_exception_reasons"].startswith("reject: receipt missing (2); ")

    response = await metrics.client.get(
        "/api/v1/reports/weekly", params={**params, "format": "xlsx"}, headers=headers
    )
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Weekly report", "Exception reasons"]
    rows = list(workbook["Weekly report"].iter_rows(values_only=True))
    assert rows[0][:5] == ("week", "period_from", "period_to", "process", "started")
    assert rows[1][3:6] == (k, 5, 3)
    reasons = list(workbook["Exception reasons"].iter_rows(values_only=True))
    assert reasons[1] == (k, "reject", "receipt missing", 2)


async def test_the_previous_full_week_by_default(metrics: Metrics):
    report = await metrics.get("/api/v1/reports/weekly")
    today = dt.datetime.now(SHANGHAI).date()
    year, week, _ = (today - dt.timedelta(days=7)).isocalendar()
    assert report["week"] == f"{year}-W{week:02d}"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"week": "2026-47"}, "week"),
        ({"week": "2026-W54"}, "week"),
        ({"week": "9999-W52"}, "week"),
        ({"week": "0001-W01"}, "week"),
        ({"format": "pdf"}, "format"),
    ],
)
async def test_invalid_report_parameters(metrics: Metrics, params: dict, field: str):
    response = await metrics.client.get(
        "/api/v1/reports/weekly", params=params, headers=metrics.client.as_user("ann", "analyst")
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def compare_versions(metrics: Metrics) -> str:
    k = f"contract-{new_id()[-8:]}"
    events = []
    for version, cycles, outcomes in (
        (1, [1000.0, 2000.0, 3000.0], ["approve", "reject", "approve"]),
        (2, [500.0, 1000.0, 1500.0], ["approve", "approve", "approve"]),
    ):
        for cycle, outcome in zip(cycles, outcomes, strict=True):
            run, task = Run(k, version=version, started_at=T0), new_id()
            events += [
                run.started(),
                run.task_created(task, "review"),
                run.task_completed(task, "review", at_seconds=cycle / 2, outcome=outcome),
                run.completed(cycle, satisfaction=3 if version == 1 else 4),
            ]
    await metrics.deliver(*events)
    return k


async def test_version_comparison_with_targets(metrics: Metrics):
    k = await compare_versions(metrics)
    result = await metrics.get(
        "/api/v1/reports/version-comparison",
        key=k,
        before=1,
        after=2,
        target_cycle_seconds=1000,
        target_rejection_rate=0.25,
        target_satisfaction=5,
    )
    assert result["before"] == {"version": 1, "started": 3, "completed": 3}
    metrics_by_name = {m["metric"]: m for m in result["metrics"]}
    cycle = metrics_by_name["cycle_seconds"]
    assert (cycle["before"], cycle["after"], cycle["change"], cycle["change_rate"]) == (
        2000.0,
        1000.0,
        -1000.0,
        -0.5,
    )
    assert (cycle["target"], cycle["achievement_rate"], cycle["target_met"]) == (1000.0, 1.0, True)
    rejection = metrics_by_name["rejection_rate"]
    assert (rejection["before"], rejection["after"]) == (pytest.approx(1 / 3), 0.0)
    assert rejection["achievement_rate"] == pytest.approx((0 - 1 / 3) / (0.25 - 1 / 3))
    satisfaction = metrics_by_name["satisfaction"]
    assert (satisfaction["better"], satisfaction["achievement_rate"]) == ("higher", 0.5)
    assert satisfaction["target_met"] is False
    median = metrics_by_name["median_cycle_seconds"]
    assert (median["target"], median["achievement_rate"], median["target_met"]) == (
        None,
        None,
        None,
    )


async def test_version_comparison_downloads_and_validation(metrics: Metrics):
    k = await compare_versions(metrics)
    headers = metrics.client.as_user("olga", "process_owner")
    params = {"key": k, "before": 1, "after": 2, "target_cycle_seconds": 1500}
    response = await metrics.client.get(
        "/api/v1/reports/version-comparison", params={**params, "format": "csv"}, headers=headers
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["metric"] == "cycle_seconds"
    assert (rows[0]["before"], rows[0]["after"], rows[0]["achievement_rate"]) == (
        "2000.0",
        "1000.0",
        "2.0",
    )
    response = await metrics.client.get(
        "/api/v1/reports/version-comparison", params={**params, "format": "xlsx"}, headers=headers
    )
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Version comparison", "Instances"]
    assert list(workbook["Instances"].iter_rows(values_only=True))[1] == ("version", 1, 2)

    same = await metrics.client.get(
        "/api/v1/reports/version-comparison",
        params={"key": k, "before": 2, "after": 2},
        headers=headers,
    )
    assert same.status_code == 422
    assert same.json()["errors"][0]["field"] == "after"
    missing = await metrics.client.get(
        "/api/v1/reports/version-comparison", params={"key": k, "before": 1}, headers=headers
    )
    assert [e["field"] for e in missing.json()["errors"]] == ["after"]


@pytest.mark.parametrize(
    "path", ["/api/v1/reports/weekly", "/api/v1/reports/version-comparison?key=a&before=1&after=2"]
)
async def test_only_analytics_roles_read_reports(metrics: Metrics, path: str):
    assert (await metrics.client.get(path)).status_code == 401
    employee = metrics.client.as_user("alice", "employee")
    assert (await metrics.client.get(path, headers=employee)).status_code == 403
