"""Runtime events as the runtime publishes them (docs/events.md), and the app they feed."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bpm_common.events.broker import ConsumerSpec, OutgoingMessage
from bpm_common.events.envelope import Event, new_event
from bpm_common.events.inbox import EventConsumer
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.outbox import EventWriter
from bpm_common.events.streams import stream_name, stream_subjects
from bpm_common.ids import new_id
from bpm_common.testing.plugin import ApiClient
from services.metrics.app import definition

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Run:
    """One process instance: each event it makes carries the next `sequence` of the instance."""

    def __init__(
        self,
        key: str,
        *,
        version: int = 1,
        trial: bool = False,
        started_at: dt.datetime = T0,
        initiator: str = "alice",
    ) -> None:
        self.id = new_id()
        self.key, self.version, self.trial = key, version, trial
        self.started_at, self.initiator = started_at, initiator
        self._sequence = itertools.count(1)

    def _event(self, kind: str, data: dict[str, Any]) -> Event:
        return new_event(
            f"bpm.runtime.{kind}",
            self.id,
            {
                "instance_id": self.id,
                "definition_key": self.key,
                "definition_version": self.version,
                **data,
            },
            source="runtime",
            sequence=next(self._sequence),
        )

    def started(self) -> Event:
        return self._event(
            "instance.started",
            {
                "definition_id": new_id(),
                "business_key": f"BK-{self.id[-6:]}",
                "initiator": self.initiator,
                "started_at": iso(self.started_at),
                "trial": self.trial,
            },
        )

    def _ended(self, seconds: float) -> dict[str, Any]:
        return {
            "initiator": self.initiator,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.started_at + dt.timedelta(seconds=seconds)),
            "duration_seconds": seconds,
            "trial": self.trial,
        }

    def completed(self, after_seconds: float) -> Event:
        return self._event("instance.completed", self._ended(after_seconds))

    def terminated(
        self, after_seconds: float, *, actor: str = "admin", reason: str = "withdrawn"
    ) -> Event:
        return self._event(
            "instance.terminated", {**self._ended(after_seconds), "actor": actor, "reason": reason}
        )

    def task_created(
        self,
        task_id: str,
        node_id: str,
        *,
        at_seconds: float = 0,
        due_at: dt.datetime | None = None,
    ) -> Event:
        return self._event(
            "task.created",
            {
                "task_id": task_id,
                "node_id": node_id,
                "name": node_id.replace("_", " ").title(),
                "assignee": None,
                "candidate_users": [],
                "candidate_roles": ["finance_reviewer"],
                "due_at": iso(due_at) if due_at else None,
                "created_at": iso(self.started_at + dt.timedelta(seconds=at_seconds)),
                "initiator": self.initiator,
                "business_key": None,
                "trial": self.trial,
            },
        )

    def task_completed(
        self,
        task_id: str,
        node_id: str,
        *,
        created_seconds: float = 0,
        at_seconds: float,
        actor: str = "carol",
    ) -> Event:
        return self._event(
            "task.completed",
            {
                "task_id": task_id,
                "node_id": node_id,
                "name": node_id.replace("_", " ").title(),
                "actor": actor,
                "created_at": iso(self.started_at + dt.timedelta(seconds=created_seconds)),
                "completed_at": iso(self.started_at + dt.timedelta(seconds=at_seconds)),
                "comment": "ok",
                "trial": self.trial,
            },
        )

    def task_cancelled(self, task_id: str, node_id: str, *, at_seconds: float) -> Event:
        return self._event(
            "task.cancelled",
            {
                "task_id": task_id,
                "node_id": node_id,
                "name": node_id.replace("_", " ").title(),
                "reason": "terminated",
                "cancelled_at": iso(self.started_at + dt.timedelta(seconds=at_seconds)),
            },
        )


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample of a Prometheus text exposition, None when absent."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


NAMESPACE = "bpm"
ANALYST = ("ann", "analyst")


class Metrics:
    """The metrics app, fed with runtime events through its real consumer and handlers."""

    def __init__(self, client: ApiClient, broker: MemoryBroker) -> None:
        self.client, self.broker = client, broker
        [subscription] = definition().subscriptions
        self.consumer = EventConsumer(
            name="metrics-runtime",
            db=client.app.state.db,
            broker=broker,
            writer=EventWriter(definition().metadata, namespace=NAMESPACE),
            spec=ConsumerSpec(
                stream=stream_name(NAMESPACE, "runtime"),
                durable="metrics-runtime",
                filter_subject=f"{NAMESPACE}.runtime.>",
            ),
            handlers=subscription.handlers,
            namespace=NAMESPACE,
        )
        self._copies = itertools.count()

    async def deliver(self, *events: Event) -> list[str]:
        """Publish the events to the runtime's stream in this order; the consumer takes them."""
        await self.broker.ensure_stream(
            self.consumer.spec.stream, stream_subjects(NAMESPACE, "runtime")
        )
        await self.broker.publish(
            [
                # each copy has its own message id: a repeated event reaches the consumer
                OutgoingMessage(
                    e.nats_subject(NAMESPACE), e.to_json().encode(), f"{e.id}-{next(self._copies)}"
                )
                for e in events
            ]
        )
        messages = await self.broker.pull(self.consumer.spec, batch=len(events) + 10, timeout=0.1)
        return [await self.consumer.handle(m) for m in messages]

    async def summary(self, key: str, *, user: tuple[str, ...] = ANALYST, **params: object) -> dict:
        response = await self.client.get(
            f"/api/v1/analytics/processes/{key}/summary",
            params=params,
            headers=self.client.as_user(*user),
        )
        assert response.status_code == 200, response.text
        return response.json()
