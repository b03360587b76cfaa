"""Jobs that deliver messages and signals thrown by processes, after the throw committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.logging import get_logger
from services.runtime.jobs.worker import delete_job, job_handler
from services.runtime.messages.service import Correlation

log = get_logger(__name__)

DELIVER_MESSAGE = "deliver_message"
DELIVER_SIGNAL = "deliver_signal"


@job_handler(DELIVER_MESSAGE)
async def deliver_message(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """Correlate the thrown message, or start a process with it; nothing catching it drops it."""
    payload = job["payload"]
    await delete_job(session, job["id"])
    delivered = await Correlation(session, ctx).thrown_message(
        payload["name"], payload.get("correlation_key"), payload.get("variables") or {}
    )
    if delivered is None:
        log.warning(
            "thrown_message_dropped", name=payload["name"], correlation_key=payload.get("correlation_key"),
            source_instance_id=str(job["instance_id"]),
        )


@job_handler(DELIVER_SIGNAL)
async def deliver_signal(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """Broadcast the thrown signal (the throwing instance included, when it waits for it)."""
    payload = job["payload"]
    await delete_job(session, job["id"])
    # thrown when the job was written: the database's clock, as for the subscriptions'
    # `created_at` (a catch opened in the same transaction, a child's, was waiting)
    await Correlation(session, ctx).signal(
        payload["name"], payload.get("variables") or {},
        thrown_at=job.get("created_at"), excluded=frozenset(payload.get("excluded") or ()),
    )
