"""Timer jobs: a BPMN timer (intermediate, boundary, event sub-process start) fires here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import DomainError, NotFound
from bpm_common.logging import get_logger
from bpm_process.engine import fire_timer
from services.runtime.instances.service import InstanceCommands
from services.runtime.jobs.worker import SUSPENDED_RECHECK, delete_job, hold_job, job_handler

log = get_logger(__name__)


@job_handler("timer")
async def fire(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """Fire the engine timer; the job row goes in the same transaction as the effect.

    A timer whose instance ended, or whose token moved on meanwhile, is obsolete: it is
    removed. A suspended instance's timer waits and is looked at again later.
    """
    commands = InstanceCommands(session, ctx)
    try:
        # The lock comes before the look at the instance: a suspension or an ending that
        # commits while this job waits for the instance is seen, and the job is kept or
        # dropped by what holds once the lock is ours.
        instance = await commands.lock(job["instance_id"])
    except NotFound:
        instance = None
    if instance is None or instance.state != "active":
        await delete_job(session, job["id"])
        return
    if instance.suspended:
        await hold_job(session, job["id"], dt.datetime.now(dt.UTC) + SUSPENDED_RECHECK)
        return
    await delete_job(session, job["id"])
    engine_job = str(job["payload"].get("engine_job") or job["id"])
    try:
        async with session.begin_nested():
            await commands.execute(
                job["instance_id"],
                lambda graph, state, now, nid: fire_timer(graph, state, engine_job, now=now, new_id=nid),
                actor=None,
                locked=instance,
            )
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        log.info("timer_obsolete", job_id=str(job["id"]), reason=exc.detail)
