"""Queries on the delivery log: claiming due deliveries within each channel's rate,
recording outcomes and attempts, and retrying dead letters. New deliveries are written with
their notification (`notifications.repository.add_notifications`), and cancelled with it
when it is resolved."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.channels.models import ChannelConfig
from services.notifier.deliveries.models import (
    IN_APP_CHANNEL,
    ChannelRateBucket,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from services.notifier.notifications.models import Notification
from services.notifier.preferences.models import NotificationPreference

#: set on a unit of work's session when it wrote deliveries that wait for a sender
PENDING_FLAG = "notifier_deliveries_pending"

UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.HELD, DeliveryStatus.FAILED)
RETRYABLE = (DeliveryStatus.DEAD, DeliveryStatus.FAILED)

#: channel -> messages per minute (None: unlimited), for the channels of a claim
RateOf = Callable[[str, int | None], int | None]


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: uuid.UUID
    channel: str
    channel_kind: str
    config_id: uuid.UUID | None
    sealed_url: str | None
    config_enabled: bool | None
    recipient: str
    address: str | None
    attempts: int
    created_at: dt.datetime
    notification_id: uuid.UUID
    kind: str
    locale: str
    title: str
    body: str
    link: str | None
    task_id: str | None
    context: dict[str, Any]
    timezone: str | None


def _due(now: dt.datetime) -> Any:
    return and_(
        Delivery.next_attempt_at.is_not(None),
        Delivery.next_attempt_at <= now,
        Delivery.channel != IN_APP_CHANNEL,
    )


async def claim_due(
    session: AsyncSession,
    *,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    rate_of: RateOf,
) -> list[ClaimedDelivery]:
    """Lock due deliveries (skipping rows another worker holds), at most as many per channel
    as its token bucket allows, mark them `sending` until `lease_until`, count the attempt,
    and return them with what the send needs."""
    window = (
        select(Delivery.channel, Delivery.channel_config_id)
        .where(_due(now))
        .order_by(Delivery.next_attempt_at)
        .limit(limit * 4)
        .subquery()
    )
    channels = (
        await session.execute(
            select(window.c.channel, ChannelConfig.rate_per_minute)
            .select_from(window)
            .outerjoin(ChannelConfig, ChannelConfig.id == window.c.channel_config_id)
            .group_by(window.c.channel, ChannelConfig.rate_per_minute)
        )
    ).all()
    ids: list[uuid.UUID] = []
    for channel, configured_rate in channels:
        room = limit - len(ids)
        if room <= 0:
            break
        rate = rate_of(channel, configured_rate)
        allowance = room if rate is None else min(room, await _tokens(session, channel, rate, now))
        if allowance <= 0:
            continue
        taken = list(
            await session.scalars(
                select(Delivery.id)
                .where(_due(now), Delivery.channel == channel)
                .order_by(Delivery.next_attempt_at)
                .limit(allowance)
                .with_for_update(skip_locked=True)
            )
        )
        if rate is not None and taken:
            await session.execute(
                update(ChannelRateBucket)
                .where(ChannelRateBucket.channel == channel)
                .values(tokens=ChannelRateBucket.tokens - len(taken))
            )
        ids += taken
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
            Delivery.channel_kind,
            Delivery.channel_config_id,
            ChannelConfig.secret_url,
            ChannelConfig.enabled,
            Delivery.recipient,
            Delivery.address,
            Delivery.attempts,
            Delivery.created_at,
            Notification.id,
            Notification.kind,
            Notification.locale,
            Notification.title,
            Notification.body,
            Notification.link,
            Notification.task_id,
            Notification.context,
            NotificationPreference.timezone,
        )
        .join(Notification, Notification.id == Delivery.notification_id)
        .outerjoin(ChannelConfig, ChannelConfig.id == Delivery.channel_config_id)
        .outerjoin(NotificationPreference, NotificationPreference.username == Delivery.recipient)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    return [ClaimedDelivery(*row) for row in rows]


async def _tokens(session: AsyncSession, channel: str, per_minute: int, now: dt.datetime) -> int:
    """Lock the channel's bucket, refill it for the time passed, and return whole tokens."""
    capacity = float(per_minute)
    await session.execute(
        pg_insert(ChannelRateBucket)
        .values(channel=channel, tokens=capacity, updated_at=now)
        .on_conflict_do_nothing(index_elements=[ChannelRateBucket.channel])
    )
    bucket = (
        await session.execute(
            select(ChannelRateBucket.tokens, ChannelRateBucket.updated_at)
            .where(ChannelRateBucket.channel == channel)
            .with_for_update()
        )
    ).one()
    elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
    tokens = min(capacity, bucket.tokens + elapsed * per_minute / 60.0)
    await session.execute(
        update(ChannelRateBucket)
        .where(ChannelRateBucket.channel == channel)
        .values(tokens=tokens, updated_at=max(now, bucket.updated_at))
    )
    return math.floor(tokens + 1e-9)


async def record_outcome(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    status: DeliveryStatus,
    error: str | None,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    retry_at: dt.datetime | None = None,
) -> bool:
    """Record an attempt's outcome on the delivery and in its attempt log; False when the
    delivery is no longer this attempt's (its claim expired and another replica took it)."""
    values: dict[str, Any] = {
        "status": status,
        "last_error": error[:2000] if error else None,
        "next_attempt_at": retry_at,
        "updated_at": finished_at,
    }
    if status is DeliveryStatus.SENT:
        values["sent_at"] = finished_at
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(**values)
        .returning(Delivery.id)
    )
    if result.first() is None:
        return False
    number = (
        select(func.coalesce(func.max(DeliveryAttempt.number), 0) + 1)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .scalar_subquery()
    )
    outcome = "failed" if status is DeliveryStatus.FAILED else status.value
    await session.execute(
        pg_insert(DeliveryAttempt).values(
            delivery_id=delivery_id,
            number=number,
            started_at=started_at,
            finished_at=finished_at,
            outcome=outcome,
            error=error[:2000] if error else None,
        )
    )
    return True


async def retry(
    session: AsyncSession,
    now: dt.datetime,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    channel: str | None = None,
    only_dead: bool = False,
) -> list[uuid.UUID]:
    """Give dead (and failed) deliveries a fresh set of attempts, due now; returns their ids."""
    statuses = [DeliveryStatus.DEAD.value] if only_dead else [s.value for s in RETRYABLE]
    stmt = update(Delivery).where(Delivery.status.in_(statuses))
    if ids is not None:
        stmt = stmt.where(Delivery.id.in_(list(ids)))
    if channel is not None:
        stmt = stmt.where(Delivery.channel == channel)
    result = await session.execute(
        stmt.values(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        ).returning(Delivery.id)
    )
    retried = list(result.scalars())
    if retried:
        session.info[PENDING_FLAG] = True
    return retried


async def get(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery | None:
    return await session.get(Delivery, delivery_id)


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    rows = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.number)
    )
    return list(rows)


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
