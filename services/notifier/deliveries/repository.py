"""Queries on the delivery log: recording new deliveries, claiming due ones, recording outcomes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.deliveries.models import Delivery, DeliveryStatus
from services.notifier.notifications.models import Notification

#: set on a unit of work's session when it wrote deliveries that wait for a sender
PENDING_FLAG = "notifier_deliveries_pending"

UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


async def add_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert delivery rows; a row for an (event, recipient, channel) already there is skipped."""
    if not rows:
        return
    await session.execute(
        pg_insert(Delivery)
        .values(list(rows))
        .on_conflict_do_nothing(
            index_elements=[Delivery.event_id, Delivery.recipient, Delivery.channel]
        )
    )
    if any(r["status"] == DeliveryStatus.PENDING for r in rows):
        session.info[PENDING_FLAG] = True


async def cancel_unsent(
    session: AsyncSession, notification_ids: Sequence[uuid.UUID], reason: str
) -> int:
    """Cancel deliveries of these notifications still waiting for an attempt; returns how many."""
    if not notification_ids:
        return 0
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.notification_id.in_(list(notification_ids)),
            Delivery.status.in_([s.value for s in UNSENT]),
            Delivery.next_attempt_at.is_not(None),
        )
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error=reason)
        .returning(Delivery.id)
    )
    return len(result.all())


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: uuid.UUID
    channel: str
    recipient: str
    address: str | None
    attempts: int
    locale: str
    title: str
    body: str
    link: str | None


async def claim_due(
    session: AsyncSession,
    *,
    channels: Sequence[str],
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
) -> list[ClaimedDelivery]:
    """Lock due deliveries (skipping rows another worker holds), mark them `sending` until
    `lease_until`, count the attempt, and return them with their notification's content."""
    due = (
        select(Delivery.id)
        .where(
            Delivery.next_attempt_at.is_not(None),
            Delivery.next_attempt_at <= now,
            Delivery.channel.in_(list(channels)),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING,
            attempts=Delivery.attempts + 1,
            next_attempt_at=lease_until,
            updated_at=now,
        )
    )
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.channel,
            Delivery.recipient,
            Delivery.address,
            Delivery.attempts,
            Notification.locale,
            Notification.title,
            Notification.body,
            Notification.link,
        )
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    return [ClaimedDelivery(*row) for row in rows]


async def record_sent(session: AsyncSession, delivery_id: uuid.UUID, at: dt.datetime) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=DeliveryStatus.SENT,
            sent_at=at,
            next_attempt_at=None,
            last_error=None,
            updated_at=at,
        )
    )


async def record_failed(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    error: str,
    at: dt.datetime,
    retry_at: dt.datetime | None,
) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=DeliveryStatus.FAILED,
            last_error=error[:2000],
            next_attempt_at=retry_at,
            updated_at=at,
        )
    )


async def page(
    session: AsyncSession,
    *,
    status: str | None,
    channel: str | None,
    recipient: str | None,
    limit: int,
    before: uuid.UUID | None,
) -> list[Delivery]:
    """Up to `limit + 1` deliveries, newest first, older than `before`."""
    stmt = select(Delivery)
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    if channel is not None:
        stmt = stmt.where(Delivery.channel == channel)
    if recipient is not None:
        stmt = stmt.where(Delivery.recipient == recipient)
    if before is not None:
        stmt = stmt.where(Delivery.id < before)
    return list(await session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit + 1)))
