"""Queries on preferences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.preferences.models import NotificationPreference


async def get(session: AsyncSession, username: str) -> NotificationPreference | None:
    return await session.get(NotificationPreference, username)


async def put(session: AsyncSession, username: str, values: dict[str, Any]) -> None:
    stmt = pg_insert(NotificationPreference).values(username=username, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[NotificationPreference.username],
            set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
        )
    )


async def digest_candidates(session: AsyncSession, limit: int) -> list[NotificationPreference]:
    """People on the digest, locked for this replica (others skip them)."""
    return list(
        await session.scalars(
            select(NotificationPreference)
            .where(NotificationPreference.digest_enabled.is_(True))
            .order_by(NotificationPreference.username)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
