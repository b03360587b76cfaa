"""The job worker: takes due jobs with SKIP LOCKED and runs each in its own unit of work.

A job handler runs inside the transaction that holds the job's row lock and
deletes (or reschedules) the job there: the effect and the job's removal commit
together, so a job takes effect exactly once; if the handler fails, the
transaction rolls back, the attempt is counted in a separate transaction and the
job is retried later with backoff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter
from sqlalchemy import cast, delete, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.aio import wait_for_event
from bpm_common.app import ServiceContext
from bpm_common.db import insert_rows
from bpm_common.logging import get_logger
from services.runtime.jobs.models import jobs

log = get_logger(__name__)

JobHandler = Callable[[AsyncSession, ServiceContext, dict[str, Any]], Awaitable[None]]
JOB_HANDLERS: dict[str, JobHandler] = {}
#: parks a job of no instance that kept failing, with an incident (its own unit of work):
#: (ctx, job, error, attempts)
JobParker = Callable[[ServiceContext, dict[str, Any], str, int], Awaitable[None]]
JOB_PARKERS: dict[str, JobParker] = {}
JOBS_RUN = Counter("bpm_jobs_executed", "Jobs executed by kind and outcome", ["kind", "outcome"])
MAX_BACKOFF = 300.0
#: attempts after which a failing job opens an incident (`jobs.incidents`): a job of an
#: instance, or a job of no instance whose kind has a parker (`job_parker`)
INCIDENT_AFTER = 5


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the handler of a job kind (e.g. `timer`, `deadline_overdue`)."""

    def _register(fn: JobHandler) -> JobHandler:
        JOB_HANDLERS[kind] = fn
        return fn

    return _register


def job_parker(kind: str) -> Callable[[JobParker], JobParker]:
    """Register how a job of `kind` that belongs to no instance (a timer start) is parked
    with an incident once it has failed `INCIDENT_AFTER` times; without one it is retried
    for ever."""

    def _register(fn: JobParker) -> JobParker:
        JOB_PARKERS[kind] = fn
        return fn

    return _register


class JobRunner:
    def __init__(self, ctx: ServiceContext, *, batch: int = 20, idle: float = 0.5) -> None:
        self.ctx, self.batch, self.idle = ctx, batch, idle
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                ran = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker must survive database hiccups
                log.warning("job_round_failed", error=repr(exc))
                ran = 0
            if ran < self.batch:
                await wait_for_event(self._wake, self.idle)
                self._wake.clear()

    async def run_due(self, now: dt.datetime | None = None) -> int:
        """Run up to `batch` due jobs, one transaction each; returns how many were taken."""
        ran = 0
        for _ in range(self.batch):
            if not await self.run_one(now):
                break
            ran += 1
        return ran

    async def run_one(self, now: dt.datetime | None = None) -> bool:
        moment = now or dt.datetime.now(dt.UTC)
        job: dict[str, Any] | None = None
        try:
            async with self.ctx.db.transaction() as session:
                row = (
                    await session.execute(
                        select(jobs)
                        .where(jobs.c.due_at <= moment)
                        .where((jobs.c.locked_until.is_(None)) | (jobs.c.locked_until < moment))
                        .order_by(jobs.c.due_at)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    )
                ).mappings().first()
                if row is None:
                    return False
                job = dict(row)
                handler = JOB_HANDLERS.get(job["kind"])
                if handler is None:
                    log.error("job_kind_unknown", kind=job["kind"], job_id=str(job["id"]))
                    await session.execute(
                        update(jobs).where(jobs.c.id == job["id"]).values(
                            locked_until=moment + dt.timedelta(days=365), last_error="no handler for this kind"
                        )
                    )
                    return True
                await handler(session, self.ctx, job)
            JOBS_RUN.labels(job["kind"], "done").inc()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - counted, retried with backoff
            if job is None:
                raise
            JOBS_RUN.labels(job["kind"], "failed").inc()
            await self._failed(job, exc, moment)
        return True

    async def _failed(self, job: dict[str, Any], exc: BaseException, moment: dt.datetime) -> None:
        attempts = job["attempts"] + 1
        delay = min(2.0 ** attempts, MAX_BACKOFF)
        log.warning("job_failed", kind=job["kind"], job_id=str(job["id"]), attempts=attempts, error=repr(exc))
        if attempts >= INCIDENT_AFTER and job["instance_id"] is not None:
            # imported here: the incidents module reaches the instance commands, which
            # themselves schedule jobs through this module
            from services.runtime.jobs.incidents import park_with_incident

            await park_with_incident(self.ctx, job, _error_text(exc), attempts)
            return
        parker = JOB_PARKERS.get(job["kind"]) if job["instance_id"] is None else None
        if attempts >= INCIDENT_AFTER and parker is not None:
            await parker(self.ctx, job, _error_text(exc), attempts)
            return
        async with self.ctx.db.transaction() as session:
            await session.execute(
                update(jobs)
                .where(jobs.c.id == job["id"])
                .values(attempts=attempts, due_at=moment + dt.timedelta(seconds=delay), last_error=repr(exc)[:2000])
            )


def _error_text(exc: BaseException) -> str:
    """What an administrator reads of a job's failure: a refusal's own words."""
    detail = getattr(exc, "detail", None)
    return detail if isinstance(detail, str) and detail else repr(exc)


#: the payload flag of a job put off because its instance is suspended (`hold_job`)
HELD = "held_while_suspended"
#: how long a job put off by a suspension waits before it is looked at again, should the
#: resume not wake it (it does: `release_held_jobs`)
SUSPENDED_RECHECK = dt.timedelta(seconds=30)
_HELD_FLAG = cast(literal(f'{{"{HELD}": true}}'), JSONB)


async def hold_job(session: AsyncSession, job_id: Any, until: dt.datetime) -> None:
    """Put off a job whose instance is suspended until `until`, marked so that the resume
    makes it due at once."""
    await session.execute(
        update(jobs).where(jobs.c.id == job_id).values(due_at=until, payload=jobs.c.payload.op("||")(_HELD_FLAG))
    )


async def release_held_jobs(session: AsyncSession, instance_id: Any) -> int:
    """The instance was resumed: the jobs its suspension put off are due now."""
    released = await session.execute(
        update(jobs)
        .where(jobs.c.instance_id == instance_id, jobs.c.payload.has_key(HELD))
        .values(due_at=dt.datetime.now(dt.UTC), payload=jobs.c.payload.op("-")(HELD))
    )
    return released.rowcount or 0


async def delete_job(session: AsyncSession, job_id: Any) -> None:
    await session.execute(delete(jobs).where(jobs.c.id == job_id))


async def schedule(session: AsyncSession, *rows: dict[str, Any]) -> None:
    """Insert job rows (each with id, kind, due_at and optional instance_id, task_id, payload)."""
    await insert_rows(session, jobs, rows)  # plain SQL, one round trip (bpm_common.db.insert_rows)
