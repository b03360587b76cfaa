"""The in-app inbox API: every person sees and marks only their own notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from bpm_common.auth import CurrentPrincipal
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from fastapi import Query

from services.notifier.notifications import inbox, repository
from services.notifier.notifications.schemas import (
    MarkedCount,
    MarkRead,
    NotificationOut,
    NotificationPage,
    UnreadCount,
)
from services.notifier.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = api_router(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage, summary="The caller's inbox, newest first")
async def list_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    unread: Annotated[bool, Query(description="Only notifications not yet read.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
    ] = None,
) -> ExactJSONResponse:
    result = await inbox.page(
        session, principal.username, unread_only=unread, limit=limit, cursor=cursor
    )
    return ExactJSONResponse(result.model_dump())


@router.get(
    "/unread-count",
    response_model=UnreadCount,
    summary="How many of the caller's notifications are unread",
)
async def unread_count(principal: CurrentPrincipal, session: SessionDep) -> ExactJSONResponse:
    return ExactJSONResponse({"unread": await repository.count_unread(session, principal.username)})


@router.post(
    "/read",
    response_model=MarkedCount,
    summary="Mark several (or all) of the caller's notifications read",
)
async def mark_read(
    principal: CurrentPrincipal, session: SessionDep, request: MarkRead
) -> ExactJSONResponse:
    return ExactJSONResponse(
        {"marked": await inbox.mark_read(session, principal.username, request)}
    )


@router.post(
    "/{notification_id}/read", response_model=NotificationOut, summary="Mark one notification read"
)
async def mark_one_read(
    notification_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ExactJSONResponse:
    result = await inbox.mark_one_read(session, principal.username, notification_id)
    return ExactJSONResponse(result.model_dump())
