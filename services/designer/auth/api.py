"""`/internal/v1/auth`: service-to-service endpoints (the gateway's login), role `system` only."""

from __future__ import annotations

from fastapi import Depends

from bpm_common.auth import SYSTEM, CurrentPrincipal, Principal
from bpm_common.db import SessionDep
from bpm_common.errors import Forbidden
from bpm_common.http import api_router
from services.designer.auth import service
from services.designer.auth.schemas import VerifyIn, VerifyOut
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
