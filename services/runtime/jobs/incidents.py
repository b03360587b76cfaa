"""Incidents of jobs that keep failing.

A job (a timer, a called instance's report to its parent, a message or signal
delivery) that fails is retried with backoff (`worker.JobRunner`). A failure that
retrying cannot mend, a model whose expression fails or whose called process does not
exist, would be retried for ever with nobody told; after `worker.INCIDENT_AFTER` attempts the
job is parked instead and an incident opens in its instance's history, as for work
whose retries ran out. An administrator's retry (`POST /api/v1/incidents/{id}/retry`)
makes the job due again.

A job of no instance (a timer start that could not start one, `messages.starts`) opens
an incident of its process definition version instead: `instance_id` null, the
version in `definition_id` / `definition_version`. With no instance there is no
history to write; its `bpm.runtime.incident.created` / `.resolved` events name the
incident itself as their subject (sequence 1 and 2) and carry `instance_id` null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, NotFound
from bpm_common.events.envelope import Event, new_event
from bpm_common.ids import new_id
from bpm_common.logging import get_logger
from services.runtime.instances.applier import SOURCE
from services.runtime.instances.service import utcnow
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
    attempts counted afresh; the incident is resolved in the instance's history (an
    incident of a definition: only in its event)."""
    if incident["instance_id"] is None:
        await _retry_definition_job(session, ctx, incident, actor, reason)
        return
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


async def open_definition_incident(
    session: AsyncSession, ctx: ServiceContext, job: Mapping[str, Any], *, key: str, version: int,
    node_name: str | None, message: str,
) -> str:
    """An open incident of the job `job` of no instance, belonging to its definition
    version (`key`, `version`), with its `incident.created` event; its id."""
    incident_id, now = new_id(), utcnow()
    message = message[:MAX_MESSAGE]
    await session.execute(
        insert(incidents).values(
            id=UUID(incident_id), instance_id=None, definition_id=job["definition_id"], definition_version=version,
            work_id=job["id"], job_kind=job["kind"], definition_key=key, node_id=job["node_id"] or "",
            node_name=node_name, message=message, state="open", created_at=now,
        )
    )
    await ctx.events.add(session, _definition_event("created", incident_id, 1, {
        "definition_id": str(job["definition_id"]), "definition_key": key, "definition_version": version,
        "node_id": job["node_id"], "message": message, "at": now,
    }))
    log.error("job_incident", kind=job["kind"], job_id=str(job["id"]), incident_id=incident_id,
              definition_key=key, definition_version=version)
    return incident_id


async def resolve_definition_incidents(
    session: AsyncSession, ctx: ServiceContext, job_id: UUID, *, actor: str | None, reason: str,
    cause: str | None = None,
) -> list[str]:
    """Resolve the open incidents of the job `job_id` of no instance, by `actor` (None: the
    runtime, for `cause`) with `reason`, each with its `incident.resolved` event."""
    now = utcnow()
    rows = (
        await session.execute(
            update(incidents)
            .where(incidents.c.work_id == job_id, incidents.c.instance_id.is_(None), incidents.c.state == "open")
            .values(state="resolved", resolved_at=now, resolved_by=actor, resolution=reason)
            .returning(incidents)
        )
    ).mappings().all()
    for row in rows:
        await ctx.events.add(session, _definition_event("resolved", str(row["id"]), 2, {
            "definition_id": str(row["definition_id"]), "definition_key": row["definition_key"],
            "definition_version": row["definition_version"], "node_id": row["node_id"] or None,
            "actor": actor, "reason": reason, **({"cause": cause} if cause is not None else {}), "at": now,
        }))
    return [str(row["id"]) for row in rows]


def _definition_event(name: str, incident_id: str, sequence: int, data: dict[str, Any]) -> Event:
    """`bpm.runtime.incident.<name>` of an incident without an instance: the incident is the
    aggregate (created is 1, resolved 2)."""
    return new_event(
        f"bpm.runtime.incident.{name}", incident_id,
        jsonutil.jsonable({"incident_id": incident_id, "instance_id": None, **data}),
        source=SOURCE, sequence=sequence,
    )


async def _retry_definition_job(session: AsyncSession, ctx: ServiceContext, incident: Mapping[str, Any],
                                actor: str, reason: str) -> None:
    """The job runs again now (the worker takes it); only a job of the version that is still
    the latest live one of its key: the others no longer run, and the runtime closes them."""
    from services.runtime.messages.repository import latest_live  # the messages domain schedules jobs here

    ref = await latest_live(session, incident["definition_key"])
    if ref is None or ref.id != incident["definition_id"]:
        raise Conflict(
            f"version {incident['definition_version']} of {incident['definition_key']} is no longer its live "
            "version: its timer starts no longer run (the runtime closes this incident)"
        )
    found = await session.execute(
        update(jobs).where(jobs.c.id == incident["work_id"])
        .values(attempts=0, due_at=utcnow(), locked_until=None).returning(jobs.c.id)
    )
    if found.first() is None:
        raise Conflict(f"the job of incident {incident['id']} no longer exists")
    await resolve_definition_incidents(session, ctx, incident["work_id"], actor=actor, reason=reason)
