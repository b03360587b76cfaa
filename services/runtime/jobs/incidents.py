"""Incidents of jobs that keep failing.

A job (a timer, a called instance's report to its parent, a message or signal
delivery) that fails is retried with backoff (`worker.JobRunner`). A failure that
retrying cannot mend, a model whose expression fails or whose called process does not
exist, would be retried for ever with nobody told; after `worker.INCIDENT_AFTER` attempts the
job is parked instead and an incident opens in its instance's history, as for work
whose retries ran out. An administrator's retry (`POST /api/v1/incidents/{id}/retry`)
makes the job due again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, NotFound
from bpm_common.logging import get_logger
from services.runtime.jobs.models import jobs
from services.runtime.operations.actions import instance_action
from services.runtime.work.incidents import incident_resolved_entry
from services.runtime.work.models import incidents
from services.runtime.work.records import open_incident

log = get_logger(__name__)

#: the due time of a parked job: it runs again only when an administrator retries it
PARKED = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
MAX_MESSAGE = 4000


async def park_with_incident(ctx: ServiceContext, job: dict[str, Any], error: str, attempts: int) -> None:
    """Park `job` and open an incident for it in its instance (its own unit of work); a
    job whose instance has ended or gone is dropped."""
    message = f"{job['kind']} failed {attempts} times: {error}"[:MAX_MESSAGE]
    async with ctx.db.transaction() as session:
        try:
            async with instance_action(session, ctx, job["instance_id"], actor=None, allow_suspended=True) as step:
                incident_id = await open_incident(
                    step, job["node_id"], job["id"], message,
                    {"job_id": str(job["id"]), "job_kind": job["kind"]}, job_kind=job["kind"],
                )
                await session.execute(
                    update(jobs).where(jobs.c.id == job["id"]).values(
                        attempts=attempts, due_at=PARKED, locked_until=None, last_error=error[:2000]
                    )
                )
        except (NotFound, Conflict):
            await session.rollback()
            async with ctx.db.transaction() as again:
                await again.execute(delete(jobs).where(jobs.c.id == job["id"]))
            log.warning("job_dropped", kind=job["kind"], job_id=str(job["id"]), attempts=attempts, error=error,
                        reason="it kept failing and its instance has ended: no incident can be opened")
            return
    log.error("job_incident", kind=job["kind"], job_id=str(job["id"]), attempts=attempts, incident_id=incident_id)


async def retry_job(session: AsyncSession, ctx: ServiceContext, incident: dict[str, Any], actor: str,
                    reason: str) -> None:
    """An administrator's retry of a job's incident: the job is due now, with its
    attempts counted afresh; the incident is resolved in the instance's history."""
    async with instance_action(session, ctx, incident["instance_id"], actor=actor, reason=reason,
                               allow_suspended=True) as step:
        found = await session.execute(
            update(jobs).where(jobs.c.id == incident["work_id"])
            .values(attempts=0, due_at=step.now, locked_until=None).returning(jobs.c.id)
        )
        if found.first() is None:
            raise Conflict(f"the job of incident {incident['id']} no longer exists")
        await session.execute(
            update(incidents).where(incidents.c.id == incident["id"]).values(
                state="resolved", resolved_at=step.now, resolved_by=actor, resolution=reason
            )
        )
        incident_resolved_entry(step, str(incident["id"]), incident["node_id"] or None,
                                {"job_id": str(incident["work_id"])}, actor=actor, reason=reason)
