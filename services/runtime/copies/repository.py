"""Queries of copies."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.copies.models import copies
from services.runtime.instances.models import instances

_INSTANCE = (
    instances.c.definition_key,
    instances.c.definition_version,
    instances.c.business_key,
    instances.c.initiator,
    instances.c.state.label("instance_state"),
    instances.c.started_at,
)


async def list_mine(
    session: AsyncSession,
    username: str,
    *,
    unread: bool,
    before: tuple[dt.datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The user's copies, newest first, each with a summary of its instance."""
    query = (
        select(copies, *_INSTANCE)
        .join(instances, instances.c.id == copies.c.instance_id)
        .where(copies.c.recipient == username)
    )
    if unread:
        query = query.where(copies.c.read_at.is_(None))
    if before:
        query = query.where(
            or_(
                copies.c.created_at < before[0],
                and_(copies.c.created_at == before[0], copies.c.id < before[1]),
            )
        )
    query = query.order_by(copies.c.created_at.desc(), copies.c.id.desc()).limit(limit + 1)
    return [dict(row) for row in (await session.execute(query)).mappings().all()]


async def of_instance(
    session: AsyncSession, instance_id: UUID, *, after: tuple[dt.datetime, UUID] | None, limit: int
) -> list[dict[str, Any]]:
    """Every copy of an instance in the order they were made."""
    query = select(copies).where(copies.c.instance_id == instance_id)
    if after:
        query = query.where(
            or_(
                copies.c.created_at > after[0],
                and_(copies.c.created_at == after[0], copies.c.id > after[1]),
            )
        )
    query = query.order_by(copies.c.created_at, copies.c.id).limit(limit + 1)
    return [dict(row) for row in (await session.execute(query)).mappings().all()]


async def mark_read(
    session: AsyncSession, copy_id: UUID, username: str, now: dt.datetime
) -> dict[str, Any] | None:
    """Record that the recipient read the copy (the first reading counts); None when
    the copy is not theirs."""
    row = (
        (
            await session.execute(
                update(copies)
                .where(copies.c.id == copy_id, copies.c.recipient == username)
                .values(read_at=func.coalesce(copies.c.read_at, now))
                .returning(*copies.c)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def initiator_of(session: AsyncSession, instance_id: UUID) -> tuple[bool, str | None]:
    """Whether the instance exists, and who started it."""
    row = (
        await session.execute(select(instances.c.initiator).where(instances.c.id == instance_id))
    ).first()
    return (row is not None, row.initiator if row else None)
