"""The delivery worker: sends due deliveries on their channels, outside any transaction.

One round: claim due rows in a short transaction (`FOR UPDATE SKIP LOCKED`, so replicas
share the work; each claimed row is `sending` until its lease runs out), send them with
the channel senders while no transaction is open, then record each outcome in a second
short transaction. A failed attempt is retried with a doubling delay until
`delivery_max_attempts`; a worker that dies mid-send leaves rows whose lease expires and
which are sent again (delivery is at least once; the unique `(event, recipient, channel)`
key keeps a redelivered event from adding a second row).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bpm_common.app import ServiceContext, Worker
from bpm_common.db import Database
from bpm_common.logging import get_logger
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.deliveries import repository
from services.notifier.deliveries.channels.base import ChannelSender, DeliveryError, OutgoingMessage
from services.notifier.deliveries.repository import ClaimedDelivery
from services.notifier.settings import NotifierSettings

log = get_logger(__name__)

DELIVERY_ATTEMPTS = Counter(
    "bpm_notifier_delivery_attempts_total",
    "Delivery attempts by channel and outcome",
    ["channel", "outcome"],
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: ClaimedDelivery
    error: str | None  # None when sent


class DeliveryDispatcher:
    def __init__(
        self,
        db: Database,
        senders: Mapping[str, ChannelSender],
        settings: NotifierSettings,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db, self.senders, self.settings, self.clock = db, dict(senders), settings, clock
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(settings.delivery_concurrency)
        self._stopping = False

    def after_commit(self, session: AsyncSession) -> None:
        """`Database.on_commit` callback: wake up when a unit of work queued deliveries."""
        if session.info.pop(repository.PENDING_FLAG, False):
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Rounds until stopped; between them, wait for new deliveries or the poll interval."""
        backoff = self.settings.delivery_poll_interval
        while not self._stopping:
            try:
                while await self.run_once() >= self.settings.delivery_batch_size:
                    pass
                backoff = self.settings.delivery_poll_interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker outlives database hiccups
                log.warning("delivery_round_failed", error=repr(exc))
                backoff = min(backoff * 2, 30.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """One round over the deliveries due at `now`; returns how many were attempted."""
        if not self.senders:
            return 0
        now = now or self.clock()
        lease_until = now + dt.timedelta(seconds=self.settings.delivery_lease)
        async with self.db.transaction() as session:
            claimed = await repository.claim_due(
                session,
                channels=sorted(self.senders),
                now=now,
                lease_until=lease_until,
                limit=self.settings.delivery_batch_size,
            )
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(d) for d in claimed))
        finished = max(now, self.clock())
        async with self.db.transaction() as session:
            for outcome in outcomes:
                await self._record(session, outcome, finished)
        return len(claimed)

    async def _attempt(self, delivery: ClaimedDelivery) -> Outcome:
        sender = self.senders[delivery.channel]
        message = OutgoingMessage(
            recipient=delivery.recipient,
            address=delivery.address or "",
            locale=delivery.locale,
            subject=delivery.title,
            text=delivery.body,
            link=delivery.link,
        )
        async with self._limit:
            try:
                await sender.send(message)
            except DeliveryError as exc:
                return Outcome(delivery, str(exc) or type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - a sender bug must not stop the others
                log.exception(
                    "delivery_sender_crashed",
                    channel=delivery.channel,
                    delivery_id=str(delivery.id),
                )
                return Outcome(
                    delivery,
                    f"internal error in the {delivery.channel} sender: {type(exc).__name__}",
                )
        return Outcome(delivery, None)

    async def _record(self, session: AsyncSession, outcome: Outcome, at: dt.datetime) -> None:
        d = outcome.delivery
        if outcome.error is None:
            await repository.record_sent(session, d.id, at)
            DELIVERY_ATTEMPTS.labels(d.channel, "sent").inc()
            log.info(
                "delivery_sent", channel=d.channel, delivery_id=str(d.id), recipient=d.recipient
            )
            return
        retry_at = self.retry_at(d.attempts, at)
        await repository.record_failed(session, d.id, outcome.error, at, retry_at)
        DELIVERY_ATTEMPTS.labels(d.channel, "failed").inc()
        log.warning(
            "delivery_failed",
            channel=d.channel,
            delivery_id=str(d.id),
            recipient=d.recipient,
            attempts=d.attempts,
            retry_at=retry_at.isoformat() if retry_at else None,
            error=outcome.error,
        )

    def retry_at(self, attempts: int, at: dt.datetime) -> dt.datetime | None:
        """When to try again after `attempts` attempts; None when they are used up."""
        if attempts >= self.settings.delivery_max_attempts:
            return None
        delay = min(
            self.settings.delivery_retry_base * 2 ** (attempts - 1),
            self.settings.delivery_retry_max,
        )
        return at + dt.timedelta(seconds=delay)


def delivery_worker(senders: Mapping[str, ChannelSender], settings: NotifierSettings) -> Worker:
    """The `ServiceDefinition` worker that runs a dispatcher for the service's lifetime."""

    async def deliveries(ctx: ServiceContext) -> None:
        dispatcher = DeliveryDispatcher(ctx.db, senders, settings)
        ctx.extras["delivery_dispatcher"] = dispatcher
        ctx.db.on_commit(dispatcher.after_commit)
        try:
            await dispatcher.run()
        finally:
            dispatcher.stop()

    return deliveries
