"""The in-app inbox API: every person sees and marks only their own notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from starlette.responses import StreamingResponse

from bpm_common.auth import CurrentPrincipal
from bpm_common.db import SessionDep
from bpm_common.errors import Unprocessable, field_error
from bpm_common.http import ExactJSONResponse, api_router
from services.notifier.notifications import inbox, repository
from services.notifier.notifications.schemas import (
    MarkedCount,
    MarkRead,
    NotificationOut,
    NotificationPage,
    UnreadCount,
)
from services.notifier.notifications.stream import inbox_events
from services.notifier.pagination import DEFAULT_LIMIT, MAX_LIMIT
from services.notifier.runtime import NotifierRuntime, notifier

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
    "/stream",
    summary="The caller's new notifications as Server-Sent Events",
    description=(
        "`text/event-stream`: each new notification as an event `notification` whose `id` is "
        "the notification id and whose `data` is the notification as the inbox lists it, "
        "pushed within a second of its commit; a comment line every ~15 s keeps the "
        "connection open. A client that reconnects with `Last-Event-ID` (or `?last_event_id=`) "
        "first gets what it missed, in order."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    principal: CurrentPrincipal,
    runtime: Annotated[NotifierRuntime, Depends(notifier)],
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=64)
    ] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    raw = last_event_id_header or last_event_id
    after: uuid.UUID | None = None
    if raw:
        try:
            after = uuid.UUID(raw)
        except ValueError:
            raise Unprocessable(
                "Last-Event-ID is not a notification id",
                errors=[field_error("Last-Event-ID", "not an id this stream sent")],
            ) from None
    events = inbox_events(
        request.app.state.db,
        runtime.hub,
        principal.username,
        after=after,
        heartbeat=runtime.settings.stream_heartbeat,
        backlog=runtime.settings.stream_backlog,
    )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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
