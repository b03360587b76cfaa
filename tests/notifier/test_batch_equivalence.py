"""A batch of runtime events leaves the database exactly as handling them one by one does.

The consumer hands every fetched batch to one unit of work; the handlers of one unit of
work share what they read and write together. These tests run one varied story (transfers,
reminders, escalations, rejections, returns, withdrawals, copies, incidents, events out of
order and repeated, emails held by quiet hours) one event at a time, in batches of several
sizes, and as one batch, and compare every row the notifier keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

from bpm_common.events.envelope import Event
from bpm_stack.embedded import free_port
from tests.notifier.support import Instance, department_upserted, user_upserted
from tests.notifier.test_email import smtp_url

_PEOPLE = [
    department_upserted("sales", manager="bob"),
    department_upserted("finance", manager="frank"),
    user_upserted("alice", department="sales", locale="zh-CN"),
    user_upserted("bob", department="sales"),
    user_upserted("frank", department="finance"),
    user_upserted("carol", roles=["finance_reviewer"], department="finance"),
    user_upserted("dave", roles=["finance_reviewer"], locale="zh-CN", department="finance"),
    user_upserted("erin", roles=["cashier"], department="finance"),
    user_upserted("admin", roles=["admin"]),
]


def _story() -> list[Event]:
    """Runtime events of several instances, interleaved as a busy runtime publishes them."""
    a = Instance(initiator="alice")
    t1 = a.task_created("Finance review", candidate_roles=["finance_reviewer"])
    t1_id = t1.data["task_id"]
    b = Instance(initiator="alice", business_key="EXP-B")
    t2 = b.task_created("Department review", assignee="bob")
    t2_id = t2.data["task_id"]
    t3 = b.task_created("Payment", candidate_users=["carol", "erin"])
    c = Instance(initiator="alice")
    t4 = c.task_created("Department review", assignee="bob")
    t4_id = t4.data["task_id"]
    late = c.task_created("Archive", assignee="carol")
    d = Instance(initiator="bob", business_key="EXP-D")
    t6 = d.task_created("Payment", candidate_roles=["cashier", "finance_reviewer"])
    t6_id = t6.data["task_id"]
    e = Instance(initiator="erin")
    t7 = e.task_created("Finance review", candidate_roles=["finance_reviewer"])
    t7_id = t7.data["task_id"]
    f = Instance(initiator="carol")
    t8 = f.task_created("Department review", assignee="frank")
    return [
        t1,
        t2,
        a.task_assigned(t1_id, "carol", previous=None, kind="claim", actor="carol"),
        t3,
        a.task_assigned(t1_id, "erin", previous="carol", kind="transfer", actor="carol"),
        c.task_completed(t4_id, actor="bob"),  # before its task.created: a retried event
        t6,
        a.task_reminder("due_soon", t1_id, assignee="erin"),
        t4,
        t2,  # the same event again
        t8,
        b.task_assigned(t2_id, "frank", previous="bob", kind="delegate", actor="bob"),
        a.task_reminder("urged", t1_id, assignee="erin", actor="alice", message="please"),
        a.task_escalated(t1_id, assignee="erin", escalated_to=[]),
        b.task_returned(t2_id, actor="bob"),
        t7,
        a.copied(["dave", "erin"], actor="bob"),
        b._event(  # without a business key: the one of the instance's earlier notifications
            "copy.created",
            {"copy_id": "copy-b", "node_id": "review", "recipients": ["frank"], "actor": "bob"},
        ),
        c.completed(),  # no earlier notification has its business key
        d.task_reminder("overdue", t6_id, candidate_roles=["cashier", "finance_reviewer"]),
        a.task_completed(t1_id, actor="erin", outcome="reject", comment="receipt missing"),
        e.task_assigned(t7_id, "dave", previous=None, kind="reassign", actor="admin"),
        late,  # a task of an instance that already ended
        a.completed(result="rejected"),  # alice already heard of the rejection
        b.withdrawn(),
        d.incident(),
        e.task_completed(t7_id, actor="dave"),
        d.task_cancelled(t6_id),
        c.task_cancelled(late.data["task_id"]),
        e.completed(),  # its business key comes from an earlier notification
        d.withdrawn(actor="bob"),
        f._event("instance.terminated", {}),
    ]


_TABLES = {
    "notifications": """
        SELECT event_id, recipient, kind, locale, title, body, link, task_id, instance_id,
               process_key, business_key, data, context, urgent, event_type, read_at,
               resolved_at
        FROM notifications ORDER BY event_id, recipient""",
    "deliveries": """
        SELECT d.event_id, d.recipient, d.channel, d.channel_kind, d.channel_config_id,
               d.address, d.status, d.attempts, d.last_error, d.next_attempt_at IS NULL,
               d.sent_at IS NULL, d.created_at = d.updated_at, n.event_id, n.recipient
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        ORDER BY d.event_id, d.recipient, d.channel""",
    "open_tasks": "SELECT * FROM open_tasks ORDER BY task_id",
    "task_closures": "SELECT * FROM task_closures ORDER BY task_id",
}


async def _rows(notifier) -> dict[str, list[tuple[Any, ...]]]:
    async with notifier.client.app.state.db.transaction() as session:
        return {
            name: [tuple(row) for row in await session.execute(text(sql))]
            for name, sql in _TABLES.items()
        }


async def _outcome(open_notifier, events: list[Event], sizes: list[int] | None) -> dict:
    """The notifier's rows after `events`: one by one (`sizes` None) or in batches of the
    given sizes, in turn."""
    async with open_notifier(smtp_url=smtp_url(free_port())) as notifier:
        await notifier.deliver(*_PEOPLE)
        now = dt.datetime.now(dt.UTC)
        await notifier.set_preferences(
            "dave",
            quiet_hours={
                "start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
                "end": (now + dt.timedelta(hours=2)).strftime("%H:%M"),
            },
        )
        await notifier.set_preferences("carol", channels={"task_offered": []})
        if sizes is None:
            outcomes = await notifier.deliver(*events)
        else:
            outcomes, start, turn = [], 0, 0
            while start < len(events):
                size = sizes[turn % len(sizes)]
                outcomes += await notifier.deliver_batch(*events[start : start + size])
                start, turn = start + size, turn + 1
        return {"outcomes": outcomes, **await _rows(notifier)}


async def test_batches_of_any_size_leave_the_rows_of_one_by_one(open_notifier):
    events = _story()
    expected = await _outcome(open_notifier, events, None)
    assert expected["outcomes"].count("duplicate") == 1
    assert {row[2] for row in expected["notifications"]} >= {
        "task_offered",
        "task_assigned",
        "task_due_soon",
        "task_urged",
        "task_escalated",
        "task_rejected",
        "task_returned",
        "copied",
        "instance_completed",
        "instance_withdrawn",
        "incident",
        "task_overdue",
    }
    keyed = {(row[1], row[2], row[10]) for row in expected["notifications"]}
    assert {("frank", "copied", "EXP-B"), ("erin", "instance_completed", "EXP-2026-042")} <= keyed
    assert ("alice", "instance_completed", None) in keyed
    statuses = {row[6] for row in expected["deliveries"]}
    assert statuses == {"sent", "pending", "held", "cancelled"}
    assert {row[8] for row in expected["deliveries"]} >= {
        "the task went to someone else",
        "the task was completed before this was sent",
        "the task was cancelled before this was sent",
        "the process ended before this was sent",
    }
    assert [row[0] for row in expected["task_closures"]], "closures recorded"

    for sizes in ([len(events)], [3], [2, 5, 1, 7]):
        got = await _outcome(open_notifier, events, sizes)
        for name in ("outcomes", *_TABLES):
            assert got[name] == expected[name], f"{name} differ with batches of {sizes}"
