"""Queries on the `definitions` table. Only `flush()`; the unit of work commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.designer.definitions.models import PUBLISHED, Definition

# first half of the two-part advisory lock key; the second half is hashtext(<definition key>)
_KEY_LOCK_CLASS = 0x0B9D_0001


async def lock_key(session: AsyncSession, key: str) -> None:
    """Serialise uploads and publications of one definition key until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:cls, hashtext(:key))"),
        {"cls": _KEY_LOCK_CLASS, "key": key},
    )


async def next_version(session: AsyncSession, key: str) -> int:
    current = await session.scalar(
        select(func.max(Definition.version)).where(Definition.key == key)
    )
    return (current or 0) + 1


async def latest_id(session: AsyncSession, key: str) -> uuid.UUID | None:
    return await session.scalar(
        select(Definition.id)
        .where(Definition.key == key)
        .order_by(Definition.version.desc())
        .limit(1)
    )


async def key_exists(session: AsyncSession, key: str) -> bool:
    return (
        await session.scalar(select(Definition.id).where(Definition.key == key).limit(1))
    ) is not None


async def get(
    session: AsyncSession, definition_id: uuid.UUID, *, for_update: bool = False
) -> Definition | None:
    query = select(Definition).where(Definition.id == definition_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def find_by_idempotency_key(
    session: AsyncSession, created_by: str, key: str
) -> Definition | None:
    return await session.scalar(
        select(Definition).where(
            Definition.created_by == created_by, Definition.idempotency_key == key
        )
    )


async def page(
    session: AsyncSession,
    *,
    key: str | None,
    status: str | None,
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> Sequence[Definition]:
    """Newest first, without the BPMN bytes; `after` is (created_at, id) of the last item seen."""
    query = select(Definition).options(defer(Definition.bpmn, raiseload=True))
    if key is not None:
        query = query.where(Definition.key == key)
    if status is not None:
        query = query.where(Definition.status == status)
    if after is not None:
        query = query.where(tuple_(Definition.created_at, Definition.id) < tuple_(*after))
    query = query.order_by(Definition.created_at.desc(), Definition.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def live_ids(session: AsyncSession, keys: set[str]) -> set[uuid.UUID]:
    """Per key, the id of the live version: the most recently published one."""
    if not keys:
        return set()
    query = (
        select(Definition.id)
        .where(Definition.key.in_(keys), Definition.status == PUBLISHED)
        .ext(distinct_on(Definition.key))
        .order_by(Definition.key, Definition.published_at.desc(), Definition.version.desc())
    )
    return set((await session.scalars(query)).all())
