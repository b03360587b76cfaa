"""HTTP API: Automated steps: HTTP calls, external tasks fetched by workers, incidents.

External tasks follow Camunda's fetch-and-lock protocol: a worker (a token with the
role `worker`, `system` or `admin`) locks items of its topics for a while, then
completes them, reports a failure (with the retries it has left) or a BPMN error.
Only the worker holding the lock may report (409 otherwise).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request

from bpm_common.auth import Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, moment, uuid_value
from services.runtime.work import repository
from services.runtime.work.schemas import (
    CompleteExternalTask,
    ExtendLock,
    ExternalTaskBpmnError,
    ExternalTaskFailure,
    ExternalTaskPage,
    ExternalTaskView,
    FetchAndLock,
    IncidentPage,
    IncidentView,
    LockExtended,
    RetryIncident,
    WorkReported,
)
from services.runtime.work.service import (
    ExternalTasks,
    Incidents,
    external_task_view,
    incident_view,
)
from services.runtime.work.wakeup import EXTERNAL_WORK, wakeup

router = api_router(prefix="/api/v1", tags=["automated work"])

Worker = Annotated[Principal, require_roles("worker")]
Admin = Annotated[Principal, require_roles("admin", allow_system=False)]
#: a long poll looks again at least this often (work created on another replica wakes no one here)
POLL_SLICE_SECONDS = 1.0


@router.post(
    "/external-tasks/fetch-and-lock", response_model=list[ExternalTaskView], summary="Lock work of the given topics"
)
async def fetch_and_lock(body: FetchAndLock, request: Request, session: SessionDep, principal: Worker) -> Any:
    """Locks up to `max_tasks` due items of the topics for `worker_id` and returns them with their
    variables. With `async_response_timeout_ms` the call waits (long polling) until work arrives or
    the time is up; no transaction is held while it waits."""
    ctx = request.app.state.ctx
    lock_ms = {t.name: t.lock_duration_ms for t in body.topics}
    wanted = {t.name: set(t.variables) for t in body.topics if t.variables is not None}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body.async_response_timeout_ms / 1000
    while True:
        worker = ExternalTasks(session, ctx, principal.username)
        tasks = await worker.fetch_and_lock(body.worker_id, lock_ms, body.max_tasks)
        remaining = deadline - loop.time()
        if tasks or remaining <= 0:
            break
        await session.rollback()  # nothing was locked: give the connection back while waiting
        await wakeup(ctx, EXTERNAL_WORK).wait(min(remaining, POLL_SLICE_SECONDS))
    for task in tasks:
        names = wanted.get(task["topic"])
        if names is not None:
            task["variables"] = {k: v for k, v in task["variables"].items() if k in names}
    return ExactJSONResponse(tasks)


@router.get("/external-tasks", response_model=ExternalTaskPage, summary="External tasks, oldest first")
async def list_external_tasks(
    session: SessionDep,
    principal: Worker,
    topic: str | None = None,
    state: Annotated[str | None, Query(pattern="^(open|locked|completed|failed|incident|cancelled)$")] = None,
    instance_id: UUID | None = None,
    worker_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    after = decode_cursor(cursor, moment, uuid_value)
    rows = await repository.list_external(
        session, topic=topic, state=state, instance_id=instance_id, worker_id=worker_id,
        after=(after[0], after[1]) if after else None, limit=limit,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [external_task_view(r, with_variables=False) for r in rows]
    next_cursor = encode_cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if more else None
    return ExactJSONResponse({"items": items, "next_cursor": next_cursor})


@router.post("/external-tasks/{work_id}/complete", response_model=WorkReported, summary="Complete a locked task")
async def complete_external_task(
    work_id: UUID, body: CompleteExternalTask, request: Request, session: SessionDep, principal: Worker
) -> Any:
    """Stores `variables` (through the task's output mappings) and moves the instance on.
    404 for an unknown task, 409 when the caller's `worker_id` does not hold its lock."""
    tasks = ExternalTasks(session, request.app.state.ctx, principal.username)
    return ExactJSONResponse(await tasks.complete(work_id, body.worker_id, body.variables))


@router.post("/external-tasks/{work_id}/failure", response_model=WorkReported, summary="Report a failed attempt")
async def fail_external_task(
    work_id: UUID, body: ExternalTaskFailure, request: Request, session: SessionDep, principal: Worker
) -> Any:
    """With `retries` > 0 the task is offered again after `retry_timeout_ms` (or the task's retry
    backoff); with 0 an incident is opened until an administrator retries it."""
    tasks = ExternalTasks(session, request.app.state.ctx, principal.username)
    return ExactJSONResponse(
        await tasks.failure(work_id, body.worker_id, body.error_message, body.retries, body.retry_timeout_ms)
    )


@router.post("/external-tasks/{work_id}/bpmn-error", response_model=WorkReported, summary="Report a BPMN error")
async def external_task_bpmn_error(
    work_id: UUID, body: ExternalTaskBpmnError, request: Request, session: SessionDep, principal: Worker
) -> Any:
    """The business error `error_code` goes to the task's error boundary event (or an error event
    sub-process); uncaught, it terminates the instance."""
    tasks = ExternalTasks(session, request.app.state.ctx, principal.username)
    return ExactJSONResponse(
        await tasks.bpmn_error(work_id, body.worker_id, body.error_code, body.error_message, body.variables)
    )


@router.post("/external-tasks/{work_id}/extend-lock", response_model=LockExtended, summary="Keep the lock longer")
async def extend_external_task_lock(
    work_id: UUID, body: ExtendLock, request: Request, session: SessionDep, principal: Worker
) -> Any:
    tasks = ExternalTasks(session, request.app.state.ctx, principal.username)
    return ExactJSONResponse(await tasks.extend_lock(work_id, body.worker_id, body.new_duration_ms))


@router.get("/incidents", response_model=IncidentPage, summary="Incidents, newest first (administrators)")
async def list_incidents(
    session: SessionDep,
    principal: Admin,
    instance_id: UUID | None = None,
    definition_key: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    state: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    """`definition_key` lists the incidents of a process's instances and of its versions
    (a timer start that could not start an instance has no instance)."""
    before = decode_cursor(cursor, moment, uuid_value)
    rows = await repository.list_incidents(
        session, instance_id=instance_id, definition_key=definition_key, state=state,
        before=(before[0], before[1]) if before else None, limit=limit,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if more else None
    return ExactJSONResponse({"items": [incident_view(r) for r in rows], "next_cursor": next_cursor})


@router.get("/incidents/{incident_id}", response_model=IncidentView, summary="One incident (administrators)")
async def get_incident(incident_id: UUID, session: SessionDep, principal: Admin) -> Any:
    row = await repository.get_incident(session, incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} not found")
    return ExactJSONResponse(incident_view(row))


@router.post("/incidents/{incident_id}/retry", response_model=IncidentView, summary="Retry the failed work")
async def retry_incident(
    incident_id: UUID, body: RetryIncident, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Resolves the incident and hands the work out again with `retries` attempts; the reason is
    recorded in the instance history. A failed job runs again now (`retries` does not apply); a
    timer start of an incident without an instance tries to start its instance again (409 when its
    version is no longer the live one). 409 when the incident is already resolved."""
    incidents = Incidents(session, request.app.state.ctx)
    return ExactJSONResponse(await incidents.retry(incident_id, principal.username, body.retries, body.reason))
