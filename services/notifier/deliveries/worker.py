"""The delivery worker: sends due deliveries on their channels, outside any transaction.

One round: claim due rows in a short transaction (`FOR UPDATE SKIP LOCKED`, so replicas
share the work, and no more per channel than its token bucket allows; each claimed row is
`sending` until its lease runs out), render each message in its channel's format (with
fresh approve/reject links for chat), send while no transaction is open, then record each
outcome and attempt in a second short transaction.

A transient failure (connection error, timeout, 5xx, 429) is retried after an exponential
delay with jitter until `delivery_max_attempts`; a permanent one (another 4xx, a refused
address, an unusable channel) and the last failed attempt make the delivery a dead letter
that keeps the last error until an administrator retries it. A worker that dies mid-send
leaves rows whose lease expires and which are sent again (delivery is at least once; the
unique `(event, recipient, channel)` key keeps a redelivered event from adding a row).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.aio import wait_for_event
from bpm_common.app import ServiceContext, Worker
from bpm_common.db import Database
from bpm_common.logging import get_logger
from services.notifier.actions.tokens import ActionSigner
from services.notifier.deliveries import repository
from services.notifier.deliveries.metrics import DELIVERED, DELIVERY_LATENCY
from services.notifier.deliveries.models import EMAIL_CHANNEL, ChannelKind, DeliveryStatus
from services.notifier.deliveries.repository import ClaimedDelivery
from services.notifier.deliveries.senders.base import ChannelSender, DeliveryError, OutgoingMessage
from services.notifier.deliveries.senders.registry import SenderRegistry
from services.notifier.notifications.kinds import APPROVABLE_KINDS, Kind
from services.notifier.notifications.templates import render
from services.notifier.runtime import EXTRAS_KEY, NotifierRuntime
from services.notifier.settings import NotifierSettings

log = get_logger(__name__)

ACTION_PATH = "/api/v1/notifications/actions/"
_CHAT_KINDS = {k.value for k in ChannelKind} - {ChannelKind.IN_APP, ChannelKind.EMAIL}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: ClaimedDelivery
    error: DeliveryError | None  # None when sent
    started_at: dt.datetime
    finished_at: dt.datetime


class DeliveryDispatcher:
    def __init__(
        self,
        db: Database,
        senders: SenderRegistry,
        settings: NotifierSettings,
        *,
        signer: ActionSigner | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.db, self.senders, self.settings = db, senders, settings
        self.signer, self.clock, self.rng = signer, clock, rng
        self.public_url = settings.common.public_url.rstrip("/")
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
                    continue  # a full batch: more may be due
                backoff = self.settings.delivery_poll_interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker outlives database hiccups
                log.warning("delivery_round_failed", error=repr(exc))
                backoff = min(backoff * 2, 30.0)
            await wait_for_event(self._wake, backoff)
            self._wake.clear()

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """One round over the deliveries due at `now`; returns how many were attempted."""
        now = now or self.clock()
        lease_until = now + dt.timedelta(seconds=self.settings.delivery_lease)
        async with self.db.transaction() as session:
            claimed = await repository.claim_due(
                session,
                now=now,
                lease_until=lease_until,
                limit=self.settings.delivery_batch_size,
                rate_of=self._rate_of,
            )
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(d, now) for d in claimed))
        async with self.db.transaction() as session:
            for outcome in outcomes:
                await self._record(session, outcome)
        return len(claimed)

    def _rate_of(self, channel: str, configured: int | None) -> int | None:
        if channel == EMAIL_CHANNEL and configured is None:
            return self.settings.email_rate_per_minute
        return configured

    async def _attempt(self, delivery: ClaimedDelivery, now: dt.datetime) -> Outcome:
        started = max(now, self.clock())
        async with self._limit:
            try:
                sender = self._sender(delivery)
                await sender.send(self._message(delivery, sender, now))
                error = None
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a sender bug must not stop the others
                log.exception(
                    "delivery_sender_crashed",
                    channel=delivery.channel,
                    delivery_id=str(delivery.id),
                )
                error = DeliveryError(
                    f"internal error in the {delivery.channel_kind} sender: {type(exc).__name__}"
                )
        return Outcome(delivery, error, started, max(started, self.clock()))

    def _sender(self, d: ClaimedDelivery) -> ChannelSender:
        if d.config_id is None:
            if d.channel == EMAIL_CHANNEL and self.senders.email is not None:
                return self.senders.email
            if d.channel == EMAIL_CHANNEL:
                raise DeliveryError("email is not configured (BPM_SMTP_URL)", permanent=True)
            raise DeliveryError(f"the channel {d.channel} was removed", permanent=True)
        if not d.config_enabled or d.sealed_url is None:
            raise DeliveryError(f"the channel {d.channel} is disabled", permanent=True)
        return self.senders.for_config(d.config_id, d.channel_kind, d.sealed_url)

    def _message(
        self, d: ClaimedDelivery, sender: ChannelSender, now: dt.datetime
    ) -> OutgoingMessage:
        """The notification rendered in the sender's format, with action links for chat."""
        actions = self._actions(d, now)
        rendered = render(
            Kind(d.kind),
            d.locale,
            {**d.context, "link": d.link},
            fmt=sender.format,
            actions=actions,
            tz=d.timezone,
        )
        fields = {"notification_id": str(d.notification_id)}
        if d.task_id:
            fields["task_id"] = d.task_id
        if actions:
            fields.update(approve_url=actions["approve"], reject_url=actions["reject"])
        return OutgoingMessage(
            recipient=d.recipient,
            address=d.address or "",
            kind=d.kind,
            title=rendered.title,
            body=rendered.body,
            link=d.link,
            fields=fields,
        )

    def _actions(self, d: ClaimedDelivery, now: dt.datetime) -> dict[str, str] | None:
        """Approve/reject links (one use for both: the delivery id is the link id)."""
        if (
            self.signer is None
            or d.task_id is None
            or d.channel_kind not in _CHAT_KINDS
            or d.kind not in APPROVABLE_KINDS
        ):
            return None
        links: dict[str, str] = {}
        for outcome in ("approve", "reject"):
            token = self.signer.mint(
                link_id=d.id,
                username=d.recipient,
                task_id=d.task_id,
                outcome=outcome,  # type: ignore[arg-type]
                channel=d.channel_kind,
                now=now,
            )
            links[outcome] = f"{self.public_url}{ACTION_PATH}{token}"
        return links

    async def _record(self, session: AsyncSession, outcome: Outcome) -> None:
        d, error, at = outcome.delivery, outcome.error, outcome.finished_at
        if error is None:
            if await repository.record_outcome(
                session,
                d.id,
                status=DeliveryStatus.SENT,
                error=None,
                started_at=outcome.started_at,
                finished_at=at,
            ):
                DELIVERED.labels(d.channel_kind, "sent").inc()
                DELIVERY_LATENCY.labels(d.channel_kind).observe(
                    max((at - d.created_at).total_seconds(), 0.0)
                )
            log.info(
                "delivery_sent", channel=d.channel, delivery_id=str(d.id), recipient=d.recipient
            )
            return
        retry_at = self.retry_at(d.attempts, at, error)
        status = DeliveryStatus.FAILED if retry_at else DeliveryStatus.DEAD
        recorded = await repository.record_outcome(
            session,
            d.id,
            status=status,
            error=str(error),
            started_at=outcome.started_at,
            finished_at=at,
            retry_at=retry_at,
        )
        if recorded:
            DELIVERED.labels(d.channel_kind, status.value).inc()
        log.warning(
            "delivery_failed" if retry_at else "delivery_dead_lettered",
            channel=d.channel,
            delivery_id=str(d.id),
            recipient=d.recipient,
            attempts=d.attempts,
            permanent=error.permanent,
            retry_at=retry_at.isoformat() if retry_at else None,
            error=str(error),
        )

    def retry_at(
        self, attempts: int, at: dt.datetime, error: DeliveryError | None = None
    ) -> dt.datetime | None:
        """When to try again after `attempts` attempts; None for a dead letter."""
        if error is not None and error.permanent:
            return None
        if attempts >= self.settings.delivery_max_attempts:
            return None
        s = self.settings
        delay = min(s.delivery_retry_base * 2 ** (attempts - 1), s.delivery_retry_max)
        if error is not None and error.rate_limited:
            delay = max(delay, s.delivery_rate_limited_delay)
        delay *= 1.0 - s.delivery_retry_jitter * self.rng()
        return at + dt.timedelta(seconds=delay)


def delivery_worker(settings: NotifierSettings) -> Worker:
    """The `ServiceDefinition` worker that runs a dispatcher for the service's lifetime."""

    async def deliveries(ctx: ServiceContext) -> None:
        runtime: NotifierRuntime = ctx.extras[EXTRAS_KEY]
        dispatcher = DeliveryDispatcher(ctx.db, runtime.senders, settings, signer=runtime.signer)
        ctx.extras["delivery_dispatcher"] = dispatcher
        ctx.db.on_commit(dispatcher.after_commit)
        try:
            await dispatcher.run()
        finally:
            dispatcher.stop()

    return deliveries
