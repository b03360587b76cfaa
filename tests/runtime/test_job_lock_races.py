"""Jobs and reports that meet a concurrent command on the same instance.

A job (a timer, a deadline) or a called instance's report to its parent looks at an
instance that another transaction is changing: an administrator suspends it, a user
completes the task the job watches. These tests hold that other transaction open with
the instance locked, start the job, wait until it queues behind the lock, then commit:
what the job does must follow what committed, not what it read before the lock.

They need real commits and a second connection, so they run on a database of their own
(not the rolled-back one of the other runtime tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from uuid import UUID

import pytest_asyncio
from sqlalchemy import select, text, update

from bpm_common.db import Database
from services.runtime.calls.service import CALL_ENDED
from services.runtime.instances.models import instances
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from services.runtime.tasks.models import tasks
from tests.runtime.conftest import MODELS, Runtime, committed_runtime
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import events

ADMIN = ("admin", "admin")
LATER = dt.timedelta(hours=3)
WAIT_TIMER = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
  <process id="race-timer" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <intermediateCatchEvent id="wait">
      <timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>
    </intermediateCatchEvent>
    <sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
    <userTask id="after" name="After the wait" assignee="alice"/>
    <sequenceFlow id="f3" sourceRef="after" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>
"""


@pytest_asyncio.fixture(loop_scope="session")
async def committed(pg_url, run_prefix, token_for) -> AsyncIterator[Runtime]:
    async with committed_runtime(pg_url, f"{run_prefix}_races", token_for) as runtime:
        yield runtime


@contextlib.asynccontextmanager
async def changed_meanwhile(db: Database, instance_id: str, *statements: Any) -> AsyncIterator[None]:
    """A transaction that locks the instance as every command does, runs `statements`,
    and commits when the block ends."""
    async with db.transaction() as session:
        await session.execute(select(instances.c.id).where(instances.c.id == UUID(instance_id)).with_for_update())
        for statement in statements:
            await session.execute(statement)
        yield


async def queued_behind_lock(db: Database, work: Awaitable[Any]) -> asyncio.Task[Any]:
    """Start `work` and return once it waits for a row lock."""
    task = asyncio.ensure_future(work)
    for _ in range(500):
        async with db.connection() as conn:
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if waiting:
            return task
        if task.done():
            raise AssertionError(f"the work ended without waiting for the lock: {task.result()!r}")
        await asyncio.sleep(0.01)
    raise AssertionError("the work never queued behind the instance lock")


def suspend(instance_id: str) -> Any:
    return update(instances).where(instances.c.id == UUID(instance_id)).values(suspended=True)


async def start(runtime: Runtime, key: str, variables: dict[str, Any] | None = None) -> str:
    r = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key, "variables": variables or {}},
        headers=runtime.auth("alice"),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def view(runtime: Runtime, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


async def resume(runtime: Runtime, instance_id: str) -> None:
    r = await runtime.client.post(
        f"/api/v1/admin/process-instances/{instance_id}/resume", json={"reason": "carry on"},
        headers=runtime.auth(*ADMIN),
    )
    assert r.status_code == 200, r.text


async def jobs_of(runtime: Runtime, instance_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = await conn.execute(select(jobs).where(jobs.c.instance_id == UUID(instance_id)))
        return [dict(row) for row in rows.mappings()]


async def test_a_timer_that_meets_a_suspension_waits_for_the_resume(committed):
    await committed.publish(WAIT_TIMER, "race-timer")
    instance_id = await start(committed, "race-timer")
    runner = JobRunner(committed.client.app.state.ctx)
    due = dt.datetime.now(dt.UTC) + LATER

    async with changed_meanwhile(committed.db, instance_id, suspend(instance_id)):
        firing = await queued_behind_lock(committed.db, runner.run_one(now=due))
    assert await firing  # the job was taken ...
    [kept] = await jobs_of(committed, instance_id)  # ... and kept for after the resume
    assert kept["kind"] == "timer"
    assert (await view(committed, instance_id))["active_nodes"] == ["wait"]

    await resume(committed, instance_id)
    await runner.run_due(now=kept["due_at"] + LATER)
    assert (await view(committed, instance_id))["active_nodes"] == ["after"]


async def test_a_deadline_job_leaves_a_task_completed_while_it_waited_alone(committed):
    await build_org(committed)
    await committed.publish((MODELS / "deadlines-reassign.bpmn").read_bytes(), "deadline-reassign")
    instance_id = await start(committed, "deadline-reassign")
    async with committed.db.connection() as conn:
        task = (await conn.execute(select(tasks).where(tasks.c.instance_id == UUID(instance_id)))).mappings().one()
    runner = JobRunner(committed.client.app.state.ctx)
    completed = update(tasks).where(tasks.c.id == task["id"]).values(state="completed", completed_by="carol")

    # Outside working hours the node's reminder falls later than now, so a due-soon job
    # comes before the overdue one: both run, the first queued behind the lock.
    async with changed_meanwhile(committed.db, instance_id, completed):
        deadline_jobs = await queued_behind_lock(committed.db, runner.run_due(now=task["due_at"] + LATER))
    assert await deadline_jobs >= 1

    async with committed.db.connection() as conn:
        after = (await conn.execute(select(tasks).where(tasks.c.id == task["id"]))).mappings().one()
    assert (after["assignee"], list(after["candidate_users"] or [])) == (task["assignee"], list(task["candidate_users"] or []))
    mine = [e for e in await events(committed, "task.due_soon", "task.overdue", "task.assigned") if e["instance_id"] == instance_id]
    assert mine == []
    assert await jobs_of(committed, instance_id) == []


async def test_a_called_instance_reports_to_a_parent_suspended_meanwhile_after_the_resume(committed):
    await committed.publish((MODELS / "calls-parent.bpmn").read_bytes(), "loan-application")
    await committed.publish((MODELS / "calls-child.bpmn").read_bytes(), "credit-check")
    parent_id = await start(committed, "loan-application", {"checkProcess": "credit-check", "amount": 5})
    async with committed.db.connection() as conn:
        child = (
            await conn.execute(select(instances.c.id).where(instances.c.parent_instance_id == UUID(parent_id)))
        ).scalar_one()
        assess = (await conn.execute(select(tasks.c.id).where(tasks.c.instance_id == child))).scalar_one()

    async with changed_meanwhile(committed.db, parent_id, suspend(parent_id)):
        completing = await queued_behind_lock(
            committed.db,
            committed.client.post(
                f"/api/v1/tasks/{assess}/complete", json={"variables": {"ok": True}}, headers=committed.auth("carol")
            ),
        )
    assert (await completing).status_code == 200
    assert (await view(committed, str(child)))["state"] == "completed"
    waiting = [job for job in await jobs_of(committed, parent_id) if job["kind"] == CALL_ENDED]
    assert len(waiting) == 1, "the report to the suspended parent was not kept"

    await resume(committed, parent_id)
    await JobRunner(committed.client.app.state.ctx).run_due(now=waiting[0]["due_at"] + LATER)
    assert (await view(committed, parent_id))["active_nodes"] == ["sign"]
