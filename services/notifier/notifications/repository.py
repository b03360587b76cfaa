"""Queries on notifications, open tasks and task closures. Only statements; the unit of work commits.

The statements the runtime event handlers run for every event are built once, at import,
as SQLAlchemy Core with bound parameters, and steps that always go together are one
statement (data-modifying CTEs). Building ORM statements per call cost several times the
CPU of running them, and every round trip costs this process and PostgreSQL alike; the
notifier sees every runtime event, so this is its hot path.

The parts of one such statement all see the database as it was before the statement;
each part writes a different table, and a later part reads what an earlier one did only
through its RETURNING rows, so the outcome is that of running them one after the other.
Their parameters are called `p_...`: SQLAlchemy takes a parameter named like a column of
an INSERT or UPDATE as a value to write to that column.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    Row,
    String,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from services.notifier.deliveries.models import Delivery, DeliveryStatus
from services.notifier.deliveries.repository import UNSENT
from services.notifier.notifications.hub import CHANNEL
from services.notifier.notifications.kinds import ACTIONABLE_KINDS, Kind
from services.notifier.notifications.models import Notification, OpenTask, TaskClosure

#: an `open_tasks` row as the event handlers read it (columns as attributes)
TaskRow = Row[Any]

# fixed lists as one array parameter (`= ANY(...)`): an `IN` list is expanded into the SQL
# text again on every execution
_ACTIONABLE = literal(sorted(k.value for k in ACTIONABLE_KINDS), ARRAY(String()))
_UNSENT = literal([s.value for s in UNSENT], ARRAY(String()))

_N = Notification.__table__
_T = OpenTask.__table__
_C = TaskClosure.__table__
_D = Delivery.__table__


def _param(column: Column[Any]) -> BindParameter[Any]:
    """`:p_<column>`, typed like `column` (asyncpg needs the type in INSERT ... SELECT)."""
    return bindparam(f"p_{column.key}", type_=column.type)


def _array(column: Column[Any], name: str) -> BindParameter[Any]:
    """A bound array of `column` values, one per row, for `unnest`. Strings go as plain
    `varchar[]`: a cast to `varchar(n)[]` would cut long values silently, where the insert
    refuses them."""
    item = String() if isinstance(column.type, String) else column.type
    return bindparam(name, type_=ARRAY(item))


# -- notifications the handlers make -------------------------------------------------------

#: per recipient: the notification's own columns; the rest is the same for every recipient
_RECIPIENT_COLUMNS = ("id", "recipient", "locale", "title", "body")
_SUBJECT_COLUMNS = (
    "kind",
    "link",
    "task_id",
    "instance_id",
    "process_key",
    "business_key",
    "data",
    "context",
    "urgent",
    "event_id",
    "event_type",
)
_DELIVERY_COLUMNS = (
    "id",
    "notification_id",
    "recipient",
    "channel",
    "channel_kind",
    "channel_config_id",
    "address",
    "status",
    "attempts",
    "sent_at",
    "next_attempt_at",
)


def _add_notifications_statement() -> Any:
    """The notifications of one event (one per recipient), the deliveries of those actually
    inserted, and a `pg_notify` per inserted notification, as one statement.

    A recipient who already has a notification for the event (a redelivered event) gets
    nothing new: neither the notification nor its deliveries nor an announcement.
    """
    per_recipient = (
        func.unnest(*(_array(_N.c[name], f"n_{name}") for name in _RECIPIENT_COLUMNS))
        .table_valued(*_RECIPIENT_COLUMNS)
        .render_derived(name="r")
    )
    created = (
        pg_insert(_N)
        .from_select(
            [*_RECIPIENT_COLUMNS, *_SUBJECT_COLUMNS],
            select(
                *(per_recipient.c[name] for name in _RECIPIENT_COLUMNS),
                *(_param(_N.c[name]) for name in _SUBJECT_COLUMNS),
            ),
        )
        .on_conflict_do_nothing(index_elements=[_N.c.event_id, _N.c.recipient])
        .returning(_N.c.id, _N.c.recipient)
        .cte("created")
    )
    per_delivery = (
        func.unnest(*(_array(_D.c[name], f"d_{name}") for name in _DELIVERY_COLUMNS))
        .table_valued(*_DELIVERY_COLUMNS)
        .render_derived(name="d")
    )
    added = (
        pg_insert(_D)
        .from_select(
            [*_DELIVERY_COLUMNS, "event_id"],
            select(
                *(per_delivery.c[name] for name in _DELIVERY_COLUMNS),
                _param(_D.c.event_id),
            ).where(per_delivery.c.notification_id.in_(select(created.c.id))),
        )
        .on_conflict_do_nothing(index_elements=[_D.c.event_id, _D.c.recipient, _D.c.channel])
        .cte("added")
    )
    # hub.announce for each new notification: delivered to listeners when the work commits
    announced = func.pg_notify(
        CHANNEL, created.c.recipient + literal(" ") + cast(created.c.id, Text)
    )
    return select(created.c.id, announced).add_cte(added)


_ADD_NOTIFICATIONS = _add_notifications_statement()


async def add_notifications(
    session: AsyncSession,
    subject: dict[str, Any],
    notifications: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
) -> set[uuid.UUID]:
    """Insert one event's notifications (`subject` holds the columns they share, each of
    `notifications` its recipient's), the deliveries of each, and announce them to open
    event streams. Returns the ids of the notifications inserted: a person who already has
    one for this event is skipped, with the deliveries of that notification."""
    params: dict[str, Any] = {f"p_{name}": value for name, value in subject.items()}
    for name in _RECIPIENT_COLUMNS:
        params[f"n_{name}"] = [row[name] for row in notifications]
    for name in _DELIVERY_COLUMNS:
        params[f"d_{name}"] = [row[name] for row in deliveries]
    rows = await session.execute(_ADD_NOTIFICATIONS, params)
    return {row.id for row in rows}


# -- resolving notifications and cancelling what they still had to send --------------------


def _resolve(*where: Any) -> Any:
    """A CTE that marks the actionable, unresolved notifications matching `where` resolved
    at `:p_at`, returning their ids."""
    return (
        update(_N)
        .where(*where, _N.c.kind == any_(_ACTIONABLE), _N.c.resolved_at.is_(None))
        .values(resolved_at=bindparam("p_at"))
        .returning(_N.c.id)
        .cte("resolved")
    )


def _cancel_unsent(resolved: Any) -> Any:
    """An UPDATE that cancels, with `:p_cancel_reason`, the deliveries of the `resolved`
    notifications still waiting for an attempt."""
    return (
        update(_D)
        .where(
            _D.c.notification_id.in_(select(resolved.c.id)),
            _D.c.status == any_(_UNSENT),
            _D.c.next_attempt_at.is_not(None),
        )
        .values(
            status=DeliveryStatus.CANCELLED.value,
            next_attempt_at=None,
            last_error=bindparam("p_cancel_reason"),
        )
    )


def _close_task_statement() -> Any:
    """Record the task's closure, resolve its notifications, cancel their unsent deliveries
    and forget the open task, returning what was known of it."""
    closure = (
        pg_insert(_C)
        .values(
            task_id=bindparam("p_task_id"),
            instance_id=bindparam("p_instance_id"),
            reason=bindparam("p_reason"),
            closed_at=bindparam("p_at"),
        )
        .on_conflict_do_nothing(index_elements=[_C.c.task_id])
        .cte("closure")
    )
    resolved = _resolve(_N.c.task_id == bindparam("p_task_id"))
    cancelled = _cancel_unsent(resolved).cte("cancelled")
    return (
        delete(_T)
        .where(_T.c.task_id == bindparam("p_task_id"))
        .returning(*_T.c)
        .add_cte(closure, resolved, cancelled)
    )


def _close_instance_statement() -> Any:
    """Resolve the instance's notifications, cancel their unsent deliveries and forget its
    open tasks."""
    resolved = _resolve(_N.c.instance_id == bindparam("p_instance_id"))
    cancelled = _cancel_unsent(resolved).cte("cancelled")
    return (
        delete(_T)
        .where(_T.c.instance_id == bindparam("p_instance_id"))
        .add_cte(resolved, cancelled)
    )


_CLOSE_TASK = _close_task_statement()
_CLOSE_INSTANCE = _close_instance_statement()
_RESOLVE_TASK_FOR = _cancel_unsent(
    _resolve(_N.c.task_id == bindparam("p_task_id"), _N.c.recipient == bindparam("p_recipient"))
)


async def close_task(
    session: AsyncSession,
    task_id: str,
    instance_id: str | None,
    reason: str,
    at: dt.datetime,
    cancel_reason: str,
) -> TaskRow | None:
    """A completed or cancelled task: record its closure (so a late `task.created` notifies
    nobody), mark its notifications resolved at `at`, cancel their deliveries still waiting
    (with `cancel_reason`) and forget the open task. Returns the open task as it was."""
    result = await session.execute(
        _CLOSE_TASK,
        {
            "p_task_id": task_id,
            "p_instance_id": instance_id,
            "p_reason": reason,
            "p_at": at,
            "p_cancel_reason": cancel_reason,
        },
    )
    return result.first()


async def close_instance(
    session: AsyncSession, instance_id: str, at: dt.datetime, cancel_reason: str
) -> None:
    """An ended instance: its notifications resolve at `at`, their deliveries still waiting
    are cancelled (with `cancel_reason`), its open tasks are forgotten."""
    await session.execute(
        _CLOSE_INSTANCE,
        {"p_instance_id": instance_id, "p_at": at, "p_cancel_reason": cancel_reason},
    )


async def resolve_task_for(
    session: AsyncSession, task_id: str, recipient: str, at: dt.datetime, cancel_reason: str
) -> None:
    """The task is no longer the person's (transferred away): their notifications of it
    resolve and their deliveries still waiting are cancelled."""
    await session.execute(
        _RESOLVE_TASK_FOR,
        {
            "p_task_id": task_id,
            "p_recipient": recipient,
            "p_at": at,
            "p_cancel_reason": cancel_reason,
        },
    )


# -- what earlier notifications of an instance said -----------------------------------------

_BUSINESS_KEY_OF_INSTANCE = (
    select(_N.c.business_key)
    .where(_N.c.instance_id == bindparam("p_instance_id"), _N.c.business_key.is_not(None))
    .limit(1)
)
_HAS_REJECTION_NOTICE = select(
    exists().where(
        _N.c.instance_id == bindparam("p_instance_id"),
        _N.c.recipient == bindparam("p_recipient"),
        _N.c.kind == Kind.TASK_REJECTED.value,
    )
)


async def business_key_of_instance(session: AsyncSession, instance_id: str) -> str | None:
    """The business key an earlier task notification of the instance carried, if any."""
    return (
        await session.execute(_BUSINESS_KEY_OF_INSTANCE, {"p_instance_id": instance_id})
    ).scalar()


async def has_rejection_notice(session: AsyncSession, instance_id: str, recipient: str) -> bool:
    """Whether the person already heard that a step of the instance rejected their request."""
    found = await session.execute(
        _HAS_REJECTION_NOTICE, {"p_instance_id": instance_id, "p_recipient": recipient}
    )
    return bool(found.scalar())


# -- open tasks -------------------------------------------------------------------------------

_OPEN_TASK_COLUMNS = (
    "task_id",
    "instance_id",
    "name",
    "definition_key",
    "business_key",
    "initiator",
    "assignee",
    "candidate_users",
    "candidate_roles",
    "due_at",
    "created_at",
)


def _open_task_statement() -> Any:
    """Record a task as open unless it is closed already; returns whether it was closed."""
    closed = select(_C.c.task_id).where(_C.c.task_id == bindparam("p_task_id")).cte("closed")
    opened = (
        pg_insert(_T)
        .from_select(
            _OPEN_TASK_COLUMNS,
            select(*(_param(_T.c[name]) for name in _OPEN_TASK_COLUMNS)).where(
                ~exists(select(closed.c.task_id))
            ),
        )
        .on_conflict_do_nothing(index_elements=[_T.c.task_id])
        .cte("opened")
    )
    return select(exists(select(closed.c.task_id))).add_cte(opened)


_OPEN_TASK = _open_task_statement()
_TASK_IS_CLOSED = select(exists().where(_C.c.task_id == bindparam("p_task_id")))
_GET_OPEN_TASK = select(_T).where(_T.c.task_id == bindparam("p_task_id"))
_REASSIGN_OPEN_TASK = (
    update(_T)
    .where(_T.c.task_id == bindparam("p_task_id"))
    .values(assignee=bindparam("p_assignee"))
    .returning(*_T.c)
)
_OPEN_TASKS_OF_INSTANCE = (
    select(_T).where(_T.c.instance_id == bindparam("p_instance_id")).order_by(_T.c.created_at)
)


async def open_task(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a task as open (a repeated `task.created` changes nothing), unless it was
    closed already; returns False, recording nothing, for a closed task."""
    params = {f"p_{name}": value for name, value in values.items()}
    closed = (await session.execute(_OPEN_TASK, params)).scalar()
    return not closed


async def task_is_closed(session: AsyncSession, task_id: str) -> bool:
    return bool((await session.execute(_TASK_IS_CLOSED, {"p_task_id": task_id})).scalar())


async def get_open_task(session: AsyncSession, task_id: str) -> TaskRow | None:
    return (await session.execute(_GET_OPEN_TASK, {"p_task_id": task_id})).first()


async def reassign_open_task(
    session: AsyncSession, task_id: str, assignee: str | None
) -> TaskRow | None:
    """Give the open task to `assignee`; returns it as it now is (None when not open)."""
    result = await session.execute(
        _REASSIGN_OPEN_TASK, {"p_task_id": task_id, "p_assignee": assignee}
    )
    return result.first()


async def open_tasks_of_instance(session: AsyncSession, instance_id: str) -> list[TaskRow]:
    return list(await session.execute(_OPEN_TASKS_OF_INSTANCE, {"p_instance_id": instance_id}))


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
