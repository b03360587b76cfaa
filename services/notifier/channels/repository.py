"""Queries on channel configurations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import driver_connection
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


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """An enabled channel as the event handlers address it."""

    id: uuid.UUID
    name: str
    kind: str
    is_default: bool


_TARGETS_KEY = "notifier_delivery_targets"
_ENABLED_TARGETS = "SELECT id, name, kind, is_default FROM channel_configs WHERE enabled IS true ORDER BY name"


async def delivery_targets(session: AsyncSession) -> list[DeliveryTarget]:
    """The enabled channels, read once per unit of work: every notification an event
    handler makes looks them up, and a batch of events is one unit of work."""
    targets: list[DeliveryTarget] | None = session.info.get(_TARGETS_KEY)
    if targets is None:
        rows = await (await driver_connection(session)).fetch(_ENABLED_TARGETS)
        targets = session.info[_TARGETS_KEY] = [DeliveryTarget(*row) for row in rows]
    return targets
