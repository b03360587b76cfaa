"""Queries on channel configurations."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.channels.models import ChannelConfig


async def get(session: AsyncSession, channel_id: uuid.UUID) -> ChannelConfig | None:
    return await session.get(ChannelConfig, channel_id)


async def by_name(session: AsyncSession, name: str) -> ChannelConfig | None:
    return await session.scalar(select(ChannelConfig).where(ChannelConfig.name == name))


async def page(
    session: AsyncSession, *, limit: int, after: uuid.UUID | None
) -> list[ChannelConfig]:
    """Up to `limit + 1` configs in creation order, after `after`."""
    stmt = select(ChannelConfig)
    if after is not None:
        stmt = stmt.where(ChannelConfig.id > after)
    return list(await session.scalars(stmt.order_by(ChannelConfig.id).limit(limit + 1)))


async def enabled(session: AsyncSession) -> list[ChannelConfig]:
    return list(
        await session.scalars(
            select(ChannelConfig)
            .where(ChannelConfig.enabled.is_(True))
            .order_by(ChannelConfig.name)
        )
    )
