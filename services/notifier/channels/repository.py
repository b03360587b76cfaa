"""Queries on channel configurations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select
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


#: an enabled channel as the event handlers address it (`id`, `name`, `kind`, `is_default`)
DeliveryTarget = Row[Any]

_TARGETS_KEY = "notifier_delivery_targets"
_C = ChannelConfig.__table__
_ENABLED_TARGETS = (
    select(_C.c.id, _C.c.name, _C.c.kind, _C.c.is_default)
    .where(_C.c.enabled.is_(True))
    .order_by(_C.c.name)
)


async def delivery_targets(session: AsyncSession) -> list[DeliveryTarget]:
    """The enabled channels, read once per unit of work: every notification an event
    handler makes looks them up, and a batch of events is one unit of work."""
    targets: list[DeliveryTarget] | None = session.info.get(_TARGETS_KEY)
    if targets is None:
        targets = list(await session.execute(_ENABLED_TARGETS))
        session.info[_TARGETS_KEY] = targets
    return targets
