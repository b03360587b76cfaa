"""The NATS JetStream broker (nats-py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from bpm_common.events.broker import (
    Broker,
    BrokerError,
    ConsumerSpec,
    IncomingMessage,
    OutgoingMessage,
)
from bpm_common.logging import get_logger

log = get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0


class _JsMessage(IncomingMessage):
    __slots__ = ("_msg", "subject", "data", "headers", "num_delivered")

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        self.subject = msg.subject
        self.data = msg.data
        self.headers = dict(msg.headers or {})
        self.num_delivered = msg.metadata.num_delivered if msg.reply else 1

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self._msg.nak(delay=delay)

    async def term(self) -> None:
        await self._msg.term()


class JetStreamBroker(Broker):
    def __init__(self, servers: str, *, name: str) -> None:
        self._servers = [s.strip() for s in servers.split(",") if s.strip()]
        self._name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subs: dict[str, JetStreamContext.PullSubscription] = {}
        self._streams: set[str] = set()
        self._connect_task: asyncio.Task[None] | None = None
        self._connected_event = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        try:
            await self._connect_once()
        except (TimeoutError, NoServersError, OSError, NatsTimeoutError) as exc:
            log.warning("nats_unreachable_retrying", error=str(exc))
            self._connect_task = asyncio.create_task(self._connect_forever())

    async def _connect_once(self) -> None:
        async def _disconnected() -> None:
            log.warning("nats_disconnected")

        async def _reconnected() -> None:
            log.info("nats_reconnected")
            self._streams.clear()

        async def _error(exc: Exception) -> None:
            log.debug("nats_error", error=str(exc))

        self._nc = await nats.connect(
            servers=self._servers,
            name=self._name,
            connect_timeout=2,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            disconnected_cb=_disconnected,
            reconnected_cb=_reconnected,
            error_cb=_error,
        )
        self._js = self._nc.jetstream(timeout=5)
        self._connected_event.set()
        log.info("nats_connected", servers=self._servers)

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect_once()
                return
            except (TimeoutError, NoServersError, OSError, NatsTimeoutError):
                delay = min(delay * 2, 5.0)

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def close(self) -> None:
        if self._connect_task:
            self._connect_task.cancel()
        if self._nc is not None and not self._nc.is_closed:
            # Closed, not drained: the consumers are pull subscriptions whose messages are
            # acked one by one (nothing in flight to finish), and publishes wait for their
            # acks; draining waited on a pull subscription's queue that fetches never mark
            # done, so every service took nats-py's 30 s drain timeout to stop (and was
            # killed first by `make run`'s Ctrl-C).
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=1)
            await self._nc.close()

    def _require(self) -> JetStreamContext:
        if self._js is None or not self.connected:
            raise BrokerError("not connected to NATS")
        return self._js

    async def ensure_stream(self, name: str, subjects: list[str], *, max_age: float = 7 * 24 * 3600.0) -> None:
        if name in self._streams:
            return
        js = self._require()
        config = StreamConfig(
            name=name,
            subjects=subjects,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=max_age,
        )
        try:
            await js.add_stream(config)
        except BadRequestError:
            # exists with another configuration (e.g. an older release): bring it up to date
            await js.update_stream(config)
        except Exception as exc:  # noqa: BLE001
            raise BrokerError(f"cannot create stream {name}: {exc}") from exc
        self._streams.add(name)

    async def publish(self, messages: Sequence[OutgoingMessage], *, timeout: float = 5.0) -> None:
        js = self._require()
        futures = []
        try:
            for m in messages:
                headers = dict(m.headers)
                headers["Nats-Msg-Id"] = m.msg_id
                futures.append(await js.publish_async(m.subject, m.data, headers=headers))
            done = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        except (TimeoutError, NatsTimeoutError, ConnectionClosedError) as exc:
            for f in futures:
                f.cancel()
            raise BrokerError(f"publish not acknowledged: {exc!r}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure leaves the outbox rows unsent
            for f in futures:
                f.cancel()
            raise BrokerError(f"publish failed: {exc!r}") from exc
        del done

    async def pull(self, spec: ConsumerSpec, *, batch: int, timeout: float) -> list[IncomingMessage]:
        js = self._require()
        sub = self._subs.get(spec.durable)
        if sub is None:
            config = ConsumerConfig(
                durable_name=spec.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=spec.ack_wait,
                max_ack_pending=10_000,
                filter_subject=spec.filter_subject,
            )
            try:
                await js.consumer_info(spec.stream, spec.durable)
            except NotFoundError:
                await js.add_consumer(spec.stream, config)
            sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
            self._subs[spec.durable] = sub
        try:
            msgs = await sub.fetch(batch, timeout=timeout)
        except (TimeoutError, NatsTimeoutError):
            return []
        return [_JsMessage(m) for m in msgs]
