"""HTTP API of user tasks: the inbox and task completion."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bpm_common.app import ServiceContext
from bpm_common.auth import CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.direct import DirectCall, DirectRoutes, parse_uuid
from bpm_common.errors import Forbidden, NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import decode_cursor, encode_cursor, moment, uuid_value
from services.runtime.instances.api import IdempotencyKey
from services.runtime.instances.idempotency import remember, replay
from services.runtime.instances.repository import OVERSEERS
from services.runtime.instances.service import InstanceCommands, may_work
from services.runtime.tasks import repository
from services.runtime.tasks.schemas import CompleteTask, TaskCompleted, TaskPage, TaskQuery, TaskView

router = api_router(prefix="/api/v1/tasks", tags=["tasks"])
#: the inbox and task completion, answered without FastAPI's router (see `bpm_common.direct`)
direct = DirectRoutes()


@router.get("", response_model=TaskPage, summary="The caller's task inbox")
async def list_tasks(
    request: Request, session: SessionDep, principal: CurrentPrincipal, query: Annotated[TaskQuery, Query()]
) -> Any:
    """Open tasks the caller may work: assigned to them, or offered to them or to a role they
    hold. `state=completed` lists the tasks the caller completed."""
    return await _inbox(session, request.app.state.ctx, principal, query)


@direct.get("/api/v1/tasks")
async def list_tasks_direct(call: DirectCall) -> Response | None:
    query = call.query(TaskQuery)
    if query is None:
        return None
    return await call.run(lambda session, ctx, principal: _inbox(session, ctx, principal, query))


async def _inbox(session: AsyncSession, ctx: ServiceContext, principal: Principal, query: TaskQuery) -> Response:
    if query.scope == "all":
        roles = await InstanceCommands(session, ctx).caller_roles(principal)
        if not roles.intersection(OVERSEERS):
            raise Forbidden("only administrators and process owners may list every task")
    after = decode_cursor(query.cursor, moment, uuid_value)
    # the caller's roles from the organisation copy are read by the inbox query itself
    rows = await repository.list_tasks(
        session, principal.username, principal.roles,
        state=query.state, everyone=query.scope == "all", instance_id=query.instance_id,
        definition_key=query.definition_key, node_id=query.node_id,
        after=(after[0], after[1]) if after else None,
        limit=query.limit,
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return ExactJSONResponse({"items": rows, "next_cursor": next_cursor})


@router.get("/{task_id}", response_model=TaskView, summary="One task")
async def get_task(task_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal) -> Any:
    task = await repository.get_task(session, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    commands = InstanceCommands(session, request.app.state.ctx)
    roles = await commands.caller_roles(principal)
    involved = task["completed_by"] == principal.username or may_work(task, principal.username, roles)
    if not involved and not roles.intersection(OVERSEERS):
        raise NotFound(f"task {task_id} not found")
    return ExactJSONResponse(task)


@router.post("/{task_id}/complete", response_model=TaskCompleted, summary="Complete a task")
async def complete_task(
    task_id: UUID,
    body: CompleteTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Completes the task with the given variables (merged into the instance) and comment.
    403 if the caller may not work it, 409 if it is no longer open."""
    return await _complete(session, request.app.state.ctx, principal, task_id, body, idempotency_key)


@direct.post("/api/v1/tasks/{task_id}/complete")
async def complete_task_direct(call: DirectCall) -> Response | None:
    task_id = parse_uuid(call.params["task_id"])
    body = call.json(CompleteTask)
    if task_id is None or body is None:
        return None
    key = call.header(b"idempotency-key")
    return await call.run(lambda session, ctx, principal: _complete(session, ctx, principal, task_id, body, key))


async def _complete(
    session: AsyncSession,
    ctx: ServiceContext,
    principal: Principal,
    task_id: UUID,
    body: CompleteTask,
    idempotency_key: str | None,
) -> Response:
    endpoint = f"POST /api/v1/tasks/{task_id}/complete"
    stored = await replay(session, idempotency_key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    summary = await InstanceCommands(session, ctx).complete_task(
        principal, task_id, body.variables, body.comment, body.outcome
    )
    result = {
        "id": str(task_id),
        "instance_id": summary["id"],
        "state": "completed",
        "instance_state": summary["state"],
        "active_nodes": summary["active_nodes"],
    }
    await remember(session, idempotency_key, principal.username, endpoint, 200, result, body)
    return ExactJSONResponse(result)
