"""Each person's notification preferences; administrators may read and set anyone's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from bpm_common.auth import CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.errors import Forbidden
from bpm_common.http import ExactJSONResponse, api_router
from services.notifier.preferences import service
from services.notifier.preferences.schemas import PreferencesIn, PreferencesOut
from services.notifier.runtime import NotifierRuntime, notifier

router = api_router(prefix="/api/v1/notification-preferences", tags=["notification preferences"])

Runtime = Annotated[NotifierRuntime, Depends(notifier)]
Username = Annotated[
    str | None,
    Query(min_length=1, max_length=150, description="Another person's (administrators only)."),
]


def _whose(principal: Principal, username: str | None) -> str:
    if username is None or username == principal.username:
        return principal.username
    if not principal.is_admin:
        raise Forbidden("only administrators may see or change someone else's preferences")
    return username


@router.get("", response_model=PreferencesOut, summary="The caller's (or a person's) preferences")
async def get_preferences(
    principal: CurrentPrincipal, session: SessionDep, runtime: Runtime, username: Username = None
) -> ExactJSONResponse:
    who = _whose(principal, username)
    result = await service.read(session, who, email=runtime.senders.email is not None)
    return ExactJSONResponse(result.model_dump(mode="json"))


@router.put("", response_model=PreferencesOut, summary="Replace the caller's (or a person's)")
async def put_preferences(
    request: PreferencesIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: Runtime,
    username: Username = None,
) -> ExactJSONResponse:
    who = _whose(principal, username)
    result = await service.replace(session, who, request, email=runtime.senders.email is not None)
    return ExactJSONResponse(result.model_dump(mode="json"))
