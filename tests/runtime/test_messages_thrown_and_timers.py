"""Messages and signals thrown by processes are delivered by jobs after the throw committed;
timer start events are scheduled when a definition is published and start instances."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from tests.runtime.conftest import MODELS


def _admin(runtime) -> dict[str, str]:
    return runtime.auth("admin", "admin")


async def _start(runtime, key: str, **variables: Any) -> Any:
    return await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key, "variables": variables},
        headers=runtime.auth("alice"),
    )


async def _state(runtime, instance_id: str) -> str:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=_admin(runtime))
    return r.json()["state"]


async def _jobs(runtime, kind: str) -> list[dict[str, Any]]:
    async with runtime.db.transaction() as session:
        rows = (await session.execute(select(jobs).where(jobs.c.kind == kind).order_by(jobs.c.due_at))).mappings()
        return [dict(r) for r in rows]


async def test_a_thrown_message_reaches_another_instance_only_after_the_throw_committed(runtime):
    await runtime.publish((MODELS / "messages-wait.bpmn").read_bytes(), "order-wait")
    await runtime.publish((MODELS / "messages-throw.bpmn").read_bytes(), "payment-notify")
    await runtime.publish((MODELS / "messages-signal.bpmn").read_bytes(), "recall-wait")
    waiting = (await _start(runtime, "order-wait", orderId="P-1")).json()["id"]
    recall = (await _start(runtime, "recall-wait")).json()["id"]
    runner = JobRunner(runtime.client.app.state.ctx)

    refused = await _start(runtime, "payment-notify", orderId="P-1", divisor=0)
    assert refused.status_code == 422, "the throwing command failed after its throw"
    assert await runner.run_due() == 0, "nothing to deliver: the throw never committed"
    assert await _state(runtime, waiting) == "active"

    thrower = await _start(runtime, "payment-notify", orderId="P-1", divisor=1, note="paid by card")
    assert thrower.status_code == 201 and thrower.json()["state"] == "completed"
    assert await _state(runtime, waiting) == "active", "not delivered inside the throwing command"
    assert await runner.run_due() == 2, "one message, one signal"
    assert await _state(runtime, waiting) == "completed"
    assert await _state(runtime, recall) == "completed"
    view = (await runtime.client.get(f"/api/v1/process-instances/{waiting}", headers=_admin(runtime))).json()
    assert view["variables"]["note"] == "paid by card"


async def test_a_timer_start_event_starts_instances_on_schedule_and_a_new_version_takes_over(runtime):
    first_id = await runtime.publish((MODELS / "messages-timer-start.bpmn").read_bytes(), "daily-report")
    [job] = await _jobs(runtime, "timer_start")
    assert str(job["definition_id"]) == first_id and job["node_id"] == "every_day"
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < job["due_at"] - now <= dt.timedelta(days=1)

    runner = JobRunner(runtime.client.app.state.ctx)
    assert await runner.run_due() == 0, "not due yet"
    assert await runner.run_due(now=job["due_at"] + dt.timedelta(minutes=1)) == 1
    listed = (await runtime.client.get("/api/v1/process-instances?definition_key=daily-report",
                                       headers=_admin(runtime))).json()["items"]
    [started] = listed
    assert started["definition_version"] == 1 and started["initiator"] is None
    assert started["active_nodes"] == ["write"]
    trail = (await runtime.client.get(f"/api/v1/process-instances/{started['id']}/history",
                                      headers=_admin(runtime))).json()["items"]
    assert trail[0]["action"] == "instance_started" and trail[0]["actor"] == "timer"
    [following] = await _jobs(runtime, "timer_start")
    assert following["due_at"] == job["due_at"] + dt.timedelta(days=1), "the next occurrence of the cycle"
    assert following["payload"]["fired"] == 1

    second_id = await runtime.publish((MODELS / "messages-timer-start.bpmn").read_bytes(), "daily-report", version=2)
    [replaced] = await _jobs(runtime, "timer_start")
    assert str(replaced["definition_id"]) == second_id, "the new live version's schedule replaced the old one"
    assert await runner.run_due(now=replaced["due_at"] + dt.timedelta(minutes=1)) == 1
    versions = sorted(i["definition_version"] for i in (await runtime.client.get(
        "/api/v1/process-instances?definition_key=daily-report", headers=_admin(runtime))).json()["items"])
    assert versions == [1, 2]
