"""The event backbone against real PostgreSQL and real NATS JetStream.

Outbox rows reach the stream once committed (never before), survive NATS being
down, and consumers apply each event once even when it is delivered again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bpm_common import jsonutil
from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.events.broker import ConsumerSpec
from bpm_common.events.envelope import Event, new_event
from bpm_common.events.inbox import EventConsumer
from bpm_common.events.jetstream import JetStreamBroker
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.outbox import EventWriter, OutboxRelay, add_event_tables
from bpm_stack.embedded import EmbeddedNats, free_port

metadata = MetaData()
add_event_tables(metadata)
effects = Table(
    "effects", metadata, Column("id", Integer, primary_key=True), Column("event_id", String, nullable=False)
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db_url(pg_url: str, run_prefix: str):
    url = make_url(pg_url).set(drivername="postgresql+asyncpg", database=f"{run_prefix}_events")
    await ensure_database(url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    yield url
    await drop_database(url, url.database)


@pytest_asyncio.fixture(loop_scope="session")
async def db(db_url) -> AsyncIterator[Database]:
    database = Database(db_url, application_name="test-events", pool_size=4)
    async with database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    yield database
    await database.dispose()


def _namespace() -> str:
    return "ev" + os.urandom(3).hex()


def _event(n: int) -> Event:
    return new_event("bpm.test.thing.happened", f"thing-{n}", {"n": n}, source="test", sequence=n)


async def _count(db: Database, table: Table) -> int:
    async with db.connection() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_rolled_back_change_publishes_nothing_and_committed_one_is_published(db, nats_url):
    ns = _namespace()
    writer = EventWriter(metadata, namespace=ns)
    broker = JetStreamBroker(nats_url, name="test")
    await broker.start()
    relay = OutboxRelay(db, broker, writer, service="test", stream=f"{ns.upper()}_TEST", stream_subjects=[f"{ns}.test.>"])
    await broker.ensure_stream(relay.stream, relay.stream_subjects)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await writer.add(session, _event(1))
            raise RuntimeError("business rule failed")
    async with db.transaction() as session:
        await writer.add(session, _event(2), _event(3))
    assert await relay.publish_once() == 2
    assert await relay.publish_once() == 0
    spec = ConsumerSpec(stream=relay.stream, durable="reader", filter_subject=f"{ns}.test.>")
    msgs = await broker.pull(spec, batch=10, timeout=1.0)
    assert [Event.from_json(m.data).data["n"] for m in msgs] == [2, 3]
    assert msgs[0].headers["Nats-Msg-Id"] == Event.from_json(msgs[0].data).id
    await broker.close()


async def test_event_committed_while_nats_is_down_is_delivered_when_it_is_back(db, tmp_path):
    ns = _namespace()
    port = free_port()
    server = EmbeddedNats(tmp_path / "nats", port=port)
    server.start()
    writer = EventWriter(metadata, namespace=ns)
    broker = JetStreamBroker(server.url, name="test-down")
    await broker.start()
    relay = OutboxRelay(
        db, broker, writer, service="test", stream=f"{ns.upper()}_TEST", stream_subjects=[f"{ns}.test.>"],
        poll_interval=0.1,
    )
    task = asyncio.create_task(relay.run())
    try:
        server.stop()
        async with db.transaction() as session:
            await writer.add(session, _event(7))
        await asyncio.sleep(1.0)
        assert await relay.backlog() == 1, "the event must wait in the outbox while NATS is down"
        server = EmbeddedNats(tmp_path / "nats", port=port)
        server.start()
        for _ in range(100):
            if await relay.backlog() == 0:
                break
            await asyncio.sleep(0.1)
        assert await relay.backlog() == 0
        spec = ConsumerSpec(stream=relay.stream, durable="reader", filter_subject=f"{ns}.test.>")
        msgs = await broker.pull(spec, batch=10, timeout=2.0)
        assert [Event.from_json(m.data).data["n"] for m in msgs] == [7]
    finally:
        relay.stop()
        task.cancel()
        await broker.close()
        server.stop()


async def _record(session: AsyncSession, event: Event) -> None:
    await session.execute(effects.insert().values(event_id=event.id))


async def test_redelivered_event_has_no_second_effect(db):
    broker = MemoryBroker()
    ns = _namespace()
    writer = EventWriter(metadata, namespace=ns)
    await broker.ensure_stream("S", [f"{ns}.test.>"])
    event = _event(1)
    from bpm_common.events.broker import OutgoingMessage

    # published twice with different message ids: the stream keeps both copies
    for suffix in ("a", "b"):
        await broker.publish([OutgoingMessage(f"{ns}.test.thing.happened", event.to_json().encode(), event.id + suffix)])
    consumer = EventConsumer(
        name="effects", db=db, broker=broker, writer=writer,
        spec=ConsumerSpec("S", "effects", f"{ns}.test.>"), handlers={event.type: _record}, namespace=ns,
    )
    outcomes = [await consumer.handle(m) for m in await broker.pull(consumer.spec, batch=10, timeout=0.1)]
    assert outcomes == ["handled", "duplicate"]
    assert await _count(db, effects) == 1


async def test_poison_event_goes_to_dead_letter_and_is_terminated(db):
    broker = MemoryBroker()
    ns = _namespace()
    writer = EventWriter(metadata, namespace=ns)
    await broker.ensure_stream("S", [f"{ns}.test.>"])
    from bpm_common.events.broker import OutgoingMessage

    await broker.publish([OutgoingMessage(f"{ns}.test.bad", b"{not json", "x1")])
    consumer = EventConsumer(
        name="effects", db=db, broker=broker, writer=writer,
        spec=ConsumerSpec("S", "effects", f"{ns}.test.>"), handlers={}, namespace=ns,
    )
    [msg] = await broker.pull(consumer.spec, batch=10, timeout=0.1)
    assert await consumer.handle(msg) == "dead"
    dead = broker.messages(f"{ns.upper()}_DLQ")
    assert len(dead) == 1 and jsonutil.loads(dead[0].data)["consumer"] == "effects"
    assert await broker.pull(consumer.spec, batch=10, timeout=0.1) == []


async def test_transient_failure_is_retried_then_applied_once(db):
    broker = MemoryBroker()
    ns = _namespace()
    writer = EventWriter(metadata, namespace=ns)
    await broker.ensure_stream("S", [f"{ns}.test.>"])
    calls = []

    async def flaky(session: AsyncSession, event: Event) -> None:
        calls.append(event.id)
        await _record(session, event)
        if len(calls) == 1:
            raise ConnectionError("database went away")

    event = _event(5)
    from bpm_common.events.broker import OutgoingMessage

    await broker.publish([OutgoingMessage(f"{ns}.test.x", event.to_json().encode(), event.id)])
    consumer = EventConsumer(
        name="flaky", db=db, broker=broker, writer=writer,
        spec=ConsumerSpec("S", "flaky", f"{ns}.test.>", ack_wait=5), handlers={event.type: flaky}, namespace=ns,
    )
    [msg] = await broker.pull(consumer.spec, batch=1, timeout=0.1)
    assert await consumer.handle(msg) == "retry"
    assert await _count(db, effects) == 0, "the failed attempt's effect was rolled back"
    [again] = await broker.pull(consumer.spec, batch=1, timeout=2.0)
    assert again.num_delivered == 2
    assert await consumer.handle(again) == "handled"
    assert await _count(db, effects) == 1


CRASHING_CONSUMER = textwrap.dedent(
    """
    import asyncio, os, sys
    from sqlalchemy import event as sa_event
    sys.path.insert(0, {tests_dir!r})
    from common.test_events import metadata, effects
    from bpm_common.db import Database
    from bpm_common.events.broker import ConsumerSpec
    from bpm_common.events.inbox import EventConsumer
    from bpm_common.events.jetstream import JetStreamBroker
    from bpm_common.events.outbox import EventWriter

    async def crash_after_commit(session, event):
        await session.execute(effects.insert().values(event_id=event.id))
        # the process dies right after the commit, before the consumer acknowledges
        sa_event.listen(session.sync_session, "after_commit", lambda s: os._exit(17))

    async def main():
        db = Database({db_url!r}, application_name="crasher")
        broker = JetStreamBroker({nats_url!r}, name="crasher")
        await broker.start()
        consumer = EventConsumer(
            name="crashy", db=db, broker=broker, writer=EventWriter(metadata, namespace={ns!r}),
            spec=ConsumerSpec({stream!r}, "crashy", {subject!r}, ack_wait=2.0),
            handlers={{"bpm.test.thing.happened": crash_after_commit}}, namespace={ns!r},
        )
        await consumer.run()

    asyncio.run(main())
    """
)


async def test_consumer_crashing_after_commit_before_ack_applies_effect_once(db, db_url, nats_url):
    ns = _namespace()
    stream = f"{ns.upper()}_TEST"
    broker = JetStreamBroker(nats_url, name="test-crash")
    await broker.start()
    await broker.ensure_stream(stream, [f"{ns}.test.>"])
    writer = EventWriter(metadata, namespace=ns)
    event = _event(42)
    from bpm_common.events.broker import OutgoingMessage

    await broker.publish([OutgoingMessage(f"{ns}.test.thing.happened", event.to_json().encode(), event.id)])
    script = CRASHING_CONSUMER.format(
        tests_dir=str(Path(__file__).resolve().parents[1]),
        db_url=db_url.render_as_string(hide_password=False),
        nats_url=nats_url, ns=ns, stream=stream, subject=f"{ns}.test.>",
    )
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, timeout=60
    )
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    assert await _count(db, effects) == 1, "the effect committed before the crash"

    consumer = EventConsumer(
        name="crashy", db=db, broker=broker, writer=writer,
        spec=ConsumerSpec(stream, "crashy", f"{ns}.test.>", ack_wait=2.0),
        handlers={event.type: _record}, namespace=ns,
    )
    msgs = []
    for _ in range(10):  # redelivered once the crashed consumer's ack wait ran out
        msgs = await broker.pull(consumer.spec, batch=10, timeout=1.0)
        if msgs:
            break
    assert len(msgs) == 1 and msgs[0].num_delivered == 2
    assert await consumer.handle(msgs[0]) == "duplicate"
    assert await _count(db, effects) == 1
    await broker.close()


async def test_a_batch_is_one_unit_of_work_and_falls_back_to_single_messages_on_failure(db):
    from bpm_common.events.broker import OutgoingMessage

    broker = MemoryBroker()
    ns = _namespace()
    writer = EventWriter(metadata, namespace=ns)
    await broker.ensure_stream("S", [f"{ns}.test.>"])
    first, second = _event(1), _event(2)
    for event, msg_id in ((first, "a"), (second, "b"), (first, "c")):  # `first` twice
        await broker.publish([OutgoingMessage(f"{ns}.test.x", event.to_json().encode(), msg_id)])
    consumer = EventConsumer(
        name="batch", db=db, broker=broker, writer=writer,
        spec=ConsumerSpec("S", "batch", f"{ns}.test.>"), handlers={first.type: _record}, namespace=ns,
    )
    msgs = await broker.pull(consumer.spec, batch=10, timeout=0.1)
    assert await consumer.handle_batch(msgs) == ["handled", "handled", "duplicate"]
    assert await _count(db, effects) == 2
    assert await broker.pull(consumer.spec, batch=10, timeout=0.1) == [], "all acknowledged"

    third, fourth = _event(3), _event(4)

    async def picky(session: AsyncSession, event: Event) -> None:
        await _record(session, event)
        if event.data["n"] == 4:
            raise ConnectionError("transient")

    for event in (third, fourth):
        await broker.publish([OutgoingMessage(f"{ns}.test.x", event.to_json().encode(), event.id)])
    consumer.handlers = {third.type: picky}
    msgs = await broker.pull(consumer.spec, batch=10, timeout=0.1)
    assert await consumer.handle_batch(msgs) == ["handled", "retry"]
    assert await _count(db, effects) == 3, "the good event applied once, the failing one rolled back"
