"""What the event handlers of one unit of work write, sent to PostgreSQL as one statement.

The runtime consumer hands every fetched batch of events to one unit of work, and most of
what a handler writes is read by no later handler of the batch: the open tasks, the
notifications (with their deliveries and announcements), the closures of tasks, the
resolution of notifications whose task or instance ended and the cancellation of their
deliveries still waiting, the removal of open tasks. These wait here, in order, and go to
PostgreSQL as the data-modifying parts of one statement of fixed text just before the unit
of work commits, or earlier when a handler is about to read what they would change
(`flush`).

The outcome is that of running each handler's statements when it ran them:

- A task recorded as open here is one without a closure: one pending here answers at once
  (`repository.open_task`), and the statement checks the stored ones as they were before
  it, which is what the handler would have seen, since no closure of the task is stored in
  between. A task found closed there is not recorded, and the notifications about it that
  were made on the assumption that it was open are not written either.
- A closure resolves the pending notifications made before it here, in memory (with their
  deliveries cancelled as the statement would have), and the stored ones in the
  statement; each stored one takes the time and reason of the first closure, in event
  order, that applies to it, as it would one statement after the other. A closure also
  drops the pending open tasks it removes.
- The handlers' reads (`repository`) look here first: a task closed here is closed and
  no longer open, the tasks of an instance ended here are no longer open, a pending
  notice counts as a stored one; a read about a task recorded as open here sends what
  waits first.
- The parts of the statement each write what no other part reads: the notifications
  inserted are not those the statement resolves, and the open tasks it deletes were stored
  before (an open task of an instance ended here sends what waits first).
- A notification that takes its instance's business key from the earlier notifications of
  the instance (`Unkeyed`) gets it, and its text, when it is written: from the stored ones,
  read in one statement for all such notifications, else from the first one pending before
  it here that has one, which is what the handler's own query would have found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import before_commit, driver_connection
from bpm_common.logging import get_logger
from services.notifier.deliveries.models import DeliveryStatus
from services.notifier.deliveries.repository import PENDING_FLAG, UNSENT
from services.notifier.notifications.hub import CHANNEL
from services.notifier.notifications.kinds import ACTIONABLE_KINDS, Kind
from services.notifier.notifications.templates import inbox_message

log = get_logger(__name__)

NOTIFICATIONS_CREATED = Counter(
    "bpm_notifications_created_total", "In-app notifications created", ["kind"]
)

_ACTIONABLE = frozenset(k.value for k in ACTIONABLE_KINDS)
_UNSENT = frozenset(s.value for s in UNSENT)
_SENT = DeliveryStatus.SENT.value
_CANCELLED = DeliveryStatus.CANCELLED.value

#: per recipient: the notification's own columns; the rest is the same for every recipient
RECIPIENT_COLUMNS = ("id", "recipient", "locale", "title", "body")
#: an open task's columns, in the order `open_task` takes them
OPEN_TASK_COLUMNS = (
    "task_id",
    "instance_id",
    "name",
    "definition_key",
    "business_key",
    "initiator",
    "assignee",
    "candidate_users",
    "candidate_roles",
    "due_at",
    "created_at",
)

# Strings go as `text`: a cast to `varchar(n)` would cut long values silently, where the
# insert refuses them (the candidate lists are cut as `open_task` always did). A list per
# open task goes as the text of a PostgreSQL array (`unnest` would flatten an array of
# arrays). The closures (`closes`) apply in `ord`er: each stored notification takes the
# first that applies (a resolved one is passed over by the later ones, as one statement
# after the other would). `closed_before` are the pending open tasks with a stored closure.
# Every part that reads a stored table looks rows up by an indexed column per value of the
# batch (`LATERAL` kept apart by `OFFSET 0`, `= ANY`), never a join or an OR the planner
# may answer by reading the whole table or index: the open tasks churn (dead rows until vacuumed) and the unresolved
# notifications only grow. The two deletes of open tasks may meet the same row; the row
# is deleted once.
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
        FROM closes c CROSS JOIN LATERAL (
            SELECT n.id FROM notifications n
            WHERE n.task_id = c.task_id AND n.resolved_at IS NULL
                AND (c.recipient IS NULL OR n.recipient = c.recipient) AND n.kind = ANY($11::text[])
            OFFSET 0
        ) n
        WHERE c.task_id IS NOT NULL
        UNION ALL
        SELECT n.id, c.ord, c.at, c.reason
        FROM closes c CROSS JOIN LATERAL (
            SELECT n.id FROM notifications n
            WHERE n.instance_id = c.instance_id AND n.resolved_at IS NULL AND n.kind = ANY($11::text[])
            OFFSET 0
        ) n
        WHERE c.task_id IS NULL
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
), gone_tasks AS (
    DELETE FROM open_tasks WHERE task_id = ANY($7::text[])
), gone_instances AS (
    DELETE FROM open_tasks WHERE instance_id = ANY($13::text[])
), closed_before AS (
    SELECT t.task_id FROM unnest($46::text[]) AS t(task_id)
    WHERE EXISTS (SELECT FROM task_closures c WHERE c.task_id = t.task_id)
), opened AS (
    INSERT INTO open_tasks (
        task_id, instance_id, name, definition_key, business_key, initiator, assignee,
        candidate_users, candidate_roles, due_at, created_at
    )
    SELECT task_id, instance_id, name, definition_key, business_key, initiator, assignee,
        candidate_users::varchar(150)[], candidate_roles::varchar(100)[], due_at, created_at
    FROM unnest(
        $47::text[], $48::text[], $49::text[], $50::text[], $51::text[], $52::text[], $53::text[],
        $54::text[], $55::text[], $56::timestamptz[], $57::timestamptz[]
    ) AS t(
        task_id, instance_id, name, definition_key, business_key, initiator, assignee,
        candidate_users, candidate_roles, due_at, created_at
    )
    WHERE t.task_id NOT IN (SELECT task_id FROM closed_before)
    ON CONFLICT (task_id) DO NOTHING
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
        $28::uuid[], $29::text[], $30::timestamptz[], $58::text[]
    ) AS r(
        id, recipient, locale, title, body, kind, link, task_id, instance_id, process_key,
        business_key, data, context, urgent, event_id, event_type, resolved_at, unless_closed
    )
    WHERE r.unless_closed IS NULL OR r.unless_closed NOT IN (SELECT task_id FROM closed_before)
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
SELECT id, pg_notify($45::text, recipient || ' ' || id::text), NULL AS closed_before FROM created
UNION ALL
SELECT NULL, NULL, task_id FROM closed_before
"""
# Before a statement that writes notifications waiting for their instance's business key:
# the key one stored notification of each instance has (the handlers' lookup of it), and
# which tasks recorded as open here had a stored closure.
_READ = """SELECT i.instance_id, (
    SELECT business_key FROM notifications n
    WHERE n.instance_id = i.instance_id AND n.business_key IS NOT NULL
    LIMIT 1
), NULL AS closed_before
FROM unnest($1::text[]) AS i(instance_id)
UNION ALL
SELECT NULL, NULL, t.task_id FROM unnest($2::text[]) AS t(task_id)
WHERE EXISTS (SELECT FROM task_closures c WHERE c.task_id = t.task_id)
"""
_ACTIONABLE_ARG = sorted(_ACTIONABLE)
_UNSENT_ARG = [s.value for s in UNSENT]


@dataclass(frozen=True, slots=True)
class Unkeyed:
    """What completes a notification with its instance's business key: the variables of its
    text (`business_key` among them, set then), and what the text is rendered with."""

    instance_id: str
    kind: Kind
    context: dict[str, Any]
    link: str | None


@dataclass(slots=True)
class Notice:
    """A notification waiting to be written: its columns and its deliveries' columns."""

    row: dict[str, Any]
    deliveries: list[dict[str, Any]]
    #: whether a delivery waited for a sender when it was made (wakes the delivery worker)
    to_send: bool
    #: set while its business key, context and text wait for its instance's business key
    unkeyed: Unkeyed | None = None
    #: the reader's time zone (the text of an unkeyed notice is rendered in it)
    tz: str | None = None

    def complete(self, business_key: str | None) -> None:
        """Fill in the business key of an unkeyed notice, with its context and text."""
        unkeyed = self.unkeyed
        if unkeyed is None:
            return
        context = {**unkeyed.context, "business_key": business_key}
        message = inbox_message(
            unkeyed.kind, self.row["locale"], {**context, "link": unkeyed.link}, tz=self.tz
        )
        self.row.update(
            business_key=business_key,
            context=jsonutil.dumps(context),
            title=message.title,
            body=message.body,
        )
        self.unkeyed = None

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
    #: open tasks to record (task id -> values in `OPEN_TASK_COLUMNS` order)
    opens: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    #: every task recorded as open here (task id -> instance id), also those closed since:
    #: the statement checks them for a stored closure
    assumed_open: dict[str, str] = field(default_factory=dict)
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
        return not (self.assumed_open or self.notices or self.closes)

    # -- what the handlers queue ---------------------------------------------------------

    def open_task(self, values: Sequence[Any]) -> None:
        """Record a task as open (values in `OPEN_TASK_COLUMNS` order), assuming it has no
        stored closure; a task recorded already keeps its first values, as on conflict."""
        task_id, instance_id = values[0], values[1]
        if task_id not in self.assumed_open:
            self.opens[task_id] = tuple(values)
            self.assumed_open[task_id] = instance_id

    def add(self, notices: Iterable[Notice]) -> None:
        """Notifications to write, with their deliveries."""
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
        self.opens.pop(task_id, None)
        self._close(_Close(task_id, None, None, at, cancel), self._by_task.get(task_id, ()))

    def resolve_task_for(self, task_id: str, recipient: str, at: dt.datetime, cancel: str) -> None:
        notices = [n for n in self._by_task.get(task_id, ()) if n.row["recipient"] == recipient]
        self._close(_Close(task_id, None, recipient, at, cancel), notices)

    def close_instance(self, instance_id: str, at: dt.datetime, cancel: str) -> None:
        self.ended_instances.add(instance_id)
        for task_id in [t for t, values in self.opens.items() if values[1] == instance_id]:
            del self.opens[task_id]
        self._close(_Close(None, instance_id, None, at, cancel), self._by_instance.get(instance_id, ()))

    def _close(self, close: _Close, notices: Iterable[Notice]) -> None:
        self.closes.append(close)
        for notice in notices:
            if notice.row["kind"] in _ACTIONABLE and notice.row["resolved_at"] is None:
                notice.resolve(close.at, close.reason)

    # -- what the handlers read ------------------------------------------------------------

    def task_gone(self, task_id: str, instance_id: str | None = None) -> bool:
        """Whether a stored open task is removed here (its closure, or the end of its instance)."""
        return task_id in self.closures or instance_id in self.ended_instances

    def notice(self, instance_id: str, recipient: str, kind: str) -> Notice | None:
        """The first pending notification of the instance of `kind` for `recipient`."""
        for notice in self._by_instance.get(instance_id, ()):
            if notice.row["recipient"] == recipient and notice.row["kind"] == kind:
                return notice
        return None

    def assumed(self, notice: Notice) -> bool:
        """Whether `notice` is written only if its task had no stored closure."""
        return notice.row["unless_closed"] is not None

    # -- sending ---------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send what waits, as one statement (after one that reads the business keys when
        notifications wait for them; nothing when nothing waits)."""
        if self.empty:
            return
        notices, closes, closures = self.notices, self.closes, self.closures
        opens, assumed_open = self.opens, self.assumed_open
        ended = self.ended_instances
        self.notices, self.closes, self.closures = [], [], {}
        self.opens, self.assumed_open, self.ended_instances = {}, {}, set()
        self._by_task.clear()
        self._by_instance.clear()
        connection = await driver_connection(self.session)
        checked: list[str] = list(assumed_open)
        if any(n.unkeyed is not None for n in notices):
            keys: dict[str, str | None] = {}
            closed: set[str] = set()
            unkeyed = {n.unkeyed.instance_id for n in notices if n.unkeyed is not None}
            for row in await connection.fetch(_READ, sorted(unkeyed), checked):
                if row[2] is not None:
                    closed.add(row[2])
                else:
                    keys[row[0]] = row[1]
            _log_closed(closed)
            notices = [n for n in notices if n.row["unless_closed"] not in closed]
            opens = {t: values for t, values in opens.items() if t not in closed}
            checked = []  # checked here
            _complete(notices, keys)
        rows = await connection.fetch(
            _FLUSH,
            *_close_args(closes, closures, ended),
            *_notice_args(notices),
            _CANCELLED,
            CHANNEL,
            checked,
            *_open_args(opens.values()),
            [n.row["unless_closed"] for n in notices],
        )
        created: set[uuid.UUID] = {row[0] for row in rows if row[2] is None}
        _log_closed(row[2] for row in rows if row[2] is not None)
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

def _log_closed(task_ids: Iterable[str]) -> None:
    for task_id in task_ids:
        log.info("task_already_closed", task_id=task_id)


def _complete(notices: Sequence[Notice], stored: dict[str, str | None]) -> None:
    """Complete the unkeyed notices, in order: with the business key a stored notification
    of their instance has, else with that of the first notice before them that has one."""
    first: dict[str, str] = {}
    for notice in notices:
        instance_id = notice.row["instance_id"]
        if notice.unkeyed is not None:
            key = stored.get(instance_id)
            notice.complete(key if key is not None else first.get(instance_id))
        if instance_id is not None and notice.row["business_key"] is not None:
            first.setdefault(instance_id, notice.row["business_key"])


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
_LISTS = (OPEN_TASK_COLUMNS.index("candidate_users"), OPEN_TASK_COLUMNS.index("candidate_roles"))


def _notice_args(notices: Sequence[Notice]) -> list[Any]:
    rows = [n.row for n in notices]
    deliveries = [d for n in notices for d in n.deliveries]
    return [
        *([row[name] for row in rows] for name in _NOTIFICATION_INSERT),
        *([d[name] for d in deliveries] for name in _DELIVERY_INSERT),
    ]


def _open_args(opens: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in OPEN_TASK_COLUMNS]
    for values in opens:
        for n, value in enumerate(values):
            columns[n].append(value)
    for n in _LISTS:
        columns[n] = [array_text(items) for items in columns[n]]
    return columns


def array_text(items: Sequence[str]) -> str:
    """`items` as the text of a PostgreSQL array (`{"a","b"}`), every item quoted."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def notices(
    subject: dict[str, Any],
    notifications: Sequence[dict[str, Any]],
    deliveries: Sequence[dict[str, Any]],
    *,
    unless_closed: str | None = None,
    unkeyed: Unkeyed | None = None,
) -> list[Notice]:
    """The notices of one event: `subject` holds the columns its notifications share (`data`
    and `context` as JSON values), each of `notifications` its recipient's (and `tz`, the
    time zone of their text); `deliveries` name their notification (`notification_id`).
    With `unless_closed`, they are about a task recorded as open here on the assumption
    that it had no stored closure, and are not written if it had one. With `unkeyed`, their
    business key, context and text are completed when they are written."""
    shared = {
        **subject,
        "data": jsonutil.dumps(subject["data"]),
        "context": jsonutil.dumps(subject["context"]),
        "resolved_at": None,
        "unless_closed": unless_closed,
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
                unkeyed=unkeyed,
                tz=notification.get("tz"),
            )
        )
    return out


_KEY = "notifier_pending_writes"


def pending_writes(session: AsyncSession) -> PendingWrites:
    """The unit of work's pending writes, sent just before it commits (`Database.transaction`
    awaits them: `bpm_common.db.before_commit`)."""
    pending: PendingWrites | None = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = PendingWrites(session)
        before_commit(session, pending.flush)
    return pending


def existing_pending_writes(session: AsyncSession) -> PendingWrites | None:
    """The unit of work's pending writes, if it has any."""
    return session.info.get(_KEY)
