"""Queries on notifications and task closures. Only statements; the unit of work commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.notifications.kinds import ACTIONABLE_KINDS, Kind
from services.notifier.notifications.models import Notification, OpenTask, TaskClosure

_ACTIONABLE = sorted(k.value for k in ACTIONABLE_KINDS)


async def add_notification(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert a notification; None when this person already has one for this event."""
    stmt = (
        pg_insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Notification.event_id, Notification.recipient])
        .returning(Notification.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def page_for(
    session: AsyncSession,
    recipient: str,
    *,
    unread_only: bool,
    limit: int,
    before: uuid.UUID | None,
) -> list[Notification]:
    """Up to `limit + 1` of the person's notifications, newest first, older than `before`."""
    stmt = select(Notification).where(Notification.recipient == recipient)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = await session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1))
    return list(rows)


async def count_unread(session: AsyncSession, recipient: str) -> int:
    stmt = select(func.count()).where(
        Notification.recipient == recipient, Notification.read_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def get_for(
    session: AsyncSession, notification_id: uuid.UUID, recipient: str
) -> Notification | None:
    return await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.recipient == recipient
        )
    )


async def mark_read(
    session: AsyncSession, recipient: str, at: dt.datetime, ids: Sequence[uuid.UUID] | None = None
) -> int:
    """Mark the person's unread notifications read (only `ids` when given); returns how many."""
    stmt = update(Notification).where(
        Notification.recipient == recipient, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    result = await session.execute(stmt.values(read_at=at).returning(Notification.id))
    return len(result.all())


async def resolve_task(session: AsyncSession, task_id: str, at: dt.datetime) -> list[uuid.UUID]:
    """Mark the task's open notifications no longer actionable; returns their ids."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.task_id == task_id,
            Notification.kind.in_(_ACTIONABLE),
            Notification.resolved_at.is_(None),
        )
        .values(resolved_at=at)
        .returning(Notification.id)
    )
    return list(result.scalars())


async def resolve_task_for(
    session: AsyncSession, task_id: str, recipient: str, at: dt.datetime
) -> list[uuid.UUID]:
    """The task is no longer the person's (transferred away): their notifications resolve."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.task_id == task_id,
            Notification.recipient == recipient,
            Notification.kind.in_(_ACTIONABLE),
            Notification.resolved_at.is_(None),
        )
        .values(resolved_at=at)
        .returning(Notification.id)
    )
    return list(result.scalars())


async def resolve_instance(
    session: AsyncSession, instance_id: str, at: dt.datetime
) -> list[uuid.UUID]:
    """Mark every open task notification of the instance no longer actionable; returns their ids."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.instance_id == instance_id,
            Notification.kind.in_(_ACTIONABLE),
            Notification.resolved_at.is_(None),
        )
        .values(resolved_at=at)
        .returning(Notification.id)
    )
    return list(result.scalars())


async def record_task_closure(
    session: AsyncSession, task_id: str, instance_id: str | None, reason: str, at: dt.datetime
) -> None:
    await session.execute(
        pg_insert(TaskClosure)
        .values(task_id=task_id, instance_id=instance_id, reason=reason, closed_at=at)
        .on_conflict_do_nothing(index_elements=[TaskClosure.task_id])
    )


async def task_is_closed(session: AsyncSession, task_id: str) -> bool:
    return (
        await session.scalar(select(TaskClosure.task_id).where(TaskClosure.task_id == task_id))
    ) is not None


async def business_key_of_instance(session: AsyncSession, instance_id: str) -> str | None:
    """The business key an earlier task notification of the instance carried, if any."""
    return await session.scalar(
        select(Notification.business_key)
        .where(Notification.instance_id == instance_id, Notification.business_key.is_not(None))
        .limit(1)
    )


async def has_rejection_notice(session: AsyncSession, instance_id: str, recipient: str) -> bool:
    """Whether the person already heard that a step of the instance rejected their request."""
    found = await session.scalar(
        select(Notification.id)
        .where(
            Notification.instance_id == instance_id,
            Notification.recipient == recipient,
            Notification.kind == Kind.TASK_REJECTED.value,
        )
        .limit(1)
    )
    return found is not None


async def after(
    session: AsyncSession, recipient: str, after_id: uuid.UUID, limit: int
) -> list[Notification]:
    """The person's notifications made after `after_id`, oldest first (stream resume)."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.recipient == recipient, Notification.id > after_id)
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(rows)


async def newest_id(session: AsyncSession, recipient: str) -> uuid.UUID | None:
    return await session.scalar(
        select(func.max(Notification.id)).where(Notification.recipient == recipient)
    )


# -- open tasks ---------------------------------------------------------------------------


async def open_task(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a task as open (a repeated `task.created` changes nothing)."""
    await session.execute(
        pg_insert(OpenTask)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OpenTask.task_id])
    )


async def get_open_task(session: AsyncSession, task_id: str) -> OpenTask | None:
    return await session.get(OpenTask, task_id)


async def reassign_open_task(session: AsyncSession, task_id: str, assignee: str | None) -> None:
    await session.execute(
        update(OpenTask).where(OpenTask.task_id == task_id).values(assignee=assignee)
    )


async def close_open_task(session: AsyncSession, task_id: str) -> None:
    await session.execute(delete(OpenTask).where(OpenTask.task_id == task_id))


async def open_tasks_of_instance(session: AsyncSession, instance_id: str) -> list[OpenTask]:
    rows = await session.scalars(
        select(OpenTask).where(OpenTask.instance_id == instance_id).order_by(OpenTask.created_at)
    )
    return list(rows)


async def close_open_tasks_of_instance(session: AsyncSession, instance_id: str) -> None:
    await session.execute(delete(OpenTask).where(OpenTask.instance_id == instance_id))


async def open_tasks_for(
    session: AsyncSession, username: str, roles: Sequence[str], limit: int = 100
) -> list[OpenTask]:
    """The open tasks the person may work: theirs, or unassigned and offered to them."""
    offered = OpenTask.candidate_users.contains([username])
    if roles:
        offered = or_(offered, OpenTask.candidate_roles.overlap(list(roles)))
    rows = await session.scalars(
        select(OpenTask)
        .where(or_(OpenTask.assignee == username, (OpenTask.assignee.is_(None)) & offered))
        .order_by(OpenTask.due_at.asc().nulls_last(), OpenTask.created_at)
        .limit(limit)
    )
    return list(rows)
