"""Who tasks may be handed to: active users of the runtime's organisation copy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from services.runtime.org.models import org_users


async def require_known_user(session: AsyncSession, username: str, field: str) -> None:
    """422 naming `field` unless `username` is an active user of the organisation model."""
    found = (
        await session.execute(
            select(org_users.c.username).where(
                org_users.c.username == username, org_users.c.active, ~org_users.c.deleted
            )
        )
    ).first()
    if found is None:
        raise Unprocessable(
            f"{username!r} is not an active user of the organisation",
            errors=[field_error(field, "unknown user")],
        )
