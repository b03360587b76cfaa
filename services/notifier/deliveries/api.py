"""The delivery log, for administrators: what went out on which channel, and what failed."""

from __future__ import annotations

from typing import Annotated

from bpm_common.auth import ADMIN, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from fastapi import Query

from services.notifier.deliveries import repository
from services.notifier.deliveries.models import Channel, DeliveryStatus
from services.notifier.deliveries.schemas import DeliveryOut, DeliveryPage
from services.notifier.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = api_router(prefix="/api/v1/deliveries", tags=["deliveries"])

AdminOnly = Annotated[Principal, require_roles(ADMIN, allow_system=False)]


@router.get("", response_model=DeliveryPage, summary="The delivery log, newest first")
async def list_deliveries(
    _: AdminOnly,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    recipient: Annotated[str | None, Query(min_length=1, max_length=150)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ExactJSONResponse:
    rows = await repository.page(
        session,
        status=status.value if status else None,
        channel=channel.value if channel else None,
        recipient=recipient,
        limit=limit,
        before=decode_cursor(cursor),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    page = DeliveryPage(
        items=[DeliveryOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )
    return ExactJSONResponse(page.model_dump())
