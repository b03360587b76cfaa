"""HTTP API: Call activities: child instances started and their results passed back."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request
from sqlalchemy import and_, or_, select

from bpm_common.auth import CurrentPrincipal
from bpm_common.db import SessionDep
from bpm_common.errors import NotFound
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, moment, uuid_value
from services.runtime.calls.schemas import CalledInstancePage
from services.runtime.instances.models import instances
from services.runtime.instances.repository import get_visible
from services.runtime.instances.service import InstanceCommands

router = api_router(prefix="/api/v1", tags=["call activities"])


@router.get(
    "/process-instances/{instance_id}/called-instances",
    response_model=CalledInstancePage,
    summary="Instances started by the call activities of an instance",
)
async def called_instances(
    instance_id: UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Any:
    """The called (child) instances, oldest first, for whoever may see the calling instance."""
    roles = await InstanceCommands(session, request.app.state.ctx).caller_roles(principal)
    if await get_visible(session, instance_id, principal, roles) is None:
        raise NotFound(f"process instance {instance_id} not found")
    after = decode_cursor(cursor, moment, uuid_value)
    query = select(
        instances.c.id, instances.c.definition_key, instances.c.definition_version, instances.c.business_key,
        instances.c.state, instances.c.parent_call_id, instances.c.started_at, instances.c.ended_at,
    ).where(instances.c.parent_instance_id == instance_id)
    if after:
        at, last = after
        query = query.where(
            or_(instances.c.started_at > at, and_(instances.c.started_at == at, instances.c.id > last))
        )
    rows = (await session.execute(query.order_by(instances.c.started_at, instances.c.id).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": str(r.id), "definition_key": r.definition_key, "definition_version": r.definition_version,
            "business_key": r.business_key, "state": r.state, "call_id": r.parent_call_id,
            "started_at": r.started_at, "ended_at": r.ended_at,
        }
        for r in rows
    ]
    next_cursor = encode_cursor(rows[-1].started_at, str(rows[-1].id)) if more else None
    return ExactJSONResponse({"items": items, "next_cursor": next_cursor})
