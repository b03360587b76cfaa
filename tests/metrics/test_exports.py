"""The event log exported as XES and CSV, read back by pm4py as a process-mining tool would."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import httpx
import pm4py
import pytest
from lxml import etree

from bpm_common.ids import new_id
from services.metrics.exports import repository as export_repository
from tests.metrics.support import T0, Metrics, Run, iso
from tests.metrics.test_approval_analytics import Expense, key

XES_NS = "{http://www.xes-standard.org/}"


async def exported(metrics: Metrics, k: str, **params: object) -> bytes:
    response = await metrics.client.get(
        "/api/v1/exports/event-log",
        params={"key": k, **params},
        headers=metrics.client.as_user("ann", "analyst"),
    )
    assert response.status_code == 200, response.text
    return response.content


async def logged_expenses(metrics: Metrics) -> tuple[str, int, int]:
    """The expense scenario plus an oddly worded termination and a trial instance."""
    scenario = Expense(key())
    odd = Run(scenario.key, started_at=T0 + dt.timedelta(days=1))
    trial = Run(scenario.key, trial=True)
    events = [
        *scenario.events(),
        odd.started(),
        odd.terminated(60, reason='<b>"Fraud" & more</b>\x01'),
        trial.started(),
        trial.task_created(new_id(), "review"),
    ]
    await metrics.deliver(*events)
    live = [e for e in events[:-2] if e.type != "bpm.runtime.task.overdue"]  # not a transition
    return scenario.key, len({e.subject for e in live}), len(live)


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_pm4py_reads_the_xes_export_with_every_case_and_event(
    metrics: Metrics, tmp_path: Path
):
    k, cases, events = await logged_expenses(metrics)
    path = tmp_path / "log.xes"
    path.write_bytes(await exported(metrics, k, format="xes"))

    log = pm4py.read_xes(str(path))
    assert (log["case:concept:name"].nunique(), len(log)) == (cases, events)
    assert set(log["lifecycle:transition"]) == {
        "start",
        "schedule",
        "assign",
        "reassign",
        "complete",
        "ate_abort",
        "withdraw",
        "pi_abort",
    }
    rejections = log[(log["outcome"] == "reject") & (log["lifecycle:transition"] == "complete")]
    assert list(rejections["concept:name"]) == ["Finance", "Finance"]
    assert set(rejections["org:resource"]) == {"carol"}

    root = etree.fromstring(path.read_bytes())
    assert root.get("xes.version") == "1849-2016"
    reasons = [
        s.get("value")
        for s in root.iter(f"{XES_NS}string")
        if s.get("key") == "reason" and "Fraud" in s.get("value", "")
    ]
    assert reasons == ['<b>"Fraud" & more</b>\ufffd']


async def test_csv_export_and_filters(metrics: Metrics):
    k, cases, events = await logged_expenses(metrics)
    text = (await exported(metrics, k, format="csv")).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert (len({r["case:concept:name"] for r in rows}), len(rows)) == (cases, events)
    first = rows[0]
    assert (first["lifecycle:transition"], first["org:resource"], first["department"]) == (
        "start",
        "alice",
        "sales",
    )
    assert first["time:timestamp"] == "2026-03-02T09:00:00.000+00:00"

    with_trial = (await exported(metrics, k, format="csv", include_trial="true")).decode()
    assert len(list(csv.DictReader(io.StringIO(with_trial)))) == events + 2
    first_day = (
        await exported(metrics, k, format="csv", to=iso(T0 + dt.timedelta(hours=1)))
    ).decode()
    assert len({r["case:concept:name"] for r in csv.DictReader(io.StringIO(first_day))}) == 4
    finance = (await exported(metrics, k, format="csv", department="finance")).decode()
    assert len({r["case:concept:name"] for r in csv.DictReader(io.StringIO(finance))}) == 1
    empty = await exported(metrics, "no-such-process", format="xes")
    root = etree.fromstring(empty)
    assert root.findall(f"{XES_NS}trace") == []


async def test_an_unknown_format_is_refused(metrics: Metrics):
    response = await metrics.client.get(
        "/api/v1/exports/event-log",
        params={"key": "x", "format": "mxml"},
        headers=metrics.client.as_user("ann", "analyst"),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["format"]
    anonymous = await metrics.client.get("/api/v1/exports/event-log", params={"key": "x"})
    assert anonymous.status_code == 401


async def test_a_query_that_fails_is_an_error_answer_not_an_empty_file(metrics: Metrics, monkeypatch):
    async def failing(session, log_filter):
        raise RuntimeError("the query failed")
        yield  # an async generator, as the repository's

    monkeypatch.setattr(export_repository, "events", failing)
    transport = httpx.ASGITransport(app=metrics.client.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        for fmt in ("csv", "xes"):
            response = await client.get(
                "/api/v1/exports/event-log", params={"key": "x", "format": fmt},
                headers=metrics.client.as_user("ann", "analyst"),
            )
            assert response.status_code == 500, (fmt, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
