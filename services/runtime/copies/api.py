"""HTTP API: Copies (CC, 抄送) of instances to people and roles, with read receipts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request

from bpm_common.auth import CurrentPrincipal
from bpm_common.db import SessionDep
from bpm_common.errors import NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, moment, uuid_value
from services.runtime.copies import repository
from services.runtime.copies.schemas import (
    CopiesCreated,
    CopyPage,
    CopyRequest,
    CopyView,
    MyCopyPage,
)
from services.runtime.copies.service import ADMIN, Copies, view
from services.runtime.instances.api import IdempotencyKey
from services.runtime.instances.idempotency import remember, replay
from services.runtime.instances.service import utcnow
from services.runtime.operations.actions import instance_action
from services.runtime.org.repository import roles_of

router = api_router(prefix="/api/v1", tags=["copies"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post(
    "/process-instances/{instance_id}/copies",
    status_code=201,
    response_model=CopiesCreated,
    summary="Copy an instance to people (抄送)",
)
async def copy_instance(
    instance_id: UUID,
    body: CopyRequest,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The initiator, a participant (someone who has or had a task of the instance) or
    an administrator copies it; each recipient may then read the instance and its
    history. 422 names each entry of `to` that is not a rule or finds nobody."""
    endpoint = f"POST /api/v1/process-instances/{instance_id}/copies"
    stored = await replay(session, idempotency_key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    items = await Copies(session, request.app.state.ctx).copy(
        principal, instance_id, body.to, body.message
    )
    result = {"items": items}
    await remember(session, idempotency_key, principal.username, endpoint, 201, result, body)
    return ExactJSONResponse(result, status_code=201)


@router.get(
    "/process-instances/{instance_id}/copies",
    response_model=CopyPage,
    summary="Who got a copy of an instance, and who read it",
)
async def copies_of_instance(
    instance_id: UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    """For the initiator and administrators."""
    found, initiator = await repository.initiator_of(session, instance_id)
    roles = principal.roles | await roles_of(session, principal.username)
    if not found or (initiator != principal.username and ADMIN not in roles):
        raise NotFound(f"process instance {instance_id} not found")
    after = _cursor(cursor)
    rows = await repository.of_instance(session, instance_id, after=after, limit=limit)
    return _page(rows, limit, view)


@router.get("/copies", response_model=MyCopyPage, summary="The caller's copies")
async def my_copies(
    session: SessionDep,
    principal: CurrentPrincipal,
    unread: bool = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    """Newest first, each with a summary of its instance; `unread=true` for those not read yet."""
    rows = await repository.list_mine(
        session, principal.username, unread=unread, before=_cursor(cursor), limit=limit
    )
    return _page(rows, limit, _mine)


@router.post("/copies/{copy_id}/read", response_model=CopyView, summary="Read receipt of a copy")
async def read_copy(copy_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal) -> Any:
    """Marks the caller's copy read; reading again keeps the first time. The first
    reading is a read receipt in the instance's history."""
    now = utcnow()
    row = await repository.mark_read(session, copy_id, principal.username, now)
    if row is None:
        raise NotFound(f"copy {copy_id} not found")
    if row["read_at"] == now:
        async with instance_action(session, request.app.state.ctx, row["instance_id"], actor=principal.username,
                                   allow_suspended=True, allow_ended=True) as step:
            step.history.add("copy_read", step.now, actor=principal.username, node_id=row["node_id"],
                             node_name=step.node_name(row["node_id"]), details={"copy_id": str(copy_id)})
    return ExactJSONResponse(view(row))


def _cursor(cursor: str | None) -> tuple[dt.datetime, UUID] | None:
    values = decode_cursor(cursor, moment, uuid_value)
    return (values[0], values[1]) if values else None


def _page(rows: list[dict[str, Any]], limit: int, shape: Any) -> ExactJSONResponse:
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if more else None
    return ExactJSONResponse({"items": [shape(row) for row in rows], "next_cursor": next_cursor})


def _mine(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **view(row),
        "instance": {
            "definition_key": row["definition_key"],
            "definition_version": row["definition_version"],
            "business_key": row["business_key"],
            "initiator": row["initiator"],
            "state": row["instance_state"],
            "started_at": row["started_at"],
        },
    }
