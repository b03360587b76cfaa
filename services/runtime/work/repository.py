"""Queries on work items and incidents (no commits: the unit of work commits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.instances.models import instances
from services.runtime.work.models import LOCKED, OPEN, incidents, work_items


def available(now: dt.datetime) -> Any:
    """SQL condition: the item may be taken now (open and due, or its lease ran out)."""
    return or_(
        and_(work_items.c.state == OPEN, work_items.c.available_at <= now),
        and_(work_items.c.state == LOCKED, work_items.c.locked_until < now),
    )


def _takeable(kind: str, now: dt.datetime) -> Any:
    return (
        select(work_items.c.id)
        .join(instances, instances.c.id == work_items.c.instance_id)
        .where(
            work_items.c.kind == kind,
            available(now),
            instances.c.state == "active",
            instances.c.suspended.is_(False),
        )
        .order_by(work_items.c.priority.desc(), work_items.c.available_at, work_items.c.id)
    )


async def take_http(
    session: AsyncSession, now: dt.datetime, owner: str, lease: Any
) -> dict[str, Any] | None:
    """Lease the next due HTTP item to `owner` (`SKIP LOCKED`: replicas never take the same one).

    `lease(row)` gives the lease duration for the item (its timeout plus a margin).
    """
    candidate = (
        await session.execute(_takeable("http", now).limit(1).with_for_update(of=work_items, skip_locked=True))
    ).scalar_one_or_none()
    if candidate is None:
        return None
    row = (await session.execute(select(work_items).where(work_items.c.id == candidate))).mappings().one()
    locked_until = now + lease(row)
    taken = (
        await session.execute(
            update(work_items)
            .where(work_items.c.id == candidate)
            .values(state=LOCKED, lock_owner=owner, locked_until=locked_until, attempts=work_items.c.attempts + 1)
            .returning(*work_items.c)
        )
    ).mappings().one()
    return dict(taken)


async def fetch_and_lock(
    session: AsyncSession,
    now: dt.datetime,
    worker_id: str,
    lock_ms: Mapping[str, int],
    max_tasks: int,
    account: str | None = None,
) -> list[dict[str, Any]]:
    """Lock up to `max_tasks` due external items of the given topics for `worker_id` of `account`."""
    chosen = (
        _takeable("external", now)
        .where(work_items.c.topic.in_(list(lock_ms)))
        .limit(max_tasks)
        .with_for_update(of=work_items, skip_locked=True)
        .subquery()
    )
    until = case(
        {topic: now + dt.timedelta(milliseconds=ms) for topic, ms in lock_ms.items()},
        value=work_items.c.topic,
    )
    rows = (
        await session.execute(
            update(work_items)
            .where(work_items.c.id.in_(select(chosen.c.id)))
            .values(
                state=LOCKED,
                lock_owner=worker_id,
                locked_by=account,
                locked_until=until,
                attempts=work_items.c.attempts + 1,
            )
            .returning(*work_items.c)
        )
    ).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: (-r["priority"], r["available_at"], r["id"]))


async def get_item(session: AsyncSession, work_id: UUID, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(work_items).where(work_items.c.id == work_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def list_external(
    session: AsyncSession,
    *,
    topic: str | None,
    state: str | None,
    instance_id: UUID | None,
    worker_id: str | None,
    after: tuple[dt.datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(work_items).where(work_items.c.kind == "external")
    if topic is not None:
        query = query.where(work_items.c.topic == topic)
    if state is not None:
        query = query.where(work_items.c.state == state)
    if instance_id is not None:
        query = query.where(work_items.c.instance_id == instance_id)
    if worker_id is not None:
        query = query.where(work_items.c.lock_owner == worker_id)
    if after is not None:
        query = query.where(
            or_(
                work_items.c.created_at > after[0],
                and_(work_items.c.created_at == after[0], work_items.c.id > after[1]),
            )
        )
    query = query.order_by(work_items.c.created_at, work_items.c.id).limit(limit + 1)
    return [dict(r) for r in (await session.execute(query)).mappings().all()]


async def get_incident(session: AsyncSession, incident_id: UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(incidents).where(incidents.c.id == incident_id))).mappings().first()
    return dict(row) if row else None


async def list_incidents(
    session: AsyncSession,
    *,
    instance_id: UUID | None,
    state: str | None,
    before: tuple[dt.datetime, UUID] | None,
    limit: int,
    definition_key: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(incidents)
    if instance_id is not None:
        query = query.where(incidents.c.instance_id == instance_id)
    if definition_key is not None:
        query = query.where(incidents.c.definition_key == definition_key)
    if state is not None:
        query = query.where(incidents.c.state == state)
    if before is not None:
        query = query.where(
            or_(
                incidents.c.created_at < before[0],
                and_(incidents.c.created_at == before[0], incidents.c.id < before[1]),
            )
        )
    query = query.order_by(incidents.c.created_at.desc(), incidents.c.id.desc()).limit(limit + 1)
    return [dict(r) for r in (await session.execute(query)).mappings().all()]
