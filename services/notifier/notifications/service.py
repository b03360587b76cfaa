"""Who hears what: the rules that turn runtime events into notifications and deliveries.

| event                              | kind               | who hears it                      |
|------------------------------------|--------------------|-----------------------------------|
| task.created                       | task_assigned,     | the assignee, else the candidates |
|                                    | task_offered       |                                   |
| task.assigned (transfer, ...)      | task_assigned      | the new assignee (not on a claim) |
| task.due_soon, task.overdue        | task_due_soon,     | the task's assignee or candidates |
|                                    | task_overdue       |                                   |
| task.escalated                     | task_escalated     | `escalated_to`, else the manager  |
| task.urged                         | task_urged         | the task's assignee or candidates |
| task.completed, outcome reject     | task_rejected      | the initiator                     |
| task.returned                      | task_returned      | the initiator                     |
| instance.withdrawn                 | instance_withdrawn | whose open tasks went with it     |
| copy.created                       | copied             | the copy's recipients             |
| instance.completed                 | instance_completed | the initiator                     |
| incident.created                   | incident           | every active administrator        |

Every handler runs in the consumer's unit of work (the inbox row and the effect commit
together) and only writes rows: the notification (announced to open event streams on
commit), an `in_app` delivery recorded as sent, and a `pending` (or, in the person's
quiet hours, `held`) delivery per outgoing channel the person's preferences choose, which
the delivery worker sends after the commit. Nothing leaves the service from inside the
transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import Handler, RetryLater
from bpm_common.ids import uuid7
from bpm_common.jsonutil import jsonable
from bpm_common.logging import get_logger
from services.notifier.channels import repository as channel_configs
from services.notifier.channels.repository import DeliveryTarget
from services.notifier.deliveries.models import (
    EMAIL_CHANNEL,
    IN_APP_CHANNEL,
    ChannelKind,
    DeliveryStatus,
)
from services.notifier.events import event_uuid, parse_data
from services.notifier.notifications import repository
from services.notifier.notifications.kinds import URGENT_KINDS, Kind
from services.notifier.notifications.payloads import (
    CopyCreated,
    IncidentCreated,
    InstanceCompleted,
    InstanceEnded,
    InstanceWithdrawn,
    TaskAssigned,
    TaskClosed,
    TaskCreated,
    TaskEscalated,
    TaskReminder,
    TaskReturned,
)
from services.notifier.notifications.repository import TaskRow
from services.notifier.notifications.templates import Message, inbox_message, supported_locale
from services.notifier.notifications.writes import Unkeyed
from services.notifier.org import repository as org
from services.notifier.org.repository import Person
from services.notifier.preferences.rules import Effective

log = get_logger(__name__)

P = "bpm.runtime."
TASK_CREATED = P + "task.created"
TASK_ASSIGNED = P + "task.assigned"
TASK_COMPLETED = P + "task.completed"
TASK_CANCELLED = P + "task.cancelled"
TASK_RETURNED = P + "task.returned"
TASK_DUE_SOON = P + "task.due_soon"
TASK_OVERDUE = P + "task.overdue"
TASK_ESCALATED = P + "task.escalated"
TASK_URGED = P + "task.urged"
COPY_CREATED = P + "copy.created"
INSTANCE_COMPLETED = P + "instance.completed"
INSTANCE_TERMINATED = P + "instance.terminated"
INSTANCE_WITHDRAWN = P + "instance.withdrawn"
INCIDENT_CREATED = P + "incident.created"

ADMIN_ROLE = "admin"
_REMINDER_KINDS = {
    TASK_DUE_SOON: Kind.TASK_DUE_SOON,
    TASK_OVERDUE: Kind.TASK_OVERDUE,
    TASK_URGED: Kind.TASK_URGED,
}
#: task.assigned kinds that tell the new assignee (a claim is the person's own doing)
_HANDOVERS = {"transfer", "delegate", "resolve", "reassign", "escalation"}


#: the text of a notification whose business key is filled in when it is written
_UNWRITTEN = Message(title="", body="")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Recipient:
    username: str
    locale: str
    email: str | None
    prefs: Effective = field(default_factory=Effective)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a notification is about, shared by all its recipients."""

    kind: Kind
    context: dict[str, Any]  # the template variables (JSON values)
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
    email_available: bool = False
    unknown_recipient_grace: dt.timedelta = dt.timedelta(seconds=60)
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    def handlers(self) -> dict[str, Handler]:
        return {
            TASK_CREATED: self.on_task_created,
            TASK_ASSIGNED: self.on_task_assigned,
            TASK_COMPLETED: self.on_task_completed,
            TASK_CANCELLED: self.on_task_cancelled,
            TASK_RETURNED: self.on_task_returned,
            TASK_DUE_SOON: self.on_task_reminder,
            TASK_OVERDUE: self.on_task_reminder,
            TASK_URGED: self.on_task_reminder,
            TASK_ESCALATED: self.on_task_escalated,
            COPY_CREATED: self.on_copy_created,
            INSTANCE_COMPLETED: self.on_instance_completed,
            INSTANCE_TERMINATED: self.on_instance_terminated,
            INSTANCE_WITHDRAWN: self.on_instance_withdrawn,
            INCIDENT_CREATED: self.on_incident_created,
        }

    # -- tasks ----------------------------------------------------------------------------

    async def on_task_created(self, session: AsyncSession, event: Event) -> None:
        """Tell each person the task is offered to: its assignee, or else every candidate."""
        task = parse_data(TaskCreated, event)
        opened = await repository.open_task(
            session,
            TaskRow(
                task_id=task.task_id,
                instance_id=task.instance_id,
                name=task.display_name,
                definition_key=task.definition_key,
                business_key=task.business_key,
                initiator=task.initiator,
                assignee=task.assignee,
                candidate_users=sorted(set(task.candidate_users)),
                candidate_roles=sorted(set(task.candidate_roles)),
                due_at=task.due_at,
                created_at=task.created_at or event.time,
            ),
        )
        if not opened:
            log.info("task_already_closed", task_id=task.task_id)
            return
        kind, usernames = await task_audience(
            session, task.assignee, task.candidate_users, task.candidate_roles
        )
        subject = self._task_subject(
            kind,
            task_id=task.task_id,
            instance_id=task.instance_id,
            name=task.display_name,
            process_key=task.definition_key,
            business_key=task.business_key,
            due_at=task.due_at,
            data={
                "node_id": task.node_id,
                "definition_version": task.definition_version,
                "due_at": task.due_at,
                "candidate_roles": task.candidate_roles,
                "trial": task.trial,
            },
        )
        try:
            await self._notify(session, event, subject, usernames, unless_closed=task.task_id)
        except RetryLater:
            # the task was recorded as open assuming it had no closure; with one, there is
            # nobody to wait for
            if await repository.task_is_closed(session, task.task_id):
                return
            raise

    async def on_task_assigned(self, session: AsyncSession, event: Event) -> None:
        """A task handed to someone (transfer, delegation, ...): the new assignee hears it."""
        change = parse_data(TaskAssigned, event)
        at = change.at or event.time
        task = await repository.reassign_open_task(session, change.task_id, change.assignee)
        if change.previous_assignee and change.previous_assignee != change.assignee:
            await repository.resolve_task_for(
                session,
                change.task_id,
                change.previous_assignee,
                at,
                "the task went to someone else",
            )
        if (
            not change.assignee
            or change.kind not in _HANDOVERS
            or change.actor == change.assignee
            or await repository.task_is_closed(session, change.task_id)
        ):
            return
        subject = self._task_subject(
            Kind.TASK_ASSIGNED,
            task_id=change.task_id,
            instance_id=change.instance_id,
            name=_name(change.name, task, change.node_id, change.task_id),
            process_key=change.definition_key or (task.definition_key if task else None),
            business_key=change.business_key or (task.business_key if task else None),
            due_at=task.due_at if task else None,
            extra={"assigned_by": change.actor, "reason": change.reason},
            data={"node_id": change.node_id, "assignment": change.kind, "actor": change.actor},
        )
        await self._notify(session, event, subject, [change.assignee])

    async def on_task_completed(self, session: AsyncSession, event: Event) -> None:
        """The task is closed; a rejection is told to the initiator."""
        done = parse_data(TaskClosed, event)
        rejected = done.outcome == "reject"
        at = done.completed_at or event.time
        task = await self._close_task(session, done, "completed", at, known=rejected)
        if not rejected:
            return
        initiator = done.initiator or (task.initiator if task else None)
        if not initiator or initiator == done.actor:
            return
        subject = self._task_subject(
            Kind.TASK_REJECTED,
            task_id=done.task_id,
            instance_id=done.instance_id,
            name=_name(done.name, task, done.node_id, done.task_id),
            process_key=done.definition_key or (task.definition_key if task else None),
            business_key=done.business_key or (task.business_key if task else None),
            due_at=None,
            link=self._link("process-instances", done.instance_id) if done.instance_id else None,
            extra={"actor": done.actor, "comment": done.comment},
            data={"node_id": done.node_id, "actor": done.actor, "outcome": done.outcome},
        )
        await self._notify(session, event, subject, [initiator])

    async def on_task_cancelled(self, session: AsyncSession, event: Event) -> None:
        closed = parse_data(TaskClosed, event)
        await self._close_task(session, closed, "cancelled", closed.cancelled_at or event.time)

    async def on_task_returned(self, session: AsyncSession, event: Event) -> None:
        """Sent back to an earlier step: the initiator hears why (the step's new task is a
        `task.created` of its own)."""
        returned = parse_data(TaskReturned, event)
        task = await repository.get_open_task(session, returned.task_id)
        initiator = returned.initiator or (task.initiator if task else None)
        if not initiator or initiator == returned.actor:
            return
        subject = self._task_subject(
            Kind.TASK_RETURNED,
            task_id=returned.task_id,
            instance_id=returned.instance_id,
            name=_name(returned.name, task, returned.node_id, returned.task_id),
            process_key=returned.definition_key or (task.definition_key if task else None),
            business_key=returned.business_key or (task.business_key if task else None),
            due_at=None,
            link=self._link("process-instances", returned.instance_id),
            extra={
                "actor": returned.actor,
                "reason": returned.reason,
                "target_name": returned.target_node_name or returned.target_node_id,
            },
            data={"node_id": returned.node_id, "target_node_id": returned.target_node_id},
        )
        await self._notify(session, event, subject, [initiator])

    async def on_task_reminder(self, session: AsyncSession, event: Event) -> None:
        """Due soon, overdue or urged: everyone who may work the task hears it."""
        reminder = parse_data(TaskReminder, event)
        if await repository.task_is_closed(session, reminder.task_id):
            return
        task = await repository.get_open_task(session, reminder.task_id)
        kind = _REMINDER_KINDS[event.type]
        _, usernames = await task_audience(
            session,
            reminder.assignee or (task.assignee if task else None),
            reminder.candidate_users or (task.candidate_users if task else []),
            reminder.candidate_roles or (task.candidate_roles if task else []),
        )
        if kind is Kind.TASK_URGED:
            usernames = [u for u in usernames if u != reminder.actor]
        subject = self._task_subject(
            kind,
            task_id=reminder.task_id,
            instance_id=reminder.instance_id,
            name=_name(reminder.name, task, reminder.node_id, reminder.task_id),
            process_key=reminder.definition_key or (task.definition_key if task else None),
            business_key=reminder.business_key or (task.business_key if task else None),
            due_at=reminder.due_at or (task.due_at if task else None),
            extra={"actor": reminder.actor, "message": reminder.message},
            data={
                "node_id": reminder.node_id,
                "due_at": reminder.due_at,
                "action": reminder.action,
            },
        )
        await self._notify(session, event, subject, usernames)

    async def on_task_escalated(self, session: AsyncSession, event: Event) -> None:
        """A missed deadline escalated: to the people named, else to the assignee's manager."""
        escalated = parse_data(TaskEscalated, event)
        if await repository.task_is_closed(session, escalated.task_id):
            return
        task = await repository.get_open_task(session, escalated.task_id)
        assignee = escalated.assignee or (task.assignee if task else None)
        usernames = list(escalated.escalated_to)
        if not usernames and assignee:
            manager = await org.manager_of(session, assignee)
            usernames = [manager] if manager else []
        if not usernames:
            log.warning("escalation_without_recipient", task_id=escalated.task_id)
            return
        subject = self._task_subject(
            Kind.TASK_ESCALATED,
            task_id=escalated.task_id,
            instance_id=escalated.instance_id,
            name=_name(escalated.name, task, escalated.node_id, escalated.task_id),
            process_key=escalated.definition_key or (task.definition_key if task else None),
            business_key=escalated.business_key or (task.business_key if task else None),
            due_at=escalated.due_at or (task.due_at if task else None),
            extra={"assignee": assignee, "level": escalated.level},
            data={"node_id": escalated.node_id, "assignee": assignee, "level": escalated.level},
        )
        await self._notify(session, event, subject, usernames)

    async def _close_task(
        self,
        session: AsyncSession,
        closed: TaskClosed,
        reason: str,
        at: dt.datetime,
        *,
        known: bool = False,
    ) -> TaskRow | None:
        """A completed or cancelled task: its notifications are no longer actionable.
        With `known`, returns the open task as it was known."""
        return await repository.close_task(
            session,
            closed.task_id,
            closed.instance_id,
            reason,
            at,
            f"the task was {reason} before this was sent",
            known=known,
        )

    # -- instances, copies, incidents -----------------------------------------------------

    async def on_copy_created(self, session: AsyncSession, event: Event) -> None:
        """A carbon copy (抄送): each recipient hears about the request."""
        copy = parse_data(CopyCreated, event)
        business_key = copy.business_key
        subject = Subject(
            kind=Kind.COPIED,
            context={
                "process_key": copy.definition_key,
                "business_key": business_key,
                "actor": copy.actor,
                "message": copy.message,
                "node_name": copy.name or copy.node_id,
            },
            link=self._link("process-instances", copy.instance_id),
            instance_id=copy.instance_id,
            process_key=copy.definition_key,
            business_key=business_key,
            data=jsonable({"copy_id": copy.copy_id, "node_id": copy.node_id, "actor": copy.actor}),
        )
        await self._notify(
            session,
            event,
            subject,
            copy.recipients,
            business_key_of=None if business_key else copy.instance_id,
        )

    async def on_instance_completed(self, session: AsyncSession, event: Event) -> None:
        """Tell the initiator that their process has completed (or ended rejected)."""
        done = parse_data(InstanceCompleted, event)
        await self._close_instance(session, done.instance_id, done.ended_at or event.time)
        if not done.initiator:
            return
        if done.result == "rejected" and await repository.has_rejection_notice(
            session, done.instance_id, done.initiator
        ):
            return  # they already heard who rejected it and why
        business_key = done.business_key
        subject = Subject(
            kind=Kind.INSTANCE_COMPLETED,
            context=jsonable(
                {
                    "process_key": done.definition_key,
                    "version": done.definition_version
                    if done.definition_version is not None
                    else "-",
                    "business_key": business_key,
                    "started_at": done.started_at,
                    "ended_at": done.ended_at or event.time,
                    "result": done.result,
                }
            ),
            link=self._link("process-instances", done.instance_id),
            instance_id=done.instance_id,
            process_key=done.definition_key,
            business_key=business_key,
            data=jsonable(
                {
                    "definition_version": done.definition_version,
                    "started_at": done.started_at,
                    "ended_at": done.ended_at,
                    "result": done.result,
                    "trial": done.trial,
                }
            ),
        )
        await self._notify(
            session,
            event,
            subject,
            [done.initiator],
            business_key_of=None if business_key else done.instance_id,
        )

    async def on_instance_terminated(self, session: AsyncSession, event: Event) -> None:
        """A terminated instance leaves nothing to act on."""
        ended = parse_data(InstanceEnded, event)
        await self._close_instance(session, ended.instance_id, event.time)

    async def on_instance_withdrawn(self, session: AsyncSession, event: Event) -> None:
        """The initiator withdrew: the people whose tasks went with it hear it."""
        withdrawn = parse_data(InstanceWithdrawn, event)
        tasks = await repository.open_tasks_of_instance(session, withdrawn.instance_id)
        first_task: dict[str, TaskRow] = {}
        for task in tasks:
            _, usernames = await task_audience(
                session, task.assignee, task.candidate_users, task.candidate_roles
            )
            for username in usernames:
                first_task.setdefault(username, task)
        ended = withdrawn.ended_at or event.time
        await self._close_instance(session, withdrawn.instance_id, ended)
        recipients = [u for u in first_task if u != withdrawn.actor]
        if not recipients:
            return
        sample = next(iter(first_task.values()))
        process_key = withdrawn.definition_key or sample.definition_key
        business_key = withdrawn.business_key or sample.business_key
        for task_name, group in _by_task_name(recipients, first_task).items():
            subject = Subject(
                kind=Kind.INSTANCE_WITHDRAWN,
                context={
                    "process_key": process_key,
                    "business_key": business_key,
                    "actor": withdrawn.actor,
                    "reason": withdrawn.reason,
                    "task_name": task_name,
                },
                link=self._link("process-instances", withdrawn.instance_id),
                instance_id=withdrawn.instance_id,
                process_key=process_key,
                business_key=business_key,
                data={"actor": withdrawn.actor},
            )
            await self._notify(session, event, subject, group)

    async def on_incident_created(self, session: AsyncSession, event: Event) -> None:
        """A stuck instance, or a timer start that could not start one (no instance): every
        active administrator hears it at once."""
        incident = parse_data(IncidentCreated, event)
        admins = await org.active_usernames_with_roles(session, [ADMIN_ROLE])
        subject = Subject(
            kind=Kind.INCIDENT,
            context=jsonable(
                {
                    "process_key": incident.definition_key or "-",
                    "definition_version": incident.definition_version,
                    "node_id": incident.node_id,
                    "instance_id": incident.instance_id,
                    "message": incident.message,
                    "at": incident.at or event.time,
                }
            ),
            link=self._link("process-instances", incident.instance_id) if incident.instance_id else None,
            instance_id=incident.instance_id,
            process_key=incident.definition_key,
            data={"incident_id": incident.incident_id, "node_id": incident.node_id},
        )
        await self._notify(session, event, subject, admins)

    async def _close_instance(
        self, session: AsyncSession, instance_id: str, at: dt.datetime
    ) -> None:
        await repository.close_instance(
            session, instance_id, at, "the process ended before this was sent"
        )

    # -- making notifications -------------------------------------------------------------

    def _task_subject(
        self,
        kind: Kind,
        *,
        task_id: str,
        instance_id: str | None,
        name: str,
        process_key: str | None,
        business_key: str | None,
        due_at: dt.datetime | None,
        data: dict[str, Any],
        extra: dict[str, Any] | None = None,
        link: str | None = None,
    ) -> Subject:
        return Subject(
            kind=kind,
            context=jsonable(
                {
                    "task_name": name,
                    "process_key": process_key or "-",
                    "business_key": business_key,
                    "due_at": due_at,
                    **(extra or {}),
                }
            ),
            link=link or self._link("tasks", task_id),
            task_id=task_id,
            instance_id=instance_id,
            process_key=process_key,
            business_key=business_key,
            data=jsonable(data),
        )

    async def _notify(
        self,
        session: AsyncSession,
        event: Event,
        subject: Subject,
        usernames: Iterable[str],
        *,
        unless_closed: str | None = None,
        business_key_of: str | None = None,
    ) -> None:
        """`notify` the known people among `usernames` (`RetryLater` while one is not in the
        organisation copy yet)."""
        recipients = await self._recipients(session, usernames, event)
        if not recipients:
            return
        await self.notify(
            session,
            event_uuid(event),
            event.type,
            subject,
            recipients,
            unless_closed=unless_closed,
            business_key_of=business_key_of,
        )

    async def notify(
        self,
        session: AsyncSession,
        event_id: uuid.UUID,
        event_type: str,
        subject: Subject,
        recipients: Sequence[Recipient],
        *,
        unless_closed: str | None = None,
        business_key_of: str | None = None,
    ) -> None:
        """One notification per recipient, in their language, with its deliveries; written
        (and announced to open event streams) with the unit of work's other writes; with
        `unless_closed`, only if that task, just recorded as open, had no closure. With
        `business_key_of` (an instance id), the subject's business key is the one an earlier
        notification of that instance carried, if any: it is filled in, with the texts,
        when the notifications are written (`writes.Unkeyed`)."""
        now = self.clock()
        configs = await channel_configs.delivery_targets(session)
        context = {**subject.context, "link": subject.link}
        # people with the same language and time zone read the same text: render it once
        messages: dict[tuple[str, str | None], Message] = {}
        notifications: list[dict[str, Any]] = []
        delivery_rows: list[dict[str, Any]] = []
        for recipient in recipients:
            look = (recipient.locale, recipient.prefs.timezone)
            message = messages.get(look)
            if message is None:
                message = messages[look] = (
                    _UNWRITTEN
                    if business_key_of
                    else inbox_message(
                        subject.kind, recipient.locale, context, tz=recipient.prefs.timezone
                    )
                )
            notification_id = uuid7()
            notifications.append(
                {
                    "id": notification_id,
                    "recipient": recipient.username,
                    "locale": recipient.locale,
                    "title": message.title,
                    "body": message.body,
                    "tz": recipient.prefs.timezone,
                }
            )
            delivery_rows += self._delivery_rows(
                notification_id, subject.kind, recipient, configs, now
            )
        await repository.add_notifications(
            session,
            {
                "kind": subject.kind.value,
                "link": subject.link,
                "task_id": subject.task_id,
                "instance_id": subject.instance_id,
                "process_key": subject.process_key,
                "business_key": subject.business_key,
                "data": subject.data,
                "context": subject.context,
                "urgent": subject.kind in URGENT_KINDS,
                "event_id": event_id,
                "event_type": event_type,
            },
            notifications,
            delivery_rows,
            unless_closed=unless_closed,
            unkeyed=Unkeyed(business_key_of, subject.kind, subject.context, subject.link)
            if business_key_of
            else None,
        )

    async def _recipients(
        self, session: AsyncSession, usernames: Iterable[str], event: Event
    ) -> list[Recipient]:
        """The people to tell, with their language and preferences; inactive and deleted
        people are left out.

        A person the organisation copy does not know yet may be on their way (the designer's
        events travel separately): the event is retried for a while, then the in-app
        notification is made anyway, in the default language and without email.
        """
        names = sorted(set(usernames))
        people = await org.people(session, names)
        unknown = [p.username for p in people if not p.known]
        if unknown and self.clock() - event.time < self.unknown_recipient_grace:
            raise RetryLater(f"not yet in the organisation copy: {', '.join(unknown[:10])}")
        return self._recipients_among(people)

    async def recipients_of(self, session: AsyncSession, names: Sequence[str]) -> list[Recipient]:
        """The people called `names` that should hear anything, with their preferences."""
        return self._recipients_among(await org.people(session, sorted(set(names))))

    def _recipients_among(self, people: Sequence[Person]) -> list[Recipient]:
        out: list[Recipient] = []
        for person in people:
            pref = Effective.of(person if person.has_preferences else None)
            if not person.known:
                locale = supported_locale(pref.language, self.default_locale)
                out.append(Recipient(person.username, locale, None, pref))
            elif person.active and person.deleted_at is None:
                locale = supported_locale(pref.language or person.locale, self.default_locale)
                out.append(Recipient(person.username, locale, person.email, pref))
        return out

    def _delivery_rows(
        self,
        notification_id: uuid.UUID,
        kind: Kind,
        recipient: Recipient,
        configs: Sequence[DeliveryTarget],
        now: dt.datetime,
    ) -> list[dict[str, Any]]:
        common = {"notification_id": notification_id, "recipient": recipient.username}
        rows: list[dict[str, Any]] = [
            {
                **common,
                "id": uuid7(),
                "channel": IN_APP_CHANNEL,
                "channel_kind": ChannelKind.IN_APP.value,
                "channel_config_id": None,
                "address": None,
                "status": DeliveryStatus.SENT.value,
                "attempts": 1,
                "sent_at": now,
                "next_attempt_at": None,
            }
        ]
        by_name = {c.name: c for c in configs}
        defaults = ([EMAIL_CHANNEL] if self.email_available else []) + [
            c.name for c in configs if c.is_default
        ]
        held = recipient.prefs.held_until(kind, now)
        for name in dict.fromkeys(recipient.prefs.channels_for(kind, defaults)):
            target = self._target(name, by_name, recipient)
            if target is None:
                continue
            channel_kind, config_id, address = target
            rows.append(
                {
                    **common,
                    "id": uuid7(),
                    "channel": name,
                    "channel_kind": channel_kind,
                    "channel_config_id": config_id,
                    "address": address,
                    "status": (DeliveryStatus.HELD if held else DeliveryStatus.PENDING).value,
                    "attempts": 0,
                    "sent_at": None,
                    "next_attempt_at": held or now,
                }
            )
        return rows

    def _target(
        self, name: str, configs: dict[str, DeliveryTarget], recipient: Recipient
    ) -> tuple[str, uuid.UUID | None, str | None] | None:
        """(kind, config id, address) of a chosen channel; None when it cannot reach them."""
        if name == EMAIL_CHANNEL and self.email_available:
            return (ChannelKind.EMAIL.value, None, recipient.email) if recipient.email else None
        config = configs.get(name)
        if config is None:
            return None  # disabled or removed since the person chose it
        if config.kind == ChannelKind.EMAIL.value:
            return (config.kind, config.id, recipient.email) if recipient.email else None
        chat_id = recipient.prefs.chat_ids.get(config.kind)
        return config.kind, config.id, str(chat_id) if chat_id else None

    def _link(self, collection: str, item_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/{collection}/{quote(item_id, safe='')}"


async def task_audience(
    session: AsyncSession,
    assignee: str | None,
    candidate_users: Sequence[str],
    candidate_roles: Sequence[str],
) -> tuple[Kind, list[str]]:
    """Whom a task is offered to: the assignee alone, or else the candidate users plus every
    active person holding a candidate role."""
    if assignee:
        return Kind.TASK_ASSIGNED, [assignee]
    holders = await org.active_usernames_with_roles(session, sorted(set(candidate_roles)))
    return Kind.TASK_OFFERED, sorted(set(candidate_users) | set(holders))


def _name(name: str | None, task: TaskRow | None, node_id: str | None, task_id: str) -> str:
    return name or (task.name if task else None) or node_id or task_id


def _by_task_name(usernames: Sequence[str], tasks: dict[str, TaskRow]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for username in usernames:
        groups.setdefault(tasks[username].name, []).append(username)
    return groups
