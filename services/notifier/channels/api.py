"""Channel configurations of the organisation, for administrators. URLs are write-only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from bpm_common.auth import ADMIN, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from services.notifier.channels import repository, service
from services.notifier.channels.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    ChannelTestResult,
)
from services.notifier.deliveries.models import ChannelKind
from services.notifier.deliveries.senders.base import DeliveryError, OutgoingMessage
from services.notifier.org.models import OrgUser
from services.notifier.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from services.notifier.runtime import NotifierRuntime, notifier

router = api_router(prefix="/api/v1/channels", tags=["channels"])

AdminOnly = Annotated[Principal, require_roles(ADMIN, allow_system=False)]
Runtime = Annotated[NotifierRuntime, Depends(notifier)]


@router.get("", response_model=ChannelPage, summary="The organisation's channels")
async def list_channels(
    _: AdminOnly,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ExactJSONResponse:
    rows = await repository.page(session, limit=limit, after=decode_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    page = ChannelPage(
        items=[service.out(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )
    return ExactJSONResponse(page.model_dump())


@router.post("", status_code=201, response_model=ChannelOut, summary="Add a channel")
async def create_channel(
    request: ChannelIn, principal: AdminOnly, session: SessionDep, runtime: Runtime
) -> ExactJSONResponse:
    row = await service.create(session, runtime.box, request, principal.username)
    return ExactJSONResponse(service.out(row).model_dump(), status_code=201)


@router.get("/{channel_id}", response_model=ChannelOut, summary="One channel")
async def get_channel(
    channel_id: uuid.UUID, _: AdminOnly, session: SessionDep
) -> ExactJSONResponse:
    return ExactJSONResponse(service.out(await service.get(session, channel_id)).model_dump())


@router.patch("/{channel_id}", response_model=ChannelOut, summary="Change a channel")
async def update_channel(
    channel_id: uuid.UUID,
    request: ChannelPatch,
    _: AdminOnly,
    session: SessionDep,
    runtime: Runtime,
) -> ExactJSONResponse:
    row = await service.update(session, runtime.box, channel_id, request)
    return ExactJSONResponse(service.out(row).model_dump())


@router.delete("/{channel_id}", status_code=204, summary="Remove a channel")
async def delete_channel(channel_id: uuid.UUID, _: AdminOnly, session: SessionDep) -> Response:
    await service.delete(session, channel_id)
    return Response(status_code=204)


@router.post(
    "/{channel_id}/test",
    response_model=ChannelTestResult,
    summary="Send a test message on the channel now (email: to the caller's address)",
)
async def test_channel(
    channel_id: uuid.UUID, principal: AdminOnly, session: SessionDep, runtime: Runtime
) -> ExactJSONResponse:
    row = await service.get(session, channel_id)
    address = ""
    if row.kind == ChannelKind.EMAIL.value:
        me = await session.get(OrgUser, principal.username)
        address = (me.email if me else None) or ""
    message = OutgoingMessage(
        recipient=principal.username,
        address=address,
        kind="test",
        title="BPM test message",
        body=f"The channel {row.name} works: this test was sent by {principal.username}.",
    )
    try:
        sender = runtime.senders.for_config(row.id, row.kind, row.secret_url)
        await sender.send(message)
    except DeliveryError as exc:
        return ExactJSONResponse(ChannelTestResult(sent=False, error=str(exc)).model_dump())
    return ExactJSONResponse(ChannelTestResult(sent=True).model_dump())
