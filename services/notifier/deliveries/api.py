"""The delivery log, for administrators: what went out on which channel, what failed, and
retrying dead letters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import Query

from bpm_common.auth import ADMIN, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import Conflict, NotFound, Unprocessable, field_error
from bpm_common.http import ExactJSONResponse, api_router
from services.notifier.deliveries import repository
from services.notifier.deliveries.models import DeliveryStatus
from services.notifier.deliveries.schemas import (
    AttemptOut,
    BulkRetry,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    Retried,
)
from services.notifier.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = api_router(prefix="/api/v1/deliveries", tags=["deliveries"])

AdminOnly = Annotated[Principal, require_roles(ADMIN, allow_system=False)]


@router.get("", response_model=DeliveryPage, summary="The delivery log, newest first")
async def list_deliveries(
    _: AdminOnly,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    channel: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    recipient: Annotated[str | None, Query(min_length=1, max_length=150)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ExactJSONResponse:
    rows = await repository.page(
        session,
        status=status.value if status else None,
        channel=channel,
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


@router.get(
    "/{delivery_id}", response_model=DeliveryDetail, summary="One delivery with its attempts"
)
async def get_delivery(
    delivery_id: uuid.UUID, _: AdminOnly, session: SessionDep
) -> ExactJSONResponse:
    row = await repository.get(session, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    attempts = [AttemptOut.model_validate(a) for a in await repository.attempts_of(session, row.id)]
    detail = DeliveryDetail(**DeliveryOut.model_validate(row).model_dump(), attempt_log=attempts)
    return ExactJSONResponse(detail.model_dump())


@router.post(
    "/{delivery_id}/retry",
    response_model=DeliveryOut,
    summary="Send a dead (or failed) delivery again now, with a fresh set of attempts",
)
async def retry_delivery(
    delivery_id: uuid.UUID, _: AdminOnly, session: SessionDep
) -> ExactJSONResponse:
    row = await repository.get(session, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    if not await repository.retry(session, _now(), ids=[delivery_id]):
        raise Conflict(f"the delivery is {row.status}; only dead or failed ones are retried")
    await session.refresh(row)
    return ExactJSONResponse(DeliveryOut.model_validate(row).model_dump())


@router.post("/retry", response_model=Retried, summary="Retry several dead deliveries")
async def retry_deliveries(
    request: BulkRetry, _: AdminOnly, session: SessionDep
) -> ExactJSONResponse:
    if (request.ids is None) == (request.all_dead is None):
        raise Unprocessable(
            "give either ids or all_dead", errors=[field_error("ids", "give ids or all_dead")]
        )
    if request.all_dead is not None and request.all_dead is not True:
        raise Unprocessable(
            "all_dead must be true", errors=[field_error("all_dead", "must be true")]
        )
    retried = await repository.retry(
        session, _now(), ids=request.ids, channel=request.channel, only_dead=request.ids is None
    )
    return ExactJSONResponse({"retried": len(retried)})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
