"""Incidents of jobs that are gone are closed: a deadline job parked with an incident
whose task is completed, and a called instance's report that the worker holds while the
parent ends (dropped without waiting for the worker's lock)."""

from __future__ import annotations

import datetime as dt
import json
import types
import uuid
from uuid import UUID

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.testing.plugin import service_database
from services.runtime.app import definition
from services.runtime.calls.service import CALL_ENDED, drop_reports
from services.runtime.instances.applier import _DELETE_JOBS
from services.runtime.jobs.incidents import park_with_incident
from services.runtime.jobs.models import jobs
from services.runtime.work.models import incidents
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import start


async def test_the_incident_of_a_dropped_deadline_job_is_closed(runtime):
    await build_org(runtime)
    instance_id, task = await start(runtime, "deadlines-due-date.bpmn", "deadline-due-date")
    async with runtime.db.connection() as conn:
        job = dict((await conn.execute(select(jobs).where(jobs.c.task_id == UUID(task["id"])))).mappings().one())
    # what the runner does after the 5th failure of the job (an auto action that fails, ...)
    await park_with_incident(runtime.client.app.state.ctx, job, "boom", 5)
    answer = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={},
                                       headers=runtime.auth("dave"))
    assert answer.status_code == 200, answer.text
    async with runtime.db.connection() as conn:
        left = (await conn.execute(select(jobs.c.id).where(jobs.c.id == job["id"]))).all()
        states = (await conn.execute(select(incidents.c.state).where(incidents.c.work_id == job["id"]))).scalars().all()
    assert left == []  # the job is gone
    assert states == ["resolved"], "nothing is left to retry"


@pytest.mark.asyncio(loop_scope="session")
async def test_dropping_reports_skips_a_job_the_worker_holds(pg_url, run_prefix):
    sdb = await service_database(definition(), pg_url, run_prefix)
    engine = sdb.engine
    instance, job = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO jobs (id, kind, instance_id, due_at, payload) VALUES (:id, :kind, :inst, now(), CAST(:p AS jsonb))"
        ), {"id": job, "kind": CALL_ENDED, "inst": instance, "p": json.dumps({"call_id": "c1"})})
    runner = await engine.connect()
    try:
        tx = await runner.begin()
        # what JobRunner.run_one does: the job row stays locked while its handler runs
        taken = (await runner.execute(text("SELECT id FROM jobs WHERE id = :id FOR UPDATE SKIP LOCKED"),
                                      {"id": job})).first()
        assert taken is not None
        # the applier's own statement for cancelled jobs skips it at once
        async with engine.connect() as other:
            raw = await other.get_raw_connection()
            async with raw.driver_connection.transaction():
                await raw.driver_connection.execute("SET LOCAL lock_timeout = '500ms'")
                await raw.driver_connection.execute(_DELETE_JOBS, [job])  # no error: skipped
        # so does drop_reports (instance ended / call activity cancelled): waiting, it would
        # deadlock with the worker, whose handler waits for the instance this command holds
        async with AsyncSession(engine) as session:
            await session.execute(text("SET LOCAL lock_timeout = '500ms'"))
            step = types.SimpleNamespace(session=session, row=types.SimpleNamespace(id=instance),
                                         now=dt.datetime.now(dt.UTC), actor="admin")
            await drop_reports(step, None, "the instance ended")  # no lock timeout: skipped
            await session.rollback()
        await tx.rollback()
    finally:
        await runner.close()
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": job})
