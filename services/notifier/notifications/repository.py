"""Queries on notifications, open tasks and task closures. Only statements; the unit of work commits.

The runtime event handlers run these for every event, so they are this service's hot path:
plain SQL of fixed text on the unit of work's asyncpg connection
(`bpm_common.db.driver_connection`, prepared once per connection), where building and
compiling SQLAlchemy statements per call cost several times the CPU of running them.
What the handlers write waits in the unit of work's `writes.PendingWrites` and goes to
PostgreSQL as one statement before the commit; the reads here look there first, so a
handler reads what the earlier handlers of its batch wrote (see `writes`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import driver_connection
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.models import Notification, OpenTask
from services.notifier.notifications.writes import (
    OPEN_TASK_COLUMNS,
    Unkeyed,
    existing_pending_writes,
    notices,
    pending_writes,
)


@dataclass(frozen=True, slots=True)
class TaskRow:
    """An `open_tasks` row as the event handlers read it."""

    task_id: str
    instance_id: str
    name: str
    definition_key: str
    business_key: str | None
    initiator: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    due_at: dt.datetime | None
    created_at: dt.datetime


def _task(record: Any) -> TaskRow | None:
    return None if record is None else TaskRow(*record)


def _values(task: TaskRow) -> tuple[Any, ...]:
    return tuple(getattr(task, name) for name in OPEN_TASK_COLUMNS)


# -- notifications the handlers make -------------------------------------------------------


async def add_notifications(
    session: AsyncSession,
    subject: dict[str, Any],
    notifications: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
    *,
    unless_closed: str | None = None,
    unkeyed: Unkeyed | None = None,
) -> None:
    """Write one event's notifications (`subject` holds the columns they share, each of
    `notifications` its recipient's), the deliveries of each, and announce them to open
    event streams, with the unit of work's other writes. A person who already has one for
    this event is skipped, with the deliveries of that notification. With `unless_closed`
    (a task just recorded with `open_task`), nothing is written if the task was closed;
    with `unkeyed`, the business key (with the context and texts) is that of an earlier
    notification of the instance, filled in when they are written."""
    pending_writes(session).add(
        notices(subject, notifications, deliveries, unless_closed=unless_closed, unkeyed=unkeyed)
    )


# -- resolving notifications and cancelling what they still had to send --------------------


async def close_task(
    session: AsyncSession,
    task_id: str,
    instance_id: str | None,
    reason: str,
    at: dt.datetime,
    cancel_reason: str,
    *,
    known: bool = False,
) -> TaskRow | None:
    """A completed or cancelled task: record its closure (so a late `task.created` notifies
    nobody), mark its notifications resolved at `at`, cancel their deliveries still waiting
    (with `cancel_reason`) and forget the open task. With `known`, returns the open task as
    it was (else None, without reading it)."""
    task = await get_open_task(session, task_id) if known else None
    pending_writes(session).close_task(task_id, instance_id, reason, at, cancel_reason)
    return task


async def close_instance(
    session: AsyncSession, instance_id: str, at: dt.datetime, cancel_reason: str
) -> None:
    """An ended instance: its notifications resolve at `at`, their deliveries still waiting
    are cancelled (with `cancel_reason`), its open tasks are forgotten."""
    pending_writes(session).close_instance(instance_id, at, cancel_reason)


async def resolve_task_for(
    session: AsyncSession, task_id: str, recipient: str, at: dt.datetime, cancel_reason: str
) -> None:
    """The task is no longer the person's (transferred away): their notifications of it
    resolve and their deliveries still waiting are cancelled."""
    pending_writes(session).resolve_task_for(task_id, recipient, at, cancel_reason)


# -- what earlier notifications of an instance said -----------------------------------------

_HAS_REJECTION_NOTICE = """SELECT EXISTS (
    SELECT FROM notifications
    WHERE instance_id = $1::text AND recipient = $2::text AND kind = $3::text
)
"""


async def has_rejection_notice(session: AsyncSession, instance_id: str, recipient: str) -> bool:
    """Whether the person already heard that a step of the instance rejected their request."""
    kind = Kind.TASK_REJECTED.value
    pending = existing_pending_writes(session)
    if pending is not None and (notice := pending.notice(instance_id, recipient, kind)) is not None:
        if not pending.assumed(notice):
            return True
        await pending.flush()  # whether it is written depends on what is stored
    connection = await driver_connection(session)
    return bool(await connection.fetchval(_HAS_REJECTION_NOTICE, instance_id, recipient, kind))


# -- open tasks -------------------------------------------------------------------------------

_TASK_IS_CLOSED = "SELECT EXISTS (SELECT FROM task_closures WHERE task_id = $1::text)"
_GET_OPEN_TASK = """SELECT task_id, instance_id, name, definition_key, business_key, initiator,
    assignee, candidate_users, candidate_roles, due_at, created_at
FROM open_tasks WHERE task_id = $1::text
"""
_REASSIGN_OPEN_TASK = """UPDATE open_tasks SET assignee = $2::text WHERE task_id = $1::text
RETURNING task_id, instance_id, name, definition_key, business_key, initiator, assignee,
    candidate_users, candidate_roles, due_at, created_at
"""
_OPEN_TASKS_OF_INSTANCE = """SELECT task_id, instance_id, name, definition_key, business_key,
    initiator, assignee, candidate_users, candidate_roles, due_at, created_at
FROM open_tasks WHERE instance_id = $1::text ORDER BY created_at
"""


async def open_task(session: AsyncSession, task: TaskRow) -> bool:
    """Record a task as open (a repeated `task.created` changes nothing), unless it was
    closed already; returns False, recording nothing, for a task closed in this unit of
    work. One closed before is found when the record is written: the notifications made
    with `unless_closed` set to the task are then not written either (see `writes`)."""
    pending = pending_writes(session)
    if task.task_id in pending.closures:
        return False
    if task.instance_id in pending.ended_instances:
        await pending.flush()  # the pending removal of the instance's open tasks is before it
    pending.open_task(_values(task))
    return True


async def task_is_closed(session: AsyncSession, task_id: str) -> bool:
    pending = existing_pending_writes(session)
    if pending is not None:
        if task_id in pending.closures:
            return True
        if task_id in pending.assumed_open:
            await pending.flush()
    return bool(await (await driver_connection(session)).fetchval(_TASK_IS_CLOSED, task_id))


async def get_open_task(session: AsyncSession, task_id: str) -> TaskRow | None:
    await _settle(session, task_id)
    task = _task(await (await driver_connection(session)).fetchrow(_GET_OPEN_TASK, task_id))
    return _still_open(session, task)


async def reassign_open_task(
    session: AsyncSession, task_id: str, assignee: str | None
) -> TaskRow | None:
    """Give the open task to `assignee`; returns it as it now is (None when not open)."""
    pending = existing_pending_writes(session)
    if pending is not None and task_id in pending.closures:
        return None
    await _settle(session, task_id)
    connection = await driver_connection(session)
    task = _task(await connection.fetchrow(_REASSIGN_OPEN_TASK, task_id, assignee))
    return _still_open(session, task)  # a change of a row about to be removed changes nothing


async def open_tasks_of_instance(session: AsyncSession, instance_id: str) -> list[TaskRow]:
    pending = existing_pending_writes(session)
    if pending is not None:
        if instance_id in pending.ended_instances:
            return []
        if instance_id in pending.assumed_open.values():
            await pending.flush()
    connection = await driver_connection(session)
    tasks = [TaskRow(*r) for r in await connection.fetch(_OPEN_TASKS_OF_INSTANCE, instance_id)]
    if pending is None:
        return tasks
    return [t for t in tasks if not pending.task_gone(t.task_id)]


async def _settle(session: AsyncSession, task_id: str) -> None:
    """Send the pending writes if the task was recorded as open in them: what is stored
    decides whether it is."""
    pending = existing_pending_writes(session)
    if pending is not None and task_id in pending.assumed_open and task_id not in pending.closures:
        await pending.flush()


def _still_open(session: AsyncSession, task: TaskRow | None) -> TaskRow | None:
    """`task` as the handlers see it: None when the unit of work removes it."""
    pending = existing_pending_writes(session)
    if task is None or pending is None or not pending.task_gone(task.task_id, task.instance_id):
        return task
    return None


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


# -- the inbox API ----------------------------------------------------------------------------


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
