"""HTTP API: Approval operations on tasks and instances: approve, reject, return, withdraw,
add or remove signers, transfer, delegate, claim, urge."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response

from bpm_common.auth import CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from services.runtime.instances.api import IdempotencyKey
from services.runtime.instances.idempotency import remember, replay
from services.runtime.operations.assignment import TaskAssignments
from services.runtime.operations.schemas import (
    MAX_REASON,
    AddSigner,
    ApproveTask,
    AssignedTask,
    HandOver,
    InstanceWithdrawn,
    RejectTask,
    ResolveTask,
    ReturnTargets,
    ReturnTask,
    SignerAdded,
    TaskDecision,
    TaskReturned,
    UrgeTask,
    Withdraw,
)
from services.runtime.operations.service import ApprovalOperations

router = api_router(prefix="/api/v1", tags=["approval operations"])


def _operations(request: Request, session: Any) -> ApprovalOperations:
    return ApprovalOperations(session, request.app.state.ctx)


def _assignments(request: Request, session: Any) -> TaskAssignments:
    return TaskAssignments(session, request.app.state.ctx)


async def _once(
    session: Any, key: str | None, principal: Principal, endpoint: str, status: int, work: Any, body: Any
) -> ExactJSONResponse:
    """Run `work()` once per Idempotency-Key; a retry (with the same `body`) gets the first answer."""
    stored = await replay(session, key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    result = await work()
    await remember(session, key, principal.username, endpoint, status, result, body)
    return ExactJSONResponse(result, status_code=status)


@router.post("/tasks/{task_id}/approve", response_model=TaskDecision, summary="Approve a task")
async def approve(
    task_id: UUID,
    body: ApproveTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Completes an approval task with the outcome `approve` (any other task: completes it).
    403 if the caller may not work it, 409 if it is no longer open or is delegated."""
    ops = _operations(request, session)
    return await _once(
        session,
        idempotency_key,
        principal,
        f"POST /api/v1/tasks/{task_id}/approve",
        200,
        lambda: ops.decide(
            principal, task_id, approve=True, comment=body.comment, variables=body.variables
        ),
        body,
    )


@router.post(
    "/tasks/{task_id}/reject", response_model=TaskDecision, summary="Reject an approval task"
)
async def reject(
    task_id: UUID,
    body: RejectTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Completes an approval task with the outcome `reject` and a required comment; the node's
    reject action decides what follows (end the instance as rejected, back to the initiator or
    to the previous node). 422 for a task that is not an approval."""
    ops = _operations(request, session)
    return await _once(
        session,
        idempotency_key,
        principal,
        f"POST /api/v1/tasks/{task_id}/reject",
        200,
        lambda: ops.decide(
            principal, task_id, approve=False, comment=body.comment, variables=body.variables
        ),
        body,
    )


@router.get(
    "/tasks/{task_id}/return-targets",
    response_model=ReturnTargets,
    summary="Where a task can return to",
)
async def return_targets(
    task_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    """The earlier completed nodes on the way to this task, the most recently completed last."""
    items = await _operations(request, session).return_targets(principal, task_id)
    return ExactJSONResponse({"items": items, "next_cursor": None})


@router.post(
    "/tasks/{task_id}/return",
    response_model=TaskReturned,
    summary="Return to an earlier node (退回)",
)
async def return_task(
    task_id: UUID,
    body: ReturnTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Sends the instance back to `target_node_id`; parallel branches and other signers between
    the target and this task are cancelled. Emits `task.returned`."""
    ops = _operations(request, session)
    return await _once(
        session,
        idempotency_key,
        principal,
        f"POST /api/v1/tasks/{task_id}/return",
        200,
        lambda: ops.return_task(principal, task_id, body.target_node_id, body.reason),
        body,
    )


@router.post(
    "/tasks/{task_id}/signers",
    status_code=201,
    response_model=SignerAdded,
    summary="Add a signer (加签)",
)
async def add_signer(
    task_id: UUID,
    body: AddSigner,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    ops = _operations(request, session)
    return await _once(
        session,
        idempotency_key,
        principal,
        f"POST /api/v1/tasks/{task_id}/signers",
        201,
        lambda: ops.add_signer(principal, task_id, body.user, body.mode, body.reason),
        body,
    )


@router.delete(
    "/tasks/{task_id}/signers/{signer_id}", status_code=204, summary="Remove an added signer (减签)"
)
async def remove_signer(
    task_id: UUID,
    signer_id: UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    reason: Annotated[str | None, Query(max_length=MAX_REASON)] = None,
) -> Response:
    """By whoever added the signer, or an administrator. 409 once the signer has signed."""
    await _operations(request, session).remove_signer(principal, task_id, str(signer_id), reason)
    return Response(status_code=204)


@router.post(
    "/tasks/{task_id}/transfer", response_model=AssignedTask, summary="Transfer a task (转办)"
)
async def transfer(
    task_id: UUID,
    body: HandOver,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    return ExactJSONResponse(
        await _assignments(request, session).transfer(principal, task_id, body.to, body.reason)
    )


@router.post(
    "/tasks/{task_id}/delegate", response_model=AssignedTask, summary="Delegate a task (委派)"
)
async def delegate(
    task_id: UUID,
    body: HandOver,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """The assignee stays the task's owner; the delegate resolves it, then the owner
    completes it."""
    return ExactJSONResponse(
        await _assignments(request, session).delegate(principal, task_id, body.to, body.reason)
    )


@router.post(
    "/tasks/{task_id}/resolve", response_model=AssignedTask, summary="Resolve a delegated task"
)
async def resolve(
    task_id: UUID,
    body: ResolveTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """By the delegate: the task goes back to its owner, with the delegate's variables stored."""
    assignments = _assignments(request, session)
    return ExactJSONResponse(
        await assignments.resolve(principal, task_id, body.comment, body.variables)
    )


@router.post(
    "/tasks/{task_id}/claim",
    response_model=AssignedTask,
    summary="Claim a task offered to candidates",
)
async def claim(
    task_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    return ExactJSONResponse(await _assignments(request, session).claim(principal, task_id))


@router.post(
    "/tasks/{task_id}/unclaim", response_model=AssignedTask, summary="Give a claimed task back"
)
async def unclaim(
    task_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    return ExactJSONResponse(await _assignments(request, session).unclaim(principal, task_id))


@router.post("/tasks/{task_id}/urge", response_model=AssignedTask, summary="Urge a task (催办)")
async def urge(
    task_id: UUID,
    body: UrgeTask,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """By the initiator or an administrator, once per 10 minutes per task (429 with Retry-After)."""
    return ExactJSONResponse(
        await _assignments(request, session).urge(principal, task_id, body.message)
    )


@router.post(
    "/process-instances/{instance_id}/withdraw",
    response_model=InstanceWithdrawn,
    summary="Withdraw a request (撤回)",
)
async def withdraw(
    instance_id: UUID,
    body: Withdraw,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """By the initiator, while no one else has acted since they submitted it (or after it was
    sent back to them). The instance ends `terminated`; emits `instance.withdrawn`."""
    ops = _operations(request, session)
    return await _once(
        session,
        idempotency_key,
        principal,
        f"POST /api/v1/process-instances/{instance_id}/withdraw",
        200,
        lambda: ops.withdraw(principal, instance_id, body.reason),
        body,
    )
