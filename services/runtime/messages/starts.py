"""Start events that are not started by a user: messages, signals and timers.

When a definition is published, its message and signal start events are indexed
by name (`start_events`), and the timer start events of the process key follow:
the older versions' timers are removed, and the new version's are scheduled when
it is the latest live one (a `timeDate` already past then fires once, at once). A
`timer_start` job starts an instance (initiator none, actor `timer`) and schedules the
next occurrence of a cycle.

A version's timers are scheduled when it is published, as Camunda schedules them
once per deployment: a one-shot timer that fired, or a cycle that ran out, leaves
no job, and publishing something else of the key (a trial version, for instance)
or a repeated event does not schedule them again. Publishing the version itself
again (a rollback) is a new publication, like a redeployment: its timers start
anew. A version that becomes the latest live one again because a newer one was
deprecated does not get its timers back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import DomainError
from bpm_common.ids import new_id
from bpm_common.logging import get_logger
from bpm_process.engine import message_start_events, next_fire, signal_start_events
from bpm_process.engine.timers import CYCLE, DATE
from services.runtime.definitions.models import definitions
from services.runtime.definitions.service import compile_definition
from services.runtime.instances.service import InstanceCommands, utcnow
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import delete_job, job_handler, schedule
from services.runtime.messages.models import start_events
from services.runtime.messages.repository import latest_live

log = get_logger(__name__)

TIMER_START = "timer_start"
TIMER_ACTOR = "timer"


async def on_definition_published(session: AsyncSession, definition_id: str | UUID) -> None:
    """Index the definition's message and signal starts; reschedule the timer starts of its key."""
    definition_id = UUID(str(definition_id))
    row = (
        await session.execute(
            select(definitions.c.key, definitions.c.bpmn, definitions.c.compile_error).where(
                definitions.c.id == definition_id
            )
        )
    ).first()
    if row is None:
        return
    await session.execute(delete(start_events).where(start_events.c.definition_id == definition_id))
    graph = None if row.compile_error else compile_definition(row.bpmn)[0]
    if graph is not None:
        rows = [
            {"definition_id": definition_id, "node_id": node, "definition_key": row.key, "kind": kind, "name": name}
            for kind, found in (("message", message_start_events(graph)), ("signal", signal_start_events(graph)))
            for name, node in found.items()
        ]
        if rows:
            await session.execute(insert(start_events), rows)
    await sync_timer_starts(session, row.key, published=definition_id)


async def sync_timer_starts(session: AsyncSession, key: str, *, published: UUID | None = None) -> None:
    """Remove the `timer_start` jobs of `key` that are not its latest live version's; schedule
    that version's when it is `published`, the definition just published (idempotent)."""
    ref = await latest_live(session, key)
    existing = (
        await session.execute(
            select(jobs.c.id, jobs.c.definition_id).where(
                jobs.c.kind == TIMER_START, jobs.c.payload["key"].astext == key
            )
        )
    ).all()
    stale = [j.id for j in existing if ref is None or j.definition_id != ref.id]
    if stale:
        await session.execute(delete(jobs).where(jobs.c.id.in_(stale)))
    if ref is None or ref.id != published or any(j.definition_id == ref.id for j in existing):
        return
    found = (
        await session.execute(
            select(definitions.c.bpmn, definitions.c.published_at).where(definitions.c.id == ref.id)
        )
    ).one()
    graph = compile_definition(found.bpmn)[0]
    if graph is None:
        return
    after = max(found.published_at, utcnow())
    for node_id, timer in graph.timer_starts.items():
        try:
            due = next_fire(timer, after)
        except Exception as exc:  # noqa: BLE001 - an expression timer that cannot be evaluated: not scheduled
            log.warning("timer_start_unschedulable", key=key, node_id=node_id, error=repr(exc))
            continue
        if due is None and timer.kind == DATE:
            due = utcnow()  # a date already past when the version is published: fires once, now (as Camunda)
        if due is not None:
            await schedule(session, {
                "id": UUID(new_id()), "kind": TIMER_START, "definition_id": ref.id, "node_id": node_id,
                "due_at": due, "payload": {"key": key, "fired": 0},
            })


@job_handler(TIMER_START)
async def fire_timer_start(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """Start an instance at the timer start event; schedule the cycle's next occurrence."""
    key = str(job["payload"].get("key"))
    fired = int(job["payload"].get("fired") or 0)
    ref = await latest_live(session, key)
    if ref is None or ref.id != job["definition_id"]:
        await delete_job(session, job["id"])  # a newer version (or none) runs now
        await sync_timer_starts(session, key)
        return
    graph = await ctx.extras["graphs"].get(session, ref.id)
    timer = graph.timer_starts.get(job["node_id"])
    if timer is None:
        await delete_job(session, job["id"])
        return
    try:
        async with session.begin_nested():
            await InstanceCommands(session, ctx).start_on(
                ref.id, ref.key, ref.version, trial=False, initiator=None, variables={}, business_key=None,
                start_event_id=job["node_id"], actor=TIMER_ACTOR,
            )
    except DomainError as exc:
        log.warning("timer_start_failed", key=key, node_id=job["node_id"], error=exc.detail)
    following = None
    if timer.kind == CYCLE:
        following = next_fire(timer, max(job["due_at"], utcnow() - dt.timedelta(seconds=1)), fired=fired + 1)
    if following is None:
        await delete_job(session, job["id"])
        return
    await session.execute(
        update(jobs)
        .where(jobs.c.id == job["id"])
        .values(due_at=following, attempts=0, last_error=None, payload={"key": key, "fired": fired + 1})
    )
