"""Reads of the runtime's organisation copy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.org.models import org_users


async def roles_of(session: AsyncSession, username: str) -> frozenset[str]:
    """The roles the organisation model gives `username` (empty for unknown users)."""
    row = (
        await session.execute(
            select(org_users.c.roles).where(
                org_users.c.username == username, org_users.c.active, ~org_users.c.deleted
            )
        )
    ).first()
    return frozenset(row.roles) if row else frozenset()


async def department_of(session: AsyncSession, username: str) -> str | None:
    return (
        await session.execute(select(org_users.c.department).where(org_users.c.username == username))
    ).scalar_one_or_none()
