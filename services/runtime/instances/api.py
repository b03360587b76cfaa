"""HTTP API of process instances."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bpm_common.app import ServiceContext
from bpm_common.auth import CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.direct import DirectCall, DirectRoutes
from bpm_common.errors import NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_cursor,
    encode_cursor,
    moment,
    uuid_value,
    whole_number,
)
from services.runtime.instances import repository
from services.runtime.instances.history import verify_chain
from services.runtime.instances.idempotency import remember, replay
from services.runtime.instances.schemas import (
    ChainVerification,
    HistoryPage,
    InstancePage,
    InstanceStarted,
    InstanceView,
    StartInstance,
)
from services.runtime.instances.service import InstanceCommands

router = api_router(prefix="/api/v1/process-instances", tags=["process instances"])
#: starting an instance, answered without FastAPI's router (see `bpm_common.direct`)
direct = DirectRoutes()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("", status_code=201, response_model=InstanceStarted, summary="Start a process instance")
async def start_instance(
    body: StartInstance,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Starts the latest live version of `definition_key` (or its trial version for a user in
    its trial roles) with the caller as `initiator`."""
    return await _start(session, request.app.state.ctx, principal, body, idempotency_key)


@direct.post("/api/v1/process-instances")
async def start_instance_direct(call: DirectCall) -> Response | None:
    body = call.json(StartInstance)
    if body is None:
        return None
    key = call.header(b"idempotency-key")
    return await call.run(lambda session, ctx, principal: _start(session, ctx, principal, body, key))


async def _start(
    session: AsyncSession, ctx: ServiceContext, principal: Principal, body: StartInstance, idempotency_key: str | None
) -> Response:
    endpoint = "POST /api/v1/process-instances"
    stored = await replay(session, idempotency_key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    commands = InstanceCommands(session, ctx)
    result = await commands.start(principal, body.definition_key, body.variables, body.business_key)
    await remember(session, idempotency_key, principal.username, endpoint, 201, result, body)
    return ExactJSONResponse(result, status_code=201)


@router.get("", response_model=InstancePage, summary="Process instances the caller may see")
async def list_instances(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    definition_key: str | None = None,
    state: Annotated[str | None, Query(pattern="^(active|completed|terminated)$")] = None,
    business_key: str | None = None,
    started_by_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    commands = InstanceCommands(session, request.app.state.ctx)
    roles = await commands.caller_roles(principal)
    before = decode_cursor(cursor, moment, uuid_value)
    rows = await repository.list_visible(
        session, principal, roles,
        definition_key=definition_key, state=state, business_key=business_key, started_by_me=started_by_me,
        before=(before[0], before[1]) if before else None,
        limit=limit,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [repository.view(r) for r in rows]
    next_cursor = encode_cursor(rows[-1]["started_at"], str(rows[-1]["id"])) if more else None
    return ExactJSONResponse({"items": items, "next_cursor": next_cursor})


async def _visible(request: Request, session: Any, principal: Any, instance_id: UUID) -> dict[str, Any]:
    commands = InstanceCommands(session, request.app.state.ctx)
    roles = await commands.caller_roles(principal)
    row = await repository.get_visible(session, instance_id, principal, roles)
    if row is None:
        raise NotFound(f"process instance {instance_id} not found")
    return row


@router.get("/{instance_id}", response_model=InstanceView, summary="One process instance")
async def get_instance(instance_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal) -> Any:
    return ExactJSONResponse(repository.view(await _visible(request, session, principal, instance_id)))


@router.get("/{instance_id}/history", response_model=HistoryPage, summary="Audit trail, in time order")
async def get_history(
    instance_id: UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: str | None = None,
) -> Any:
    await _visible(request, session, principal, instance_id)
    after = decode_cursor(cursor, whole_number)
    rows = await repository.history_of(session, instance_id, after[0] if after else None, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return ExactJSONResponse({"items": rows, "next_cursor": encode_cursor(rows[-1]["id"]) if more else None})


@router.get(
    "/{instance_id}/history/verify",
    response_model=ChainVerification,
    summary="Check the history's hash chain for tampering",
)
async def verify_history(instance_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal) -> Any:
    row = await _visible(request, session, principal, instance_id)
    return await verify_chain(
        session, instance_id, row["history_hash"], request.app.state.ctx.extras["history_keys"]
    )
