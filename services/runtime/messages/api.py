"""HTTP API: Messages (correlated to one instance or starting one) and broadcast signals.

Senders are other systems and administrators: a token with the role `worker`,
`system` or `admin`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request

from bpm_common.auth import Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from services.runtime.instances.api import IdempotencyKey
from services.runtime.instances.idempotency import remember, replay
from services.runtime.messages.schemas import (
    MessageCorrelated,
    SendMessage,
    SendSignal,
    SignalBroadcast,
)
from services.runtime.messages.service import Correlation

router = api_router(prefix="/api/v1", tags=["messages and signals"])

Sender = Annotated[Principal, require_roles("worker")]


@router.post("/messages", response_model=MessageCorrelated, summary="Correlate a message")
async def send_message(
    body: SendMessage,
    request: Request,
    session: SessionDep,
    principal: Sender,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Delivers the message to the instance waiting for it (matching `correlation_key` and
    `business_key` when given): 200. When none waits, starts the latest live process whose
    message start event catches it: 201. 404 when nothing catches it; 409 when several would and
    `all` is false."""
    endpoint = "POST /api/v1/messages"
    stored = await replay(session, idempotency_key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    result = await Correlation(session, request.app.state.ctx).message(
        body.name, correlation_key=body.correlation_key, business_key=body.business_key,
        variables=body.variables, every=body.all, actor=principal.username,
    )
    status = 201 if result["result_type"] == "started" else 200
    await remember(session, idempotency_key, principal.username, endpoint, status, result, body)
    return ExactJSONResponse(result, status_code=status)


@router.post("/signals", response_model=SignalBroadcast, summary="Broadcast a signal")
async def send_signal(
    body: SendSignal,
    request: Request,
    session: SessionDep,
    principal: Sender,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Every instance waiting for the signal receives it; every live process with a signal start
    event for it starts. Answers how many instances were reached."""
    endpoint = "POST /api/v1/signals"
    stored = await replay(session, idempotency_key, principal.username, endpoint, body)
    if stored:
        return ExactJSONResponse(stored[1], status_code=stored[0])
    result = await Correlation(session, request.app.state.ctx).signal(
        body.name, body.variables, actor=principal.username
    )
    await remember(session, idempotency_key, principal.username, endpoint, 200, result, body)
    return ExactJSONResponse(result)
