"""The broker interface, so handlers and the relay run against JetStream or in memory.

JetStream is the production implementation; `MemoryBroker` keeps the same
delivery semantics (durable consumers, ack, nak with delay, term, redelivery
after the ack wait, duplicate suppression by message id) for unit tests of
handlers that need no server.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field


class BrokerError(Exception):
    """Publishing or fetching failed; the caller retries later."""


@dataclass(slots=True)
class OutgoingMessage:
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str] = field(default_factory=dict)


class IncomingMessage(abc.ABC):
    subject: str
    data: bytes
    headers: dict[str, str]
    num_delivered: int

    @abc.abstractmethod
    async def ack(self) -> None: ...

    @abc.abstractmethod
    async def nak(self, delay: float | None = None) -> None: ...

    @abc.abstractmethod
    async def term(self) -> None: ...


@dataclass(slots=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    ack_wait: float = 30.0


class Broker(abc.ABC):
    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (retrying in the background if the server is not reachable yet)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ensure_stream(self, name: str, subjects: list[str], *, max_age: float = 7 * 24 * 3600.0) -> None:
        """Create the stream (or bring its configuration up to date); max_age 0 keeps events for ever."""

    @abc.abstractmethod
    async def publish(self, messages: Sequence[OutgoingMessage], *, timeout: float = 5.0) -> None:
        """Publish all messages and wait until the server stored each; raise BrokerError otherwise."""

    @abc.abstractmethod
    async def pull(self, spec: ConsumerSpec, *, batch: int, timeout: float) -> list[IncomingMessage]:
        """Fetch up to `batch` messages for the durable consumer (created if missing)."""
