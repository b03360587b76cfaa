"""Runtime events as the runtime publishes them (docs/events.md), and the app they feed."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
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
        department: str | None = "sales",
    ) -> None:
        self.id = new_id()
        self.key, self.version, self.trial = key, version, trial
        self.started_at, self.initiator, self.department = started_at, initiator, department
        self._sequence = itertools.count(1)

    def at(self, seconds: float) -> dt.datetime:
        return self.started_at + dt.timedelta(seconds=seconds)

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
                "initiator_department": self.department,
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

    def completed(
        self,
        after_seconds: float,
        *,
        result: str | None = "approved",
        satisfaction: object = None,
    ) -> Event:
        return self._event(
            "instance.completed",
            {**self._ended(after_seconds), "result": result, "satisfaction": satisfaction},
        )

    def terminated(
        self, after_seconds: float, *, actor: str = "admin", reason: str = "duplicate request"
    ) -> Event:
        return self._event(
            "instance.terminated", {**self._ended(after_seconds), "actor": actor, "reason": reason}
        )

    def withdrawn(self, after_seconds: float, *, reason: str = "no longer needed") -> Event:
        return self._event(
            "instance.withdrawn",
            {**self._ended(after_seconds), "actor": self.initiator, "reason": reason},
        )

    def _task(self, task_id: str, node_id: str) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "node_id": node_id,
            "name": node_id.replace("_", " ").title(),
            "trial": self.trial,
            "initiator": self.initiator,
            "business_key": None,
        }

    def task_assigned(
        self,
        task_id: str,
        node_id: str,
        *,
        at_seconds: float,
        kind: str = "claim",
        assignee: str | None = "carol",
        previous: str | None = None,
    ) -> Event:
        return self._event(
            "task.assigned",
            {
                **self._task(task_id, node_id),
                "assignee": assignee,
                "previous_assignee": previous,
                "owner": None,
                "kind": kind,
                "actor": assignee or previous,
                "reason": None,
                "at": iso(self.at(at_seconds)),
            },
        )

    def task_returned(
        self,
        task_id: str,
        node_id: str,
        *,
        at_seconds: float,
        reason: str | None = "receipt missing",
        target: str = "submit",
        actor: str = "carol",
    ) -> Event:
        return self._event(
            "task.returned",
            {
                **self._task(task_id, node_id),
                "actor": actor,
                "reason": reason,
                "target_node_id": target,
                "target_node_name": target.title(),
                "at": iso(self.at(at_seconds)),
            },
        )

    def task_overdue(
        self, task_id: str, node_id: str, *, at_seconds: float, due_at: dt.datetime
    ) -> Event:
        return self._event(
            "task.overdue",
            {
                **self._task(task_id, node_id),
                "assignee": None,
                "candidate_users": [],
                "candidate_roles": ["finance_reviewer"],
                "due_at": iso(due_at),
                "at": iso(self.at(at_seconds)),
                "action": "none",
            },
        )

    def task_created(
        self,
        task_id: str,
        node_id: str,
        *,
        at_seconds: float = 0,
        due_at: dt.datetime | None = None,
        assignee: str | None = None,
    ) -> Event:
        return self._event(
            "task.created",
            {
                "task_id": task_id,
                "node_id": node_id,
                "name": node_id.replace("_", " ").title(),
                "assignee": assignee,
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
        outcome: str | None = None,
        comment: str | None = "ok",
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
                "comment": comment,
                "outcome": outcome,
                "trial": self.trial,
            },
        )

    def task_cancelled(
        self, task_id: str, node_id: str, *, at_seconds: float, reason: str = "terminated"
    ) -> Event:
        return self._event(
            "task.cancelled",
            {
                "task_id": task_id,
                "node_id": node_id,
                "name": node_id.replace("_", " ").title(),
                "reason": reason,
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
    """The metrics app, fed with events through its real consumers and handlers."""

    def __init__(self, client: ApiClient, broker: MemoryBroker) -> None:
        self.client, self.broker = client, broker
        service = definition()
        self.consumers = {
            sub.producer: EventConsumer(
                name=f"metrics-{sub.producer}",
                db=client.app.state.db,
                broker=broker,
                writer=EventWriter(service.metadata, namespace=NAMESPACE),
                spec=ConsumerSpec(
                    stream=stream_name(NAMESPACE, sub.producer),
                    durable=f"metrics-{sub.producer}",
                    filter_subject=f"{NAMESPACE}.{sub.producer}.>",
                ),
                handlers=sub.handlers,
                namespace=NAMESPACE,
            )
            for sub in service.subscriptions
        }
        self._copies = itertools.count()

    async def deliver(self, *events: Event) -> list[str]:
        """Publish the events in this order to their producers' streams; the consumers take them.

        Consecutive events of one producer are published together, then pulled and handled.
        """
        outcomes: list[str] = []
        for producer, batch in itertools.groupby(events, key=lambda e: e.service):
            outcomes += await self._deliver(producer, list(batch))
        return outcomes

    async def deliver_batch(self, *events: Event) -> list[str]:
        """Publish events of one producer; its consumer takes them all in one unit of work
        (`handle_batch`), as it does under load."""
        [producer] = {e.service for e in events}
        consumer = await self._publish(producer, list(events))
        messages = await self.broker.pull(consumer.spec, batch=len(events) + 10, timeout=0.1)
        return await consumer.handle_batch(messages)

    async def _deliver(self, producer: str, events: list[Event]) -> list[str]:
        consumer = await self._publish(producer, events)
        messages = await self.broker.pull(consumer.spec, batch=len(events) + 10, timeout=0.1)
        return [await consumer.handle(m) for m in messages]

    async def _publish(self, producer: str, events: list[Event]) -> EventConsumer:
        consumer = self.consumers[producer]
        await self.broker.ensure_stream(consumer.spec.stream, stream_subjects(NAMESPACE, producer))
        await self.broker.publish(
            [
                # each copy has its own message id: a repeated event reaches the consumer
                OutgoingMessage(
                    e.nats_subject(NAMESPACE), e.to_json().encode(), f"{e.id}-{next(self._copies)}"
                )
                for e in events
            ]
        )
        return consumer

    async def get(self, path: str, *, user: tuple[str, ...] = ANALYST, **params: object) -> Any:
        """GET an API path as `user`; the JSON answer (asserting 200)."""
        response = await self.client.get(path, params=params, headers=self.client.as_user(*user))
        assert response.status_code == 200, response.text
        return response.json()

    async def summary(self, key: str, *, user: tuple[str, ...] = ANALYST, **params: object) -> dict:
        response = await self.client.get(
            f"/api/v1/analytics/processes/{key}/summary",
            params=params,
            headers=self.client.as_user(*user),
        )
        assert response.status_code == 200, response.text
        return response.json()


def published(key: str, version: int, bpmn: bytes, *, sequence: int = 1) -> Event:
    """The designer's announcement of a published version, carrying its BPMN."""
    definition_id = new_id()
    return new_event(
        "bpm.designer.definition.published",
        definition_id,
        {
            "id": definition_id,
            "key": key,
            "version": version,
            "name": key,
            "status": "published",
            "trial_roles": [],
            "published_at": iso(dt.datetime.now(dt.UTC)),
            "published_by": "designer",
            "bpmn_gzip_b64": base64.b64encode(gzip.compress(bpmn)).decode(),
        },
        source="designer",
        sequence=sequence,
    )
