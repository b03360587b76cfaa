"""`/internal/v1/auth`: service-to-service endpoints (the gateway's login), role `system` only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from bpm_common.auth import SYSTEM, CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.errors import Forbidden, Unprocessable, field_error
from bpm_common.http import api_router
from services.designer.auth import service
from services.designer.auth.schemas import Revocations, VerifyIn, VerifyOut
from services.designer.deps import SettingsDep

router = api_router(prefix="/internal/v1/auth", tags=["internal"])


async def require_system(principal: CurrentPrincipal) -> Principal:
    """Only a service token (role `system`) may check passwords; administrators may not."""
    if SYSTEM not in principal.roles:
        raise Forbidden("only services may verify passwords")
    return principal


@router.post(
    "/verify",
    response_model=VerifyOut,
    summary="Check a username and password (for the gateway's token issuer)",
    responses={401: {"description": "Unknown user, wrong password or inactive user"}},
    dependencies=[Depends(require_system)],
)
async def verify(body: VerifyIn, session: SessionDep, settings: SettingsDep) -> VerifyOut:
    return await service.verify(
        session, body.username, body.password, scrypt_n=settings.password_scrypt_n
    )


@router.get(
    "/revocations",
    response_model=Revocations,
    summary="Users whose earlier tokens no longer hold (for the gateway)",
    dependencies=[Depends(require_system)],
)
async def revocations(
    session: SessionDep,
    since: Annotated[dt.datetime, Query(description="Only changes after this moment (with a time zone).")],
) -> Revocations:
    """Users deactivated or deleted, or whose roles, department or password changed, after
    `since`, each with the moment before which their tokens were issued in vain."""
    if since.tzinfo is None:
        raise Unprocessable("since needs a time zone", errors=[field_error("since", "add a time zone, e.g. Z")])
    return await service.revocations(session, since)
