"""What the event handlers of one unit of work write about notifications, sent in one statement.

The runtime consumer hands every fetched batch of events to one unit of work, and most of
what a handler writes is read by no later handler of the batch: the notifications (with
their deliveries and announcements), the closures of tasks, the resolution of
notifications whose task or instance ended and the cancellation of their deliveries still
waiting, the removal of open tasks. These wait here, in order, and go to PostgreSQL as the
data-modifying parts of one statement of fixed text just before the unit of work commits
(or earlier, when a handler is about to write something they would have to see first).

The outcome is that of running each handler's statements when it ran them:

- A closure resolves the pending notifications made before it here, in memory (with their
  deliveries cancelled as the statement would have), and the stored ones in the
  statement. The stored ones take the time and reason of the first closure, in event
  order, that applies to them, as they would one statement after the other.
- The reads of the handlers (`repository`) look here first: a task closed here is closed
  and no longer open, the tasks of an instance ended here are no longer open, a pending
  notice of a rejection or a business key counts as one stored.
- The parts of the statement each write what no other part reads: the notifications
  inserted are not those the statement resolves, the open tasks it deletes were stored
  before any pending change (see `repository.open_task`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bpm_common import jsonutil
from bpm_common.db import driver_connection
from services.notifier.deliveries.models import DeliveryStatus
from services.notifier.deliveries.repository import PENDING_FLAG, UNSENT
from services.notifier.notifications.hub import CHANNEL
from services.notifier.notifications.kinds import ACTIONABLE_KINDS, Kind

NOTIFICATIONS_CREATED = Counter(
    "bpm_notifications_created_total", "In-app notifications created", ["kind"]
)

_ACTIONABLE = frozenset(k.value for k in ACTIONABLE_KINDS)
_UNSENT = frozenset(s.value for s in UNSENT)
_SENT = DeliveryStatus.SENT.value
_CANCELLED = DeliveryStatus.CANCELLED.value
_REJECTED = Kind.TASK_REJECTED.value

#: per recipient: the notification's own columns; the rest is the same for every recipient
RECIPIENT_COLUMNS = ("id", "recipient", "locale", "title", "body")
SUBJECT_COLUMNS = (
    "kind",
    "link",
    "task_id",
    "instance_id",
    "process_key",
    "business_key",
    "data",
    "context",
    "urgent",
    "event_id",
    "event_type",
)
DELIVERY_COLUMNS = (
    "id",
    "notification_id",
    "recipient",
    "channel",
    "channel_kind",
    "channel_config_id",
    "address",
    "status",
    "attempts",
    "sent_at",
    "next_attempt_at",
)

# The closures (`closes`: $1-$6) apply in `ord`er: each stored notification takes the first
# that applies (a resolved one is passed over by the later ones, as one statement after the
# other would). Strings go as `text`: a cast to `varchar(n)` would cut long values silently,
# where the insert refuses them.
_FLUSH = """WITH closes AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
        AS c(ord, task_id, instance_id, recipient, at, reason)
), closure AS (
    INSERT INTO task_closures (task_id, instance_id, reason, closed_at)
    SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::timestamptz[])
    ON CONFLICT (task_id) DO NOTHING
), matched AS (
    SELECT DISTINCT ON (m.id) m.id, m.at, m.reason
    FROM (
        SELECT n.id, c.ord, c.at, c.reason
        FROM closes c JOIN notifications n ON n.task_id = c.task_id
        WHERE c.task_id IS NOT NULL AND (c.recipient IS NULL OR n.recipient = c.recipient)
            AND n.kind = ANY($11::text[]) AND n.resolved_at IS NULL
        UNION ALL
        SELECT n.id, c.ord, c.at, c.reason
        FROM closes c JOIN notifications n ON n.instance_id = c.instance_id
        WHERE c.task_id IS NULL AND n.kind = ANY($11::text[]) AND n.resolved_at IS NULL
    ) m
    ORDER BY m.id, m.ord
), resolved AS (
    UPDATE notifications n SET resolved_at = m.at
    FROM matched m WHERE n.id = m.id
    RETURNING n.id, m.reason
), cancelled AS (
    UPDATE deliveries d
    SET status = $44::text, last_error = r.reason, next_attempt_at = NULL, updated_at = now()
    FROM resolved r
    WHERE d.notification_id = r.id AND d.status = ANY($12::text[]) AND d.next_attempt_at IS NOT NULL
), gone AS (
    DELETE FROM open_tasks WHERE task_id = ANY($7::text[]) OR instance_id = ANY($13::text[])
), created AS (
    INSERT INTO notifications (
        id, recipient, locale, title, body, kind, link, task_id, instance_id, process_key,
        business_key, data, context, urgent, event_id, event_type, resolved_at
    )
    SELECT id, recipient, locale, title, body, kind, link, task_id, instance_id, process_key,
        business_key, data::jsonb, context::jsonb, urgent, event_id, event_type, resolved_at
    FROM unnest(
        $14::uuid[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
        $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::bool[],
        $28::uuid[], $29::text[], $30::timestamptz[]
    ) AS r(
        id, recipient, locale, title, body, kind, link, task_id, instance_id, process_key,
        business_key, data, context, urgent, event_id, event_type, resolved_at
    )
    ON CONFLICT (event_id, recipient) DO NOTHING
    RETURNING id, recipient
), added AS (
    INSERT INTO deliveries (
        id, notification_id, event_id, recipient, channel, channel_kind, channel_config_id,
        address, status, attempts, last_error, sent_at, next_attempt_at
    )
    SELECT * FROM unnest(
        $31::uuid[], $32::uuid[], $33::uuid[], $34::text[], $35::text[], $36::text[], $37::uuid[],
        $38::text[], $39::text[], $40::int[], $41::text[], $42::timestamptz[], $43::timestamptz[]
    ) AS d(
        id, notification_id, event_id, recipient, channel, channel_kind, channel_config_id,
        address, status, attempts, last_error, sent_at, next_attempt_at
    )
    WHERE d.notification_id IN (SELECT id FROM created)
    ON CONFLICT (event_id, recipient, channel) DO NOTHING
)
SELECT id, pg_notify($45::text, recipient || ' ' || id::text) FROM created
"""
_ACTIONABLE_ARG = sorted(_ACTIONABLE)
_UNSENT_ARG = [s.value for s in UNSENT]


@dataclass(slots=True)
class Notice:
    """A notification waiting to be written: its columns and its deliveries' columns."""

    row: dict[str, Any]
    deliveries: list[dict[str, Any]]
    #: whether a delivery waited for a sender when it was made (wakes the delivery worker)
    to_send: bool

    def resolve(self, at: dt.datetime, reason: str) -> None:
        """What resolving the stored notification would do: resolved at `at`, its deliveries
        still waiting for an attempt cancelled with `reason`."""
        self.row["resolved_at"] = at
        for delivery in self.deliveries:
            if delivery["status"] in _UNSENT and delivery["next_attempt_at"] is not None:
                delivery["status"] = _CANCELLED
                delivery["next_attempt_at"] = None
                delivery["last_error"] = reason


@dataclass(frozen=True, slots=True)
class _Close:
    """A closure to apply to the stored notifications: a task's (for one recipient only, when
    `recipient` is set) or, without `task_id`, an instance's."""

    task_id: str | None
    instance_id: str | None
    recipient: str | None
    at: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class _Closure:
    instance_id: str | None
    reason: str
    at: dt.datetime


@dataclass
class PendingWrites:
    """The writes of one unit of work's event handlers not sent yet (see the module)."""

    session: AsyncSession
    notices: list[Notice] = field(default_factory=list)
    closes: list[_Close] = field(default_factory=list)
    #: task id -> its closure; the first one counts (the statement does nothing on conflict)
    closures: dict[str, _Closure] = field(default_factory=dict)
    #: instances whose open tasks are removed
    ended_instances: set[str] = field(default_factory=set)
    _by_task: defaultdict[str, list[Notice]] = field(default_factory=lambda: defaultdict(list))
    _by_instance: defaultdict[str, list[Notice]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @property
    def empty(self) -> bool:
        return not (self.notices or self.closes)

    # -- what the handlers queue ---------------------------------------------------------

    def add(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            self.notices.append(notice)
            task_id, instance_id = notice.row["task_id"], notice.row["instance_id"]
            if task_id is not None:
                self._by_task[task_id].append(notice)
            if instance_id is not None:
                self._by_instance[instance_id].append(notice)

    def close_task(
        self, task_id: str, instance_id: str | None, reason: str, at: dt.datetime, cancel: str
    ) -> None:
        self.closures.setdefault(task_id, _Closure(instance_id, reason, at))
        self._close(_Close(task_id, None, None, at, cancel), self._by_task.get(task_id, ()))

    def resolve_task_for(self, task_id: str, recipient: str, at: dt.datetime, cancel: str) -> None:
        notices = [n for n in self._by_task.get(task_id, ()) if n.row["recipient"] == recipient]
        self._close(_Close(task_id, None, recipient, at, cancel), notices)

    def close_instance(self, instance_id: str, at: dt.datetime, cancel: str) -> None:
        self.ended_instances.add(instance_id)
        self._close(_Close(None, instance_id, None, at, cancel), self._by_instance.get(instance_id, ()))

    def _close(self, close: _Close, notices: Iterable[Notice]) -> None:
        self.closes.append(close)
        for notice in notices:
            if notice.row["kind"] in _ACTIONABLE and notice.row["resolved_at"] is None:
                notice.resolve(close.at, close.reason)

    # -- what the handlers read ------------------------------------------------------------

    def task_gone(self, task_id: str, instance_id: str | None = None) -> bool:
        """Whether the open task is removed here (its closure, or the end of its instance)."""
        return task_id in self.closures or instance_id in self.ended_instances

    def has_notice(self, instance_id: str, recipient: str, kind: str) -> bool:
        return any(
            n.row["recipient"] == recipient and n.row["kind"] == kind
            for n in self._by_instance.get(instance_id, ())
        )

    def business_key(self, instance_id: str) -> str | None:
        """The business key of the first pending notification of the instance that has one."""
        for notice in self._by_instance.get(instance_id, ()):
            if notice.row["business_key"] is not None:
                return notice.row["business_key"]
        return None

    # -- sending ---------------------------------------------------------------------------

    async def flush(self, connection: asyncpg.Connection | None = None) -> None:
        """Send what waits, as one statement (nothing when nothing waits)."""
        if self.empty:
            return
        notices, closes, closures = self.notices, self.closes, self.closures
        self.notices, self.closes, self.closures = [], [], {}
        ended, self.ended_instances = self.ended_instances, set()
        self._by_task.clear()
        self._by_instance.clear()
        connection = connection or await driver_connection(self.session)
        rows = await connection.fetch(
            _FLUSH,
            *_close_args(closes, closures, ended),
            *_notice_args(notices),
            _CANCELLED,
            CHANNEL,
        )
        if not rows:
            return
        created = {row["id"] for row in rows}
        counts: dict[str, int] = defaultdict(int)
        to_send = False
        for notice in notices:
            if notice.row["id"] in created:
                counts[notice.row["kind"]] += 1
                to_send = to_send or notice.to_send
        for kind, count in counts.items():
            NOTIFICATIONS_CREATED.labels(kind).inc(count)
        if to_send:
            self.session.info[PENDING_FLAG] = True  # wakes the delivery worker after the commit

    def _before_commit(self, session: Session) -> None:
        """Session event: send what waits inside the transaction, before it commits."""
        if self.empty:
            return
        adapted: Any = session.connection().connection.dbapi_connection
        adapted.run_async(self.flush)


def _close_args(
    closes: Sequence[_Close], closures: dict[str, _Closure], ended: set[str]
) -> list[Any]:
    return [
        list(range(len(closes))),
        [c.task_id for c in closes],
        [c.instance_id for c in closes],
        [c.recipient for c in closes],
        [c.at for c in closes],
        [c.reason for c in closes],
        list(closures),
        [c.instance_id for c in closures.values()],
        [c.reason for c in closures.values()],
        [c.at for c in closures.values()],
        _ACTIONABLE_ARG,
        _UNSENT_ARG,
        sorted(ended),
    ]


#: the columns of the statement's notifications and deliveries, in its order
_NOTIFICATION_INSERT = (
    "id",
    "recipient",
    "locale",
    "title",
    "body",
    "kind",
    "link",
    "task_id",
    "instance_id",
    "process_key",
    "business_key",
    "data",
    "context",
    "urgent",
    "event_id",
    "event_type",
    "resolved_at",
)
_DELIVERY_INSERT = (
    "id",
    "notification_id",
    "event_id",
    "recipient",
    "channel",
    "channel_kind",
    "channel_config_id",
    "address",
    "status",
    "attempts",
    "last_error",
    "sent_at",
    "next_attempt_at",
)


def _notice_args(notices: Sequence[Notice]) -> list[Any]:
    rows = [n.row for n in notices]
    deliveries = [d for n in notices for d in n.deliveries]
    return [
        *([row[name] for row in rows] for name in _NOTIFICATION_INSERT),
        *([d[name] for d in deliveries] for name in _DELIVERY_INSERT),
    ]


def notices(
    subject: dict[str, Any],
    notifications: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
) -> list[Notice]:
    """The notices of one event: `subject` holds the columns its notifications share (`data`
    and `context` as JSON values), each of `notifications` its recipient's; `deliveries` name
    their notification (`notification_id`)."""
    shared = {
        **subject,
        "data": jsonutil.dumps(subject["data"]),
        "context": jsonutil.dumps(subject["context"]),
        "resolved_at": None,
    }
    by_notification: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for delivery in deliveries:
        by_notification[delivery["notification_id"]].append(
            {**delivery, "event_id": subject["event_id"], "last_error": None}
        )
    out: list[Notice] = []
    for notification in notifications:
        own = by_notification.get(notification["id"], [])
        out.append(
            Notice(
                row={**shared, **{name: notification[name] for name in RECIPIENT_COLUMNS}},
                deliveries=own,
                to_send=any(d["status"] != _SENT for d in own),
            )
        )
    return out


_KEY = "notifier_pending_writes"


def pending_writes(session: AsyncSession) -> PendingWrites:
    """The unit of work's pending writes (sent just before it commits)."""
    pending: PendingWrites | None = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = PendingWrites(session)
        event.listen(session.sync_session, "before_commit", pending._before_commit)
    return pending


def existing_pending_writes(session: AsyncSession) -> PendingWrites | None:
    """The unit of work's pending writes, if it has any."""
    return session.info.get(_KEY)
