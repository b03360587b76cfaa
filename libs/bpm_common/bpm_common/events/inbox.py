"""Idempotent consumers: the inbox row and the effect commit together, then the ack.

A redelivered event (a crash after commit and before ack, a redelivery after the
ack wait, a duplicate publish) finds its inbox row and is acknowledged without
running the handler again. Transient failures are `nak`ed with a growing delay;
an event that cannot be parsed, that a handler refuses as poison, or that keeps
failing past `max_deliver` goes to the dead-letter subject and is `term`ed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import Database, driver_connection, is_transient_db_error
from bpm_common.events.broker import (
    Broker,
    BrokerError,
    ConsumerSpec,
    IncomingMessage,
    OutgoingMessage,
)
from bpm_common.events.envelope import Event
from bpm_common.events.outbox import EventWriter
from bpm_common.events.streams import dlq_stream_name, dlq_subject
from bpm_common.logging import correlation_id, get_logger

#: claim a batch's event ids in the consumer's inbox; returns the ids seen for the first time
_CLAIM_BATCH = (
    "INSERT INTO {table} (consumer, event_id, event_type)"
    " SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::varchar[]) AS e(id, type)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]

EVENTS_HANDLED = Counter("bpm_events_handled_total", "Events taken by a consumer", ["consumer", "outcome"])
EVENT_LAG = Histogram(
    "bpm_event_lag_seconds",
    "Time from an event's creation to its handling",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CONSUMER_LAST_LAG = Gauge("bpm_consumer_lag_seconds", "Lag of the last handled event", ["consumer"])


class PoisonEvent(Exception):
    """The event can never be handled (invalid content); dead-letter it at once."""


class RetryLater(Exception):
    """A condition that will pass (e.g. a prerequisite event not yet seen); retry with delay."""


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        broker: Broker,
        writer: EventWriter,
        spec: ConsumerSpec,
        handlers: dict[str, Handler],
        namespace: str,
        max_deliver: int = 8,
        batch: int = 256,
    ) -> None:
        self.name, self.db, self.broker, self.writer = name, db, broker, writer
        self.spec, self.handlers, self.namespace = spec, handlers, namespace
        self.max_deliver, self.batch = max_deliver, batch
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        idle = 0.2
        while not self._stopping:
            try:
                msgs = await self.broker.pull(self.spec, batch=self.batch, timeout=1.0)
                idle = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - stream not there yet, NATS down, ...
                log.debug("consumer_pull_failed", consumer=self.name, error=repr(exc))
                await asyncio.sleep(idle)
                idle = min(idle * 2, 5.0)
                continue
            if len(msgs) == 1:
                await self.handle(msgs[0])
            else:
                await self.handle_batch(msgs)

    async def handle(self, msg: IncomingMessage) -> str:
        """Handle one message; returns the outcome (handled, duplicate, ignored, retry, dead)."""
        try:
            event = Event.from_json(msg.data)
        except ValueError as exc:
            await self._dead_letter(msg, f"unparseable event: {exc}")
            return "dead"
        token = correlation_id.set(event.correlationid or msg.headers.get("X-Correlation-ID"))
        structlog.contextvars.bind_contextvars(event_id=event.id, event_type=event.type)
        try:
            handler = self.handlers.get(event.type)
            if handler is None:
                await msg.ack()
                EVENTS_HANDLED.labels(self.name, "ignored").inc()
                return "ignored"
            try:
                handled = await self._apply(event, handler)
            except (PoisonEvent, ValueError, KeyError, TypeError) as exc:
                if isinstance(exc, PoisonEvent) or msg.num_delivered >= self.max_deliver:
                    await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
                    return "dead"
                await self._retry(msg, exc)
                return "retry"
            except Exception as exc:  # noqa: BLE001
                if not (is_transient_db_error(exc) or isinstance(exc, RetryLater)) and (
                    msg.num_delivered >= self.max_deliver
                ):
                    await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
                    return "dead"
                await self._retry(msg, exc)
                return "retry"
            await msg.ack()
            lag = max(time.time() - event.time.timestamp(), 0.0)
            EVENT_LAG.labels(self.name).observe(lag)
            CONSUMER_LAST_LAG.labels(self.name).set(lag)
            outcome = "handled" if handled else "duplicate"
            EVENTS_HANDLED.labels(self.name, outcome).inc()
            return outcome
        finally:
            structlog.contextvars.unbind_contextvars("event_id", "event_type")
            correlation_id.reset(token)

    async def handle_batch(self, msgs: list[IncomingMessage]) -> list[str]:
        """Handle several messages in ONE unit of work (one transaction, one inbox insert),
        which is what keeps a consumer cheap under load. If anything in the batch fails, the
        batch is rolled back and every message is handled on its own, so retries and dead
        letters work per message exactly as in `handle`."""
        batch: list[tuple[IncomingMessage, Event, Handler | None]] = []
        for msg in msgs:
            try:
                event = Event.from_json(msg.data)
            except ValueError:
                return [await self.handle(m) for m in msgs]
            batch.append((msg, event, self.handlers.get(event.type)))
        wanted = {e.id: e for _, e, h in batch if h is not None}
        ib = self.writer.inbox
        try:
            async with self.db.transaction() as session:
                fresh: set[str] = set()
                if wanted:
                    # one statement text for any batch size: prepared once per connection
                    rows = await (await driver_connection(session)).fetch(
                        _CLAIM_BATCH.format(table=ib.name),
                        self.name,
                        [e.id for e in wanted.values()],
                        [e.type for e in wanted.values()],
                    )
                    fresh = {str(r["event_id"]) for r in rows}
                outcomes: list[str] = []
                for _, event, handler in batch:
                    if handler is None:
                        outcomes.append("ignored")
                    elif event.id in fresh:
                        fresh.discard(event.id)  # a repeat inside the batch runs once
                        token = correlation_id.set(event.correlationid)
                        try:
                            await handler(session, event)
                        finally:
                            correlation_id.reset(token)
                        outcomes.append("handled")
                    else:
                        outcomes.append("duplicate")
        except Exception as exc:  # noqa: BLE001 - fall back to one by one, with per-message retry
            log.info("event_batch_fallback", consumer=self.name, size=len(msgs), error=repr(exc))
            return [await self.handle(m) for m in msgs]
        now = time.time()
        for (msg, event, _), outcome in zip(batch, outcomes, strict=True):
            await msg.ack()
            EVENTS_HANDLED.labels(self.name, outcome).inc()
            if outcome == "handled":
                lag = max(now - event.time.timestamp(), 0.0)
                EVENT_LAG.labels(self.name).observe(lag)
                CONSUMER_LAST_LAG.labels(self.name).set(lag)
        return outcomes

    async def _apply(self, event: Event, handler: Handler) -> bool:
        ib = self.writer.inbox
        async with self.db.transaction() as session:
            inserted = await session.execute(
                pg_insert(ib)
                .values(consumer=self.name, event_id=event.id, event_type=event.type)
                .on_conflict_do_nothing()
                .returning(ib.c.event_id)
            )
            if inserted.first() is None:
                return False
            await handler(session, event)
        return True

    async def _retry(self, msg: IncomingMessage, exc: BaseException) -> None:
        delay = min(0.5 * 2 ** (msg.num_delivered - 1), 30.0)
        log.warning("event_retry", consumer=self.name, delay=delay, error=repr(exc), deliveries=msg.num_delivered)
        EVENTS_HANDLED.labels(self.name, "retry").inc()
        try:
            await msg.nak(delay=delay)
        except Exception as nak_error:  # noqa: BLE001 - redelivered after the ack wait anyway
            log.debug("event_nak_failed", consumer=self.name, error=repr(nak_error))

    async def _dead_letter(self, msg: IncomingMessage, reason: str) -> None:
        log.error("event_dead_lettered", consumer=self.name, reason=reason, subject=msg.subject)
        EVENTS_HANDLED.labels(self.name, "dead").inc()
        body: dict[str, Any] = {
            "consumer": self.name,
            "subject": msg.subject,
            "reason": reason[:2000],
            "deliveries": msg.num_delivered,
            "payload": msg.data.decode("utf-8", "replace")[:500_000],
        }
        try:
            await self.broker.ensure_stream(dlq_stream_name(self.namespace), [f"{self.namespace}.dlq.>"])
            await self.broker.publish(
                [
                    OutgoingMessage(
                        subject=dlq_subject(self.namespace, self.name),
                        data=jsonutil.dumps_bytes(body),
                        msg_id=f"dlq-{self.name}-{msg.headers.get('Nats-Msg-Id', id(msg))}",
                        headers={"X-Dead-Letter-Reason": reason[:200]},
                    )
                ]
            )
        except BrokerError as exc:
            # keep the message: without a dead-letter copy it must not be dropped
            log.error("dead_letter_publish_failed", error=str(exc))
            await msg.nak(delay=30.0)
            return
        await msg.term()
