from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
from bpm_common.events.broker import ConsumerSpec, OutgoingMessage
from bpm_common.events.envelope import Event
from bpm_common.events.inbox import EventConsumer
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.outbox import EventWriter
from bpm_common.events.streams import stream_name, stream_subjects
from bpm_common.testing.plugin import ApiClient, common_settings, service_client, service_database

from services.notifier.app import definition
from services.notifier.deliveries.channels import build_senders
from services.notifier.deliveries.worker import DeliveryDispatcher
from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings

NAMESPACE = "bpm"
PUBLIC_URL = "https://bpm.example.com"
ADMIN = ("admin", "admin")


class Notifier:
    """The notifier app, fed with events through its real consumers and handlers."""

    def __init__(self, client: ApiClient, broker: MemoryBroker, settings: NotifierSettings) -> None:
        self.client, self.broker, self.settings = client, broker, settings
        service = definition(settings)
        db = client.app.state.db
        writer = EventWriter(service.metadata, namespace=NAMESPACE)
        self.consumers = {
            sub.producer: EventConsumer(
                name=f"notifier-{sub.producer}",
                db=db,
                broker=broker,
                writer=writer,
                spec=ConsumerSpec(
                    stream=stream_name(NAMESPACE, sub.producer),
                    durable=f"notifier-{sub.producer}",
                    filter_subject=f"{NAMESPACE}.{sub.producer}.{sub.subject_filter}",
                    ack_wait=3600,
                ),
                handlers=sub.handlers,
                namespace=NAMESPACE,
            )
            for sub in service.subscriptions
        }
        self.dispatcher = DeliveryDispatcher(db, build_senders(settings), settings)
        self._copies = itertools.count()

    async def deliver(self, *events: Event) -> list[str]:
        """Publish each event to its producer's stream, in order; returns each handling outcome."""
        outcomes: list[str] = []
        for event in events:
            consumer = self.consumers[event.service]
            await self.broker.ensure_stream(
                consumer.spec.stream, stream_subjects(NAMESPACE, event.service)
            )
            # every copy has its own message id, so a repeated event reaches the consumer again
            await self.broker.publish(
                [
                    OutgoingMessage(
                        event.nats_subject(NAMESPACE),
                        event.to_json().encode(),
                        f"{event.id}-{next(self._copies)}",
                    )
                ]
            )
            messages = await self.broker.pull(consumer.spec, batch=10, timeout=0.1)
            outcomes += [await consumer.handle(m) for m in messages]
        return outcomes

    async def inbox(self, username: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(
            "/api/v1/notifications", params=params, headers=self.client.as_user(username)
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/deliveries",
            params={"limit": 200, **params},
            headers=self.client.as_user(*ADMIN),
        )
        assert response.status_code == 200, response.text
        return response.json()["items"]


NotifierFactory = Callable[..., Any]


@pytest_asyncio.fixture(loop_scope="session")
async def open_notifier(pg_url, run_prefix, token_for) -> NotifierFactory:
    """`async with open_notifier(smtp_url=...) as notifier:` a notifier with those settings."""
    sdb = await service_database(definition(), pg_url, run_prefix)

    @asynccontextmanager
    async def _open(**settings: Any) -> AsyncIterator[Notifier]:
        common = common_settings(pg_url, public_url=PUBLIC_URL)
        notifier_settings = NotifierSettings(common=common, **settings)
        async with sdb.rolled_back() as db:
            broker = MemoryBroker()
            app = create_app(notifier_settings, db=db, broker=broker)
            async with service_client(app, token_for) as client:
                yield Notifier(client, broker, notifier_settings)

    return _open


@pytest_asyncio.fixture(loop_scope="session")
async def notifier(open_notifier) -> AsyncIterator[Notifier]:
    """A notifier without email (no SMTP server configured)."""
    async with open_notifier(smtp_url=None) as n:
        yield n
