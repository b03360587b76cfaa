"""An incident whose job or work is gone is closed by the runtime, and the instance's
audit trail says so: an `incident_resolved` entry without an actor, with the cause, and
the `incident.resolved` event, the hash chain still valid. One test per cause: the
engine cancelled the job, the task whose deadline job it was ended, the called
instance's report it was stuck on was dropped, the work was cancelled."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest_asyncio
from aiohttp import web
from sqlalchemy import select

from bpm_stack.embedded import free_port
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import INCIDENT_AFTER, JOB_HANDLERS, JobRunner
from services.runtime.work.connector import HttpConnector
from tests.runtime.conftest import MODELS
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import events
from tests.runtime.test_deadlines_jobs import start as start_with_task
from tests.runtime.test_job_incidents import CHILD, PARENT_WITH_FAILING_OUT, TIMER_THEN_MISSING_CALL

ADMIN = ("admin", "admin")


async def _start(runtime, key: str, **variables: Any) -> str:
    r = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key, "variables": variables}, headers=runtime.auth("alice")
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _incidents(runtime, instance_id: str) -> list[dict[str, Any]]:
    r = await runtime.client.get("/api/v1/incidents", params={"instance_id": instance_id}, headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _fail_jobs(runtime, rounds: int, start: dt.datetime) -> None:
    runner = JobRunner(runtime.client.app.state.ctx)
    moment = start
    for _ in range(rounds):
        moment += dt.timedelta(minutes=10)  # past any backoff
        await runner.run_due(now=moment)


async def _terminate(runtime, instance_id: str) -> None:
    r = await runtime.client.post(f"/api/v1/admin/process-instances/{instance_id}/terminate",
                                  json={"reason": "given up"}, headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text


async def _one_open_incident(runtime, instance_id: str) -> dict[str, Any]:
    [incident] = await _incidents(runtime, instance_id)
    assert incident["state"] == "open"
    return incident


async def _assert_closed_and_recorded(runtime, instance_id: str, incident: dict[str, Any], cause: str,
                                      kind: str) -> None:
    """`incident` is resolved by nobody, the history says why (its `kind` is `job_id` or
    `work_id`), the event is out, and the hash chain holds."""
    trail = (await runtime.client.get(
        f"/api/v1/process-instances/{instance_id}/history", headers=runtime.auth(*ADMIN))).json()["items"]
    resolved = [e for e in trail if e["action"] == "incident_resolved"]
    assert len(resolved) == 1, f"one incident_resolved entry: {[e['action'] for e in trail]}"
    entry = resolved[0]
    assert entry["details"] == {"incident_id": incident["id"], kind: incident["work_id"], "cause": cause}
    [closed] = [i for i in await _incidents(runtime, instance_id) if i["id"] == incident["id"]]
    assert (closed["state"], closed["resolved_by"]) == ("resolved", None)
    assert entry["actor"] is None and entry["comment"] == closed["reason"] and closed["reason"]
    assert entry["node_id"] == (incident["node_id"] or None)
    opened = [e for e in trail if e["action"] == "incident_created"]
    assert trail.index(opened[0]) < trail.index(entry)
    [event] = [e for e in await events(runtime, "incident.resolved") if e["incident_id"] == incident["id"]]
    assert (event["instance_id"], event["actor"], event["cause"]) == (instance_id, None, cause)
    verify = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history/verify",
                                      headers=runtime.auth(*ADMIN))
    assert verify.status_code == 200, verify.text
    assert verify.json()["valid"] is True, verify.text


async def test_the_incident_of_a_cancelled_job_is_closed_in_the_history(runtime):
    await runtime.publish(TIMER_THEN_MISSING_CALL, "late-call")
    instance_id = await _start(runtime, "late-call", callee="no-such-process")
    await _fail_jobs(runtime, INCIDENT_AFTER, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    incident = await _one_open_incident(runtime, instance_id)
    assert incident["job_kind"] == "timer"

    await _terminate(runtime, instance_id)  # the token leaves the timer: its job is cancelled

    await _assert_closed_and_recorded(runtime, instance_id, incident, "job_cancelled", "job_id")


async def test_the_incident_of_a_deadline_job_is_closed_when_its_task_ends(runtime, monkeypatch):
    await build_org(runtime)
    instance_id, task = await start_with_task(runtime, "deadlines-due-date.bpmn", "deadline-due-date")
    async with runtime.db.connection() as conn:
        [kind] = (await conn.execute(select(jobs.c.kind).where(jobs.c.task_id == UUID(task["id"])))).scalars().all()

    async def broken(session, ctx, job) -> None:
        raise RuntimeError("the escalation target cannot be reached")

    monkeypatch.setitem(JOB_HANDLERS, kind, broken)
    await _fail_jobs(runtime, INCIDENT_AFTER, dt.datetime.now(dt.UTC) + dt.timedelta(hours=4))
    incident = await _one_open_incident(runtime, instance_id)
    assert incident["job_kind"] == kind

    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("dave"))
    assert done.status_code == 200, done.text

    await _assert_closed_and_recorded(runtime, instance_id, incident, "task_ended", "job_id")


async def test_the_incident_of_a_dropped_call_report_is_closed(runtime):
    await runtime.publish(CHILD, "kid")
    await runtime.publish(PARENT_WITH_FAILING_OUT, "par")
    parent_id = await _start(runtime, "par")
    called = (await runtime.client.get(
        f"/api/v1/process-instances/{parent_id}/called-instances", headers=runtime.auth(*ADMIN))).json()["items"]
    task = (await runtime.client.get("/api/v1/tasks", params={"instance_id": called[0]["id"]},
                                     headers=runtime.auth("carol"))).json()["items"][0]
    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"res": 5}},
                                     headers=runtime.auth("carol"))
    assert done.status_code == 200, done.text
    await _fail_jobs(runtime, INCIDENT_AFTER, dt.datetime.now(dt.UTC))
    incident = await _one_open_incident(runtime, parent_id)
    assert incident["job_kind"] == "call_ended"

    await _terminate(runtime, parent_id)  # nothing can take the child's report any more

    await _assert_closed_and_recorded(runtime, parent_id, incident, "call_report_dropped", "job_id")


@pytest_asyncio.fixture(loop_scope="session")
async def failing_service() -> AsyncIterator[str]:
    """An HTTP service that answers every call with 500."""

    async def down(request: web.Request) -> web.Response:
        return web.Response(status=500, text="database is down")

    app = web.Application()
    app.router.add_post("/charge", down)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/charge"
    await runner.cleanup()


async def test_the_incident_of_cancelled_work_is_closed(runtime, failing_service):
    await runtime.publish((MODELS / "work-http.bpmn").read_bytes(), "http-order")
    instance_id = await _start(runtime, "http-order", url=failing_service, token="t", order={"amount": 1})
    connector = HttpConnector(runtime.client.app.state.ctx)
    try:
        outcomes: list[str] = []
        moment = dt.datetime.now(dt.UTC)
        while "incident" not in outcomes and len(outcomes) < 10:  # retries exhausted
            moment += dt.timedelta(days=1)
            outcomes += await connector.run_due(moment)
    finally:
        await connector.aclose()
    incident = await _one_open_incident(runtime, instance_id)
    assert incident["job_kind"] is None and "HTTP 500" in incident["message"]

    await _terminate(runtime, instance_id)  # the HTTP call is cancelled with its token

    await _assert_closed_and_recorded(runtime, instance_id, incident, "work_cancelled", "work_id")
