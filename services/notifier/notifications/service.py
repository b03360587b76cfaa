"""Who hears what: the rules that turn runtime events into notifications and deliveries.

Every handler runs in the consumer's unit of work (the inbox row and the effect commit
together) and only writes rows: the notification, an `in_app` delivery recorded as sent,
and a `pending` delivery per outgoing channel that the delivery worker sends after the
commit. Nothing leaves the service from inside the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler, RetryLater
from bpm_common.ids import uuid7
from bpm_common.jsonutil import jsonable
from bpm_common.logging import get_logger
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.deliveries import repository as deliveries
from services.notifier.deliveries.models import Channel, DeliveryStatus
from services.notifier.events import event_uuid, parse_data
from services.notifier.notifications import repository
from services.notifier.notifications.payloads import (
    InstanceCompleted,
    InstanceEnded,
    TaskClosed,
    TaskCreated,
)
from services.notifier.notifications.templates import Kind, render, supported_locale
from services.notifier.org import repository as org

log = get_logger(__name__)

NOTIFICATIONS_CREATED = Counter(
    "bpm_notifications_created_total", "In-app notifications created", ["kind"]
)

TASK_CREATED = "bpm.runtime.task.created"
TASK_COMPLETED = "bpm.runtime.task.completed"
TASK_CANCELLED = "bpm.runtime.task.cancelled"
INSTANCE_COMPLETED = "bpm.runtime.instance.completed"
INSTANCE_TERMINATED = "bpm.runtime.instance.terminated"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Recipient:
    username: str
    locale: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Subject:
    """What a notification is about, shared by all its recipients."""

    kind: Kind
    context: dict[str, Any]
    link: str | None
    task_id: str | None = None
    instance_id: str | None = None
    process_key: str | None = None
    business_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # details for clients, JSON types


@dataclass
class NotificationRules:
    """The runtime event handlers, configured with what the service can deliver."""

    public_url: str
    default_locale: str = "en"
    outgoing_channels: frozenset[str] = frozenset()
    unknown_recipient_grace: dt.timedelta = dt.timedelta(seconds=60)
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    def handlers(self) -> dict[str, Handler]:
        return {
            TASK_CREATED: self.on_task_created,
            TASK_COMPLETED: self.on_task_closed,
            TASK_CANCELLED: self.on_task_closed,
            INSTANCE_COMPLETED: self.on_instance_completed,
            INSTANCE_TERMINATED: self.on_instance_terminated,
        }

    async def on_task_created(self, session: AsyncSession, event: Event) -> None:
        """Tell each person the task is offered to: its assignee, or else every candidate."""
        task = parse_data(TaskCreated, event)
        if await repository.task_is_closed(session, task.task_id):
            log.info("task_already_closed", task_id=task.task_id)
            return
        kind, usernames = await task_audience(session, task)
        subject = Subject(
            kind=kind,
            context={
                "task_name": task.display_name,
                "process_key": task.definition_key,
                "business_key": task.business_key,
                "due_at": task.due_at,
            },
            link=self._link("tasks", task.task_id),
            task_id=task.task_id,
            instance_id=task.instance_id,
            process_key=task.definition_key,
            business_key=task.business_key,
            data=jsonable(
                {
                    "node_id": task.node_id,
                    "definition_version": task.definition_version,
                    "due_at": task.due_at,
                    "candidate_roles": task.candidate_roles,
                    "trial": task.trial,
                }
            ),
        )
        await self._notify(
            session, event, subject, await self._recipients(session, usernames, event)
        )

    async def on_task_closed(self, session: AsyncSession, event: Event) -> None:
        """A completed or cancelled task: its notifications are no longer actionable."""
        closed = parse_data(TaskClosed, event)
        reason = "completed" if event.type == TASK_COMPLETED else "cancelled"
        at = closed.completed_at or closed.cancelled_at or event.time
        await repository.record_task_closure(
            session, closed.task_id, closed.instance_id, reason, at
        )
        resolved = await repository.resolve_task(session, closed.task_id, at)
        await deliveries.cancel_unsent(
            session, resolved, f"the task was {reason} before this was sent"
        )

    async def on_instance_completed(self, session: AsyncSession, event: Event) -> None:
        """Tell the initiator that their process has completed."""
        done = parse_data(InstanceCompleted, event)
        await self._close_instance(session, done.instance_id, done.ended_at or event.time)
        if not done.initiator:
            return
        business_key = await repository.business_key_of_instance(session, done.instance_id)
        subject = Subject(
            kind=Kind.INSTANCE_COMPLETED,
            context={
                "process_key": done.definition_key,
                "version": done.definition_version if done.definition_version is not None else "-",
                "business_key": business_key,
                "started_at": done.started_at,
                "ended_at": done.ended_at or event.time,
            },
            link=self._link("process-instances", done.instance_id),
            instance_id=done.instance_id,
            process_key=done.definition_key,
            business_key=business_key,
            data=jsonable(
                {
                    "definition_version": done.definition_version,
                    "started_at": done.started_at,
                    "ended_at": done.ended_at,
                    "trial": done.trial,
                }
            ),
        )
        await self._notify(
            session, event, subject, await self._recipients(session, [done.initiator], event)
        )

    async def on_instance_terminated(self, session: AsyncSession, event: Event) -> None:
        """A terminated instance leaves nothing to act on."""
        ended = parse_data(InstanceEnded, event)
        await self._close_instance(session, ended.instance_id, event.time)

    async def _close_instance(
        self, session: AsyncSession, instance_id: str, at: dt.datetime
    ) -> None:
        resolved = await repository.resolve_instance(session, instance_id, at)
        await deliveries.cancel_unsent(session, resolved, "the process ended before this was sent")

    async def _recipients(
        self, session: AsyncSession, usernames: Iterable[str], event: Event
    ) -> list[Recipient]:
        """The people to tell, in their language; inactive and deleted people are left out.

        A person the organisation copy does not know yet may be on their way (the designer's
        events travel separately): the event is retried for a while, then the in-app
        notification is made anyway, in the default language and without email.
        """
        names = sorted(set(usernames))
        known = await org.users_by_name(session, names)
        unknown = [n for n in names if n not in known]
        if unknown and self.clock() - event.time < self.unknown_recipient_grace:
            raise RetryLater(f"not yet in the organisation copy: {', '.join(unknown[:10])}")
        out: list[Recipient] = []
        for name in names:
            user = known.get(name)
            if user is None:
                out.append(Recipient(name, self.default_locale, None))
            elif user.reachable:
                out.append(
                    Recipient(name, supported_locale(user.locale, self.default_locale), user.email)
                )
        return out

    async def _notify(
        self, session: AsyncSession, event: Event, subject: Subject, recipients: Sequence[Recipient]
    ) -> None:
        event_id = event_uuid(event)
        now = self.clock()
        for recipient in recipients:
            message = render(subject.kind, recipient.locale, subject.context)
            notification_id = await repository.add_notification(
                session,
                {
                    "id": uuid7(),
                    "recipient": recipient.username,
                    "kind": subject.kind.value,
                    "locale": recipient.locale,
                    "title": message.title,
                    "body": message.body,
                    "link": subject.link,
                    "task_id": subject.task_id,
                    "instance_id": subject.instance_id,
                    "process_key": subject.process_key,
                    "business_key": subject.business_key,
                    "data": subject.data,
                    "event_id": event_id,
                    "event_type": event.type,
                },
            )
            if notification_id is None:
                continue
            NOTIFICATIONS_CREATED.labels(subject.kind.value).inc()
            await deliveries.add_deliveries(
                session, self._delivery_rows(notification_id, event_id, recipient, now)
            )

    def _delivery_rows(
        self,
        notification_id: uuid.UUID,
        event_id: uuid.UUID,
        recipient: Recipient,
        now: dt.datetime,
    ) -> list[dict[str, Any]]:
        common = {
            "notification_id": notification_id,
            "event_id": event_id,
            "recipient": recipient.username,
        }
        rows: list[dict[str, Any]] = [
            {
                **common,
                "id": uuid7(),
                "channel": Channel.IN_APP.value,
                "address": None,
                "status": DeliveryStatus.SENT.value,
                "attempts": 1,
                "sent_at": now,
                "next_attempt_at": None,
            }
        ]
        if Channel.EMAIL.value in self.outgoing_channels and recipient.email:
            rows.append(
                {
                    **common,
                    "id": uuid7(),
                    "channel": Channel.EMAIL.value,
                    "address": recipient.email,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "sent_at": None,
                    "next_attempt_at": now,
                }
            )
        return rows

    def _link(self, collection: str, item_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/{collection}/{quote(item_id, safe='')}"


async def task_audience(session: AsyncSession, task: TaskCreated) -> tuple[Kind, list[str]]:
    """Whom a new task is offered to: the assignee alone, or else the candidate users plus
    every active person holding a candidate role."""
    if task.assignee:
        return Kind.TASK_ASSIGNED, [task.assignee]
    holders = await org.active_usernames_with_roles(session, sorted(set(task.candidate_roles)))
    return Kind.TASK_OFFERED, sorted(set(task.candidate_users) | set(holders))
