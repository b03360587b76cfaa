"""An in-memory broker with JetStream's delivery semantics, for unit tests of handlers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bpm_common.aio import wait_for_event
from bpm_common.events.broker import (
    Broker,
    BrokerError,
    ConsumerSpec,
    IncomingMessage,
    OutgoingMessage,
)


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, part in enumerate(p):
        if part == ">":
            return len(s) > i
        if i >= len(s) or (part != "*" and part != s[i]):
            return False
    return len(p) == len(s)


@dataclass
class _Stored:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


@dataclass
class _Consumer:
    spec: ConsumerSpec
    next_seq: int = 1
    pending: dict[int, tuple[float, int]] = field(default_factory=dict)  # seq -> (redeliver_at, deliveries)


class _MemoryMessage(IncomingMessage):
    def __init__(self, broker: MemoryBroker, consumer: _Consumer, stored: _Stored, deliveries: int) -> None:
        self._broker, self._consumer, self._stored = broker, consumer, stored
        self.subject, self.data, self.headers = stored.subject, stored.data, dict(stored.headers)
        self.num_delivered = deliveries

    async def ack(self) -> None:
        self._consumer.pending.pop(self._stored.seq, None)

    async def term(self) -> None:
        self._consumer.pending.pop(self._stored.seq, None)

    async def nak(self, delay: float | None = None) -> None:
        if self._stored.seq in self._consumer.pending:
            _, n = self._consumer.pending[self._stored.seq]
            self._consumer.pending[self._stored.seq] = (time.monotonic() + (delay or 0.0), n)


class MemoryBroker(Broker):
    def __init__(self) -> None:
        self._streams: dict[str, tuple[list[str], list[_Stored]]] = {}
        self._consumers: dict[str, _Consumer] = {}
        self._seen_ids: dict[str, float] = {}
        self._seq = 0
        self.up = True
        self._new_message = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.up

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ensure_stream(self, name: str, subjects: list[str], *, max_age: float = 0.0) -> None:
        if not self.up:
            raise BrokerError("broker down")
        self._streams.setdefault(name, (subjects, []))

    def messages(self, stream: str) -> list[_Stored]:
        return list(self._streams.get(stream, ([], []))[1])

    async def publish(self, messages: Sequence[OutgoingMessage], *, timeout: float = 5.0) -> None:
        if not self.up:
            raise BrokerError("broker down")
        for m in messages:
            if m.msg_id in self._seen_ids:
                continue
            target = next(
                (log for subjects, log in self._streams.values() if any(_matches(p, m.subject) for p in subjects)),
                None,
            )
            if target is None:
                raise BrokerError(f"no stream for subject {m.subject}")
            self._seq += 1
            self._seen_ids[m.msg_id] = time.monotonic()
            target.append(_Stored(self._seq, m.subject, m.data, {**m.headers, "Nats-Msg-Id": m.msg_id}))
        self._new_message.set()

    async def pull(self, spec: ConsumerSpec, *, batch: int, timeout: float) -> list[IncomingMessage]:
        if not self.up:
            raise BrokerError("broker down")
        consumer = self._consumers.setdefault(spec.durable, _Consumer(spec))
        deadline = time.monotonic() + timeout
        while True:
            out = self._collect(consumer, batch)
            if out or time.monotonic() >= deadline:
                return out
            self._new_message.clear()
            await wait_for_event(self._new_message, min(0.05, max(deadline - time.monotonic(), 0)))

    def _collect(self, consumer: _Consumer, batch: int) -> list[IncomingMessage]:
        _, log = self._streams.get(consumer.spec.stream, ([], []))
        by_seq = {s.seq: s for s in log}
        now = time.monotonic()
        out: list[IncomingMessage] = []
        for seq, (redeliver_at, n) in sorted(consumer.pending.items()):
            if len(out) >= batch:
                return out
            if redeliver_at <= now:
                consumer.pending[seq] = (now + consumer.spec.ack_wait, n + 1)
                out.append(_MemoryMessage(self, consumer, by_seq[seq], n + 1))
        for stored in log:
            if len(out) >= batch:
                break
            if stored.seq < consumer.next_seq:
                continue
            consumer.next_seq = stored.seq + 1
            if not _matches(consumer.spec.filter_subject, stored.subject):
                continue
            consumer.pending[stored.seq] = (now + consumer.spec.ack_wait, 1)
            out.append(_MemoryMessage(self, consumer, stored, 1))
        return out
