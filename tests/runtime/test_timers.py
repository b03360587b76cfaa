"""Timers are job rows taken by the job worker; firing one moves the instance on once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from tests.runtime.conftest import MODELS


async def _count_jobs(runtime) -> int:
    async with runtime.db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(jobs))).scalar_one()


async def test_boundary_timer_fires_once_through_the_job_worker(runtime):
    await runtime.publish((MODELS / "boundary-timer.bpmn").read_bytes(), "timeout-demo")
    c = runtime.client
    inst = (await c.post("/api/v1/process-instances", json={"definition_key": "timeout-demo"}, headers=runtime.auth("alice"))).json()
    assert await _count_jobs(runtime) == 1
    runner = JobRunner(c.app.state.ctx)
    assert await runner.run_due() == 0, "not due yet"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert await runner.run_due(now=later) == 1
    assert await runner.run_due(now=later) == 0, "fired exactly once"
    view = (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("alice"))).json()
    assert view["active_nodes"] == ["escalated"]
    assert (await c.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"] == []
    [task] = (await c.get("/api/v1/tasks", headers=runtime.auth("dave"))).json()["items"]
    assert task["node_id"] == "escalated"


async def test_completing_the_task_cancels_its_timer(runtime):
    await runtime.publish((MODELS / "boundary-timer.bpmn").read_bytes(), "timeout-demo")
    c = runtime.client
    await c.post("/api/v1/process-instances", json={"definition_key": "timeout-demo"}, headers=runtime.auth("alice"))
    [task] = (await c.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"]
    assert (await c.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("bob"))).status_code == 200
    assert await _count_jobs(runtime) == 0
