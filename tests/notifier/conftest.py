from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from bpm_common.events.broker import ConsumerSpec, OutgoingMessage
from bpm_common.events.envelope import Event
from bpm_common.events.inbox import EventConsumer
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.outbox import EventWriter
from bpm_common.events.streams import stream_name, stream_subjects
from bpm_common.testing.plugin import ApiClient, common_settings, service_client, service_database
from services.notifier.app import definition, notification_rules
from services.notifier.deliveries.worker import DeliveryDispatcher
from services.notifier.main import create_app
from services.notifier.notifications.digest import DigestJob
from services.notifier.runtime import EXTRAS_KEY, NotifierRuntime
from services.notifier.settings import NotifierSettings
from tests.notifier.receivers import Receiver, TestCA

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
        self.runtime: NotifierRuntime = client.app.state.ctx.extras[EXTRAS_KEY]
        self.dispatcher = DeliveryDispatcher(
            db, self.runtime.senders, settings, signer=self.runtime.signer
        )
        rules = notification_rules(settings, email_available=self.runtime.senders.email is not None)
        self.digests = DigestJob(db, rules)
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

    async def deliver_batch(self, *events: Event) -> list[str]:
        """Publish the events of one producer, then handle them as one batch (one unit of
        work), as the running consumer does when events pile up; returns each outcome."""
        [service] = {event.service for event in events}
        consumer = self.consumers[service]
        await self.broker.ensure_stream(consumer.spec.stream, stream_subjects(NAMESPACE, service))
        await self.broker.publish(
            [
                OutgoingMessage(
                    event.nats_subject(NAMESPACE),
                    event.to_json().encode(),
                    f"{event.id}-{next(self._copies)}",
                )
                for event in events
            ]
        )
        messages = await self.broker.pull(consumer.spec, batch=len(events) + 10, timeout=0.1)
        return await consumer.handle_batch(messages)

    async def inbox(self, username: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(
            "/api/v1/notifications", params=params, headers=self.client.as_user(username)
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def add_channel(self, name: str, url: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/channels",
            json={"name": name, "url": url, **fields},
            headers=self.client.as_user(*ADMIN),
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def set_preferences(self, username: str, **prefs: Any) -> dict[str, Any]:
        response = await self.client.put(
            "/api/v1/notification-preferences",
            json=prefs,
            headers=self.client.as_user(username),
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


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@dataclass
class ChatNet:
    """Stand-ins for the chat platforms: the outbound proxy (fixed-host platforms), a TLS
    receiver (Teams workflows) and a plain HTTP receiver (generic webhooks)."""

    proxy: Receiver
    tls: Receiver
    plain: Receiver


@pytest.fixture
def chat_net(test_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatNet]:
    """The notifier process configured as a company would: its outbound HTTPS goes through a
    proxy whose TLS-inspecting CA it trusts (the standard variables requests reads)."""
    with (
        Receiver(ca=test_ca) as proxy,
        Receiver(ca=test_ca, tls=True) as tls,
        Receiver() as plain,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca.ca_file))
        for name in ("https_proxy", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield ChatNet(proxy, tls, plain)
