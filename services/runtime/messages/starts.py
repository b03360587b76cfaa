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

A timer start that fires but cannot start an instance opens an incident of its
definition version (no instance: `jobs.incidents.open_definition_incident`), which
administrators see at `GET /api/v1/incidents` and retry. A refusal of the start (a
gateway with no way out, input that does not validate: a `DomainError`) opens it at
once; any other failure is retried with backoff, and opens it after
`worker.INCIDENT_AFTER` attempts, as for other jobs. The failed occurrence is kept as
a job of its own, parked (`due_at` far in the future) and marked `failed_occurrence`
in its payload: a one-shot timer's job is parked itself; a cycle's job goes on to its
next occurrence as if the failed one had started, and a parked copy holds the failed
one. An administrator's retry makes that job due: it starts the instance and is
removed, or, refused again, is parked again with a new incident (the retried one stays
resolved). A parked failed occurrence never schedules another one.

When the version stops being the latest live one (a new version is published, or it
is deprecated), its failed occurrences are handed to the worker at once: it closes
their incidents (resolved by the runtime, cause `definition_replaced`) and drops them.
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
from bpm_process.engine.timers import CYCLE, DATE, TimerDefinition
from services.runtime.definitions.models import definitions
from services.runtime.definitions.service import DefinitionRef, compile_definition
from services.runtime.instances.service import InstanceCommands, utcnow
from services.runtime.jobs.incidents import PARKED, open_definition_incident, resolve_definition_incidents
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import delete_job, job_handler, job_parker, schedule
from services.runtime.messages.models import start_events
from services.runtime.messages.repository import latest_live

log = get_logger(__name__)

TIMER_START = "timer_start"
TIMER_ACTOR = "timer"
#: the payload flag of a parked failed occurrence (see the module's docstring)
FAILED_OCCURRENCE = "failed_occurrence"
#: the cause of an incident closed because its version no longer runs its timer starts
DEFINITION_REPLACED = "definition_replaced"


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
    that version's when it is `published`, the definition just published (idempotent).

    The failed occurrences of the other versions are not removed here but made due: the
    job worker closes their incidents (with their events) and removes them."""
    ref = await latest_live(session, key)
    existing = (
        await session.execute(
            select(jobs.c.id, jobs.c.definition_id, jobs.c.payload).where(
                jobs.c.kind == TIMER_START, jobs.c.payload["key"].astext == key
            )
        )
    ).all()
    stale = [j for j in existing if ref is None or j.definition_id != ref.id]
    dropped = [j.id for j in stale if not j.payload.get(FAILED_OCCURRENCE)]
    closing = [j.id for j in stale if j.payload.get(FAILED_OCCURRENCE)]
    if dropped:
        await session.execute(delete(jobs).where(jobs.c.id.in_(dropped)))
    if closing:
        await session.execute(
            update(jobs).where(jobs.c.id.in_(closing)).values(due_at=utcnow(), attempts=0, locked_until=None)
        )
    if ref is None or ref.id != published:
        return
    if any(j.definition_id == ref.id and not j.payload.get(FAILED_OCCURRENCE) for j in existing):
        return  # scheduled already (a failed occurrence parked for a retry is no schedule)
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
    """Start an instance at the timer start event; schedule the cycle's next occurrence. A
    refused start is parked with an incident of the definition."""
    key = str(job["payload"].get("key"))
    ref = await latest_live(session, key)
    if ref is None or ref.id != job["definition_id"]:
        if job["payload"].get(FAILED_OCCURRENCE):
            await _close_replaced(session, ctx, job, ref)
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
        await _park(session, ctx, job, timer, job["attempts"] + 1,
                    f"the timer start event fired but the instance was refused: {exc.detail}")
        return
    following = _following(job, timer)
    if following is None:
        await delete_job(session, job["id"])
        return
    await _advance(session, job, following)


@job_parker(TIMER_START)
async def park_failing_timer_start(ctx: ServiceContext, job: dict[str, Any], error: str, attempts: int) -> None:
    """A timer start that failed `attempts` times (not refused: an error of the runtime or
    the database) is parked with an incident, in its own unit of work."""
    async with ctx.db.transaction() as session:
        row = (
            await session.execute(select(jobs).where(jobs.c.id == job["id"]).with_for_update(skip_locked=True))
        ).mappings().first()
        if row is None:
            return  # removed meanwhile (the version was replaced), or taken by another worker
        current = dict(row)
        ref = await latest_live(session, str(current["payload"].get("key")))
        graph = await ctx.extras["graphs"].get(session, current["definition_id"])
        timer = graph.timer_starts.get(current["node_id"])
        if ref is None or ref.id != current["definition_id"] or timer is None:
            # not its version's to run any more: due now, the handler closes and drops it
            await session.execute(update(jobs).where(jobs.c.id == current["id"]).values(
                attempts=attempts, due_at=utcnow(), last_error=error[:2000]))
            return
        await _park(session, ctx, current, timer, attempts,
                    f"the timer start event fired but starting the instance failed {attempts} times: {error}")


def _following(job: dict[str, Any], timer: TimerDefinition) -> dt.datetime | None:
    """The due time of the occurrence after this job's: None for a one-shot timer, a cycle
    that ran out, or a parked failed occurrence."""
    if timer.kind != CYCLE or job["payload"].get(FAILED_OCCURRENCE):
        return None
    fired = int(job["payload"].get("fired") or 0)
    return next_fire(timer, max(job["due_at"], utcnow() - dt.timedelta(seconds=1)), fired=fired + 1)


async def _advance(session: AsyncSession, job: dict[str, Any], following: dt.datetime) -> None:
    fired = int(job["payload"].get("fired") or 0)
    await session.execute(
        update(jobs)
        .where(jobs.c.id == job["id"])
        .values(due_at=following, attempts=0, last_error=None,
                payload={"key": job["payload"].get("key"), "fired": fired + 1})
    )


async def _park(
    session: AsyncSession, ctx: ServiceContext, job: dict[str, Any], timer: TimerDefinition, attempts: int,
    message: str,
) -> None:
    """Park the occurrence that failed after `attempts` with an incident of the definition;
    a cycle goes on to its next occurrence and leaves a parked copy for the failed one."""
    parked = {**job["payload"], FAILED_OCCURRENCE: True}
    following = _following(job, timer)
    if following is None:
        occurrence = job["id"]
        await session.execute(
            update(jobs).where(jobs.c.id == occurrence).values(
                due_at=PARKED, attempts=attempts, locked_until=None, last_error=message[:2000], payload=parked)
        )
    else:
        occurrence = UUID(new_id())
        await schedule(session, {
            "id": occurrence, "kind": TIMER_START, "definition_id": job["definition_id"], "node_id": job["node_id"],
            "due_at": PARKED, "payload": parked, "attempts": attempts, "last_error": message[:2000],
        })
        await _advance(session, job, following)
    found = (
        await session.execute(
            select(definitions.c.key, definitions.c.version).where(definitions.c.id == job["definition_id"])
        )
    ).one()
    graph = await ctx.extras["graphs"].get(session, job["definition_id"])
    node = graph.nodes.get(job["node_id"])
    await open_definition_incident(
        session, ctx, {**job, "id": occurrence}, key=found.key, version=found.version,
        node_name=node.name if node is not None else None, message=message,
    )


async def _close_replaced(
    session: AsyncSession, ctx: ServiceContext, job: dict[str, Any], ref: DefinitionRef | None
) -> None:
    """Close the incident of a failed occurrence whose version no longer runs its timer starts."""
    version = (
        await session.execute(select(definitions.c.version).where(definitions.c.id == job["definition_id"]))
    ).scalar_one_or_none()
    key = job["payload"].get("key")
    reason = (
        f"version {version} of {key} was replaced by version {ref.version}: its timer starts no longer run"
        if ref is not None
        else f"version {version} of {key} is no longer live, nor is any other: its timer starts no longer run"
    )
    await resolve_definition_incidents(session, ctx, job["id"], actor=None, reason=reason, cause=DEFINITION_REPLACED)
