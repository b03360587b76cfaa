"""HTTP API of user tasks: the inbox and task completion."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request

from bpm_common.auth import CurrentPrincipal
from bpm_common.db import SessionDep
from bpm_common.errors import Forbidden, NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from services.runtime.instances.api import IdempotencyKey
from services.runtime.instances.idempotency import remember, replay
from services.runtime.instances.repository import OVERSEERS
from services.runtime.instances.service import InstanceCommands, may_work
from services.runtime.tasks import repository
from services.runtime.tasks.schemas import CompleteTask, TaskCompleted, TaskPage, TaskView

router = api_router(prefix="/api/v1/tasks", tags=["tasks"])


@router.get("", response_model=TaskPage, summary="The caller's task inbox")
async def list_tasks(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    state: Annotated[str, Query(pattern="^(open|completed|cancelled)$")] = "open",
    scope: Annotated[str, Query(pattern="^(mine|all)$", description="`all` for administrators")] = "mine",
    instance_id: UUID | None = None,
    definition_key: str | None = None,
    node_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    """Open tasks the caller may work: assigned to them, or offered to them or to a role they
    hold. `state=completed` lists the tasks the caller completed."""
    if scope == "all":
        roles = await InstanceCommands(session, request.app.state.ctx).caller_roles(principal)
        if not roles.intersection(OVERSEERS):
            raise Forbidden("only administrators and process owners may list every task")
    after = decode_cursor(cursor, 2)
    # the caller's roles from the organisation copy are read by the inbox query itself
    rows = await repository.list_tasks(
        session, principal.username, principal.roles,
        state=state, everyone=scope == "all", instance_id=instance_id,
        definition_key=definition_key, node_id=node_id,
        after=(dt.datetime.fromisoformat(after[0].replace("Z", "+00:00")), UUID(after[1])) if after else None,
        limit=limit,
    )
    more = len(rows) > limit
    rows = rows[:limit]
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
    endpoint = f"POST /api/v1/tasks/{task_id}/complete"
    stored = await replay(session, idempotency_key, principal.username, endpoint)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    commands = InstanceCommands(session, request.app.state.ctx)
    summary = await commands.complete_task(principal, task_id, body.variables, body.comment, body.outcome)
    result = {
        "id": str(task_id),
        "instance_id": summary["id"],
        "state": "completed",
        "instance_state": summary["state"],
        "active_nodes": summary["active_nodes"],
    }
    await remember(session, idempotency_key, principal.username, endpoint, 200, result)
    return ExactJSONResponse(result)
