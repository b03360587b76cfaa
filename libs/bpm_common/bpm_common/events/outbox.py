"""Transactional outbox: events are rows written in the transaction of the change.

`add_event` inserts the row; the `OutboxRelay` publishes unsent rows in order
(`FOR UPDATE SKIP LOCKED`, so several replicas share the work without sending a
row twice at once), waits for JetStream's acknowledgement, then marks the rows
sent in the same transaction that locked them. If publishing fails nothing is
marked, and the rows go out on a later round; the event id travels as
`Nats-Msg-Id`, so a row published twice (a crash between publish and commit) is
dropped by JetStream's duplicate window and, beyond it, by consumers' inboxes.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.aio import wait_for_event
from bpm_common.db import Database, WriteBatch
from bpm_common.events.broker import Broker, BrokerError, OutgoingMessage
from bpm_common.events.envelope import Event
from bpm_common.logging import get_logger

log = get_logger(__name__)

OUTBOX_PUBLISHED = Counter("bpm_outbox_published_total", "Events published from the outbox", ["service"])
OUTBOX_BACKLOG = Gauge("bpm_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_FAILURES = Counter("bpm_outbox_publish_failures_total", "Failed outbox publish rounds", ["service"])

_TABLES: dict[int, tuple[Table, Table]] = {}
_COLUMNS = ("event_id", "subject", "payload", "headers")


def add_event_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Declare the `outbox` and `inbox` tables in a service's metadata (idempotent)."""
    key = id(metadata)
    if key in _TABLES:
        return _TABLES[key]
    outbox = Table(
        "outbox",
        metadata,
        Column("position", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "position", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("event_type", String(255), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
        Index("ix_inbox_handled_at", "handled_at"),
    )
    _TABLES[key] = (outbox, inbox)
    return outbox, inbox


class EventWriter:
    """Writes events to the outbox of one service's database."""

    def __init__(self, metadata: MetaData, *, namespace: str) -> None:
        self.outbox, self.inbox = add_event_tables(metadata)
        self.namespace = namespace

    async def add(self, session: AsyncSession, *events: Event) -> None:
        """Write the events' outbox rows in the unit of work of `session` (one round trip)."""
        batch = WriteBatch(session)
        await self.add_to(batch, *events)
        await batch.flush()

    async def add_to(self, batch: WriteBatch, *events: Event) -> None:
        """Queue the events' outbox rows in `batch`, to go with the unit of work's other
        writes: every command of every service writes here (see `bpm_common.db.WriteBatch`)."""
        if not events:
            return
        await batch.insert(self.outbox, [dict(zip(_COLUMNS, self._row(e), strict=True)) for e in events])
        batch.session.info["outbox_dirty"] = True

    def _row(self, event: Event) -> tuple[str, str, str, dict[str, str]]:
        """event_id, subject, payload and headers of the event's outbox row."""
        headers: dict[str, str] = {}
        if event.correlationid:
            headers["X-Correlation-ID"] = event.correlationid
        if event.traceparent:
            headers["traceparent"] = event.traceparent
        return (event.id, event.nats_subject(self.namespace), event.to_json(), headers)


async def add_event(session: AsyncSession, writer: EventWriter, *events: Event) -> None:
    await writer.add(session, *events)


class OutboxRelay:
    """Publishes committed outbox rows; woken after local commits, polling for the rest."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        writer: EventWriter,
        *,
        service: str,
        stream: str,
        stream_subjects: list[str],
        stream_max_age: float = 7 * 24 * 3600.0,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        retention: dt.timedelta = dt.timedelta(hours=6),
    ) -> None:
        self.db, self.broker, self.writer = db, broker, writer
        self.service, self.stream, self.stream_subjects = service, stream, stream_subjects
        self.stream_max_age = stream_max_age
        self.batch_size, self.poll_interval, self.retention = batch_size, poll_interval, retention
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_prune = 0.0
        db.on_commit(self._after_commit)
        table = writer.outbox.name
        self._unsent_sql = (
            f"SELECT position, event_id, subject, payload, headers FROM {table}"  # noqa: S608 - our table name
            " WHERE published_at IS NULL ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED"
        )
        self._mark_sent_sql = f"UPDATE {table} SET published_at = now() WHERE position = ANY($1::bigint[])"  # noqa: S608

    def _after_commit(self, session: AsyncSession) -> None:
        if session.info.pop("outbox_dirty", False):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = self.poll_interval
        while not self._stopping:
            await wait_for_event(self._wake, backoff)
            self._wake.clear()
            try:
                await self.broker.ensure_stream(self.stream, self.stream_subjects, max_age=self.stream_max_age)
                while await self.publish_once() >= self.batch_size:
                    continue  # a full batch: more may be waiting
                await self._maybe_prune()
                backoff = self.poll_interval
            except BrokerError as exc:
                OUTBOX_FAILURES.labels(self.service).inc()
                log.warning("outbox_publish_failed", error=str(exc))
                backoff = min(max(backoff * 2, 0.5), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the relay must survive database hiccups
                OUTBOX_FAILURES.labels(self.service).inc()
                log.warning("outbox_round_failed", error=repr(exc))
                backoff = min(max(backoff * 2, 0.5), 5.0)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def publish_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were sent."""
        # a round per few commits under load: plain SQL on asyncpg (see `driver_connection`)
        async with self.db.driver_transaction() as driver:
            rows = await driver.fetch(self._unsent_sql, self.batch_size)
            if not rows:
                return 0
            await self.broker.publish(
                [
                    OutgoingMessage(
                        subject=r["subject"],
                        data=r["payload"].encode(),
                        msg_id=str(r["event_id"]),
                        headers=r["headers"] or {},
                    )
                    for r in rows
                ]
            )
            await driver.execute(self._mark_sent_sql, [r["position"] for r in rows])
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def backlog(self) -> int:
        ob = self.writer.outbox
        async with self.db.connection() as conn:
            n = (
                await conn.execute(
                    text(f"SELECT count(*) FROM {ob.name} WHERE published_at IS NULL")  # noqa: S608
                )
            ).scalar_one()
        OUTBOX_BACKLOG.labels(self.service).set(n)
        return int(n)

    async def _maybe_prune(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_prune < 300:
            return
        self._last_prune = loop.time()
        ob, ib = self.writer.outbox, self.writer.inbox
        cutoff = dt.datetime.now(dt.UTC) - self.retention
        async with self.db.connection() as conn:
            await conn.execute(ob.delete().where(ob.c.published_at < cutoff))
            # inbox rows must outlive the stream's retention (7 days), or a late redelivery
            # would be handled again
            inbox_cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
            await conn.execute(ib.delete().where(ib.c.handled_at < inbox_cutoff))
