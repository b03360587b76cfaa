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
from uuid import UUID

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, NotFound
from bpm_common.ids import new_id
from bpm_common.logging import get_logger
from services.runtime.jobs.models import jobs
from services.runtime.operations.actions import instance_action
from services.runtime.work.models import incidents

log = get_logger(__name__)

#: the due time of a parked job: it runs again only when an administrator retries it
PARKED = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
MAX_MESSAGE = 4000


async def open_incident(ctx: ServiceContext, job: dict[str, Any], error: str, attempts: int) -> None:
    """Park `job` and open an incident for it in its instance (its own unit of work); a
    job whose instance has ended or gone is dropped."""
    message = f"{job['kind']} failed {attempts} times: {error}"[:MAX_MESSAGE]
    async with ctx.db.transaction() as session:
        try:
            async with instance_action(session, ctx, job["instance_id"], actor=None, allow_suspended=True) as step:
                incident_id = new_id()
                node_id = job["node_id"] or ""
                name = step.node_name(job["node_id"])
                await session.execute(
                    insert(incidents).values(
                        id=UUID(incident_id), instance_id=step.row.id, work_id=job["id"], job_kind=job["kind"],
                        definition_key=step.row.definition_key, node_id=node_id, node_name=name,
                        message=message, state="open", created_at=step.now,
                    )
                )
                await session.execute(
                    update(jobs).where(jobs.c.id == job["id"]).values(
                        attempts=attempts, due_at=PARKED, locked_until=None, last_error=error[:2000]
                    )
                )
                step.history.add(
                    "incident_created", step.now, node_id=job["node_id"], node_name=name,
                    details={"incident_id": incident_id, "job_id": str(job["id"]), "job_kind": job["kind"],
                             "message": message},
                )
                step.event("incident.created", {
                    **step.instance_common(), "incident_id": incident_id, "node_id": job["node_id"],
                    "message": message, "at": step.now,
                })
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
        step.history.add(
            "incident_resolved", step.now, actor=actor, node_id=incident["node_id"] or None,
            node_name=incident["node_name"], comment=reason,
            details={"incident_id": str(incident["id"]), "job_id": str(incident["work_id"])},
        )
        step.event("incident.resolved", {
            **step.instance_common(), "incident_id": str(incident["id"]), "node_id": incident["node_id"],
            "actor": actor, "reason": reason, "at": step.now,
        })
