"""HTTP API: Administrator interventions on running instances: skip, move, cancel a token,
reassign, suspend, resume, terminate, edit variables (retrying an incident is
`POST /incidents/{id}/retry` of the work domain)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Request

from bpm_common.auth import Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from services.runtime.admin.schemas import (
    CancelToken,
    EditVariables,
    InstanceTokens,
    Intervention,
    Justified,
    MoveToken,
    Reassign,
    SkipNode,
)
from services.runtime.admin.service import AdminInterventions
from services.runtime.operations.assignment import TaskAssignments
from services.runtime.operations.schemas import AssignedTask

router = api_router(prefix="/api/v1", tags=["administration"])

Admin = Annotated[Principal, require_roles("admin")]
INSTANCE = "/admin/process-instances/{instance_id}"


def _admin(request: Request, session: Any, principal: Principal) -> AdminInterventions:
    return AdminInterventions(session, request.app.state.ctx, principal.username)


@router.post(f"{INSTANCE}/skip", response_model=Intervention, summary="Skip a node")
async def skip(
    instance_id: UUID, body: SkipNode, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """The node (named by its open `task_id` or a `token_id`) is left as if it had completed;
    `variables` are stored. A multi-instance body's token skips every instance."""
    admin = _admin(request, session, principal)
    return ExactJSONResponse(
        await admin.skip(instance_id, body.task_id, body.token_id, body.reason, body.variables)
    )


@router.post(f"{INSTANCE}/move", response_model=Intervention, summary="Move a token to any node")
async def move(
    instance_id: UUID, body: MoveToken, request: Request, session: SessionDep, principal: Admin
) -> Any:
    admin = _admin(request, session, principal)
    return ExactJSONResponse(
        await admin.move(instance_id, body.from_node, body.token_id, body.to_node, body.reason)
    )


@router.post(f"{INSTANCE}/cancel-token", response_model=Intervention, summary="Cancel a token")
async def cancel_token(
    instance_id: UUID, body: CancelToken, request: Request, session: SessionDep, principal: Admin
) -> Any:
    admin = _admin(request, session, principal)
    return ExactJSONResponse(
        await admin.cancel_token(instance_id, body.token_id, body.from_node, body.reason)
    )


@router.post(f"{INSTANCE}/terminate", response_model=Intervention, summary="Terminate an instance")
async def terminate(
    instance_id: UUID, body: Justified, request: Request, session: SessionDep, principal: Admin
) -> Any:
    return ExactJSONResponse(
        await _admin(request, session, principal).terminate(instance_id, body.reason)
    )


@router.post(f"{INSTANCE}/suspend", response_model=Intervention, summary="Suspend an instance")
async def suspend(
    instance_id: UUID, body: Justified, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Users' commands are refused with 409 until it is resumed; timers wait. The running
    instances it called (children, grandchildren ...) are suspended with it, each with its
    own history entry naming this instance in `details.cascade_from`; 409 if it is
    already suspended."""
    admin = _admin(request, session, principal)
    return ExactJSONResponse(await admin.suspend(instance_id, body.reason, suspended=True))


@router.post(
    f"{INSTANCE}/resume", response_model=Intervention, summary="Resume a suspended instance"
)
async def resume(
    instance_id: UUID, body: Justified, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Resumes it and the instances below it that its suspend suspended (not those an
    administrator suspended on their own). 409 if it is not suspended, or while an
    instance that called it is suspended (the detail names the one to resume)."""
    admin = _admin(request, session, principal)
    return ExactJSONResponse(await admin.suspend(instance_id, body.reason, suspended=False))


@router.patch(
    f"{INSTANCE}/variables", response_model=Intervention, summary="Edit instance variables"
)
async def edit_variables(
    instance_id: UUID, body: EditVariables, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Sets the given variables; the history keeps each value before and after."""
    admin = _admin(request, session, principal)
    return ExactJSONResponse(await admin.edit_variables(instance_id, body.variables, body.reason))


@router.post(
    "/admin/tasks/{task_id}/reassign", response_model=AssignedTask, summary="Reassign a task"
)
async def reassign(
    task_id: UUID, body: Reassign, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Gives the task to `to`, also while it is delegated (the delegation ends) or suspended."""
    assignments = TaskAssignments(session, request.app.state.ctx)
    return ExactJSONResponse(await assignments.reassign(principal, task_id, body.to, body.reason))


@router.get(
    "/process-instances/{instance_id}/tokens",
    response_model=InstanceTokens,
    summary="Where an instance waits",
)
async def tokens(instance_id: UUID, request: Request, session: SessionDep, principal: Admin) -> Any:
    """Tokens with their nodes and open tasks, scopes with multi-instance counters, signers,
    work items and timers: what an administrator picks from."""
    return ExactJSONResponse(await _admin(request, session, principal).tokens(instance_id))
