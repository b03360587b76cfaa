"""A consumer batch is applied in one go when its unit of work commits: the tables must end up
exactly as with the same events one at a time, and failures must fall back to one at a time."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import Table, select

from bpm_common.events.envelope import Event
from bpm_common.ids import new_id
from services.metrics.facts import repository
from services.metrics.facts.models import event_log, instance_facts, node_daily, reason_daily, task_facts
from tests.metrics.support import Metrics, Run

# columns that differ between two runs of the same events (fresh ids, clocks)
_UNCOMPARED = {
    "updated_at",
    "recorded_at",
    "position",
    "event_id",
    "definition_id",
    "business_key",
    "definition_key",
}


def key() -> str:
    return f"batch-{new_id()[-8:]}"


@dataclasses.dataclass
class Workload:
    """Events of three instances; `before` goes in first, then `events`."""

    key: str
    ids: list[str]
    before: list[Event]
    events: list[Event]


def workload(k: str) -> Workload:
    a, b, c = Run(k, department="sales"), Run(k, department="sales"), Run(k, department="finance")
    a1, a2, b1, b2, b3, c1, c2 = (new_id() for _ in range(7))
    before = [
        a.started(),
        a.task_created(a1, "review", at_seconds=1.000001),
        a.task_completed(a1, "review", created_seconds=1.000001, at_seconds=1000.123457, outcome="approve"),
    ]
    b_started = b.started()  # made first: its sequence is the lowest of b's events
    b_events = [
        # b's tasks before b itself: its department reaches them (and moves their sums)
        b.task_created(b1, "review", at_seconds=2.5),
        b.task_completed(b1, "review", created_seconds=2.5, at_seconds=777.777777, outcome="approve"),
        b.task_created(b2, "finance", at_seconds=777.777777),
        b.task_completed(
            b2, "finance", created_seconds=777.777777, at_seconds=1500.1, outcome="reject", comment="Too much!"
        ),
        b_started,
        b.task_created(b3, "finance", at_seconds=1500.1),
        b.task_returned(b3, "finance", at_seconds=1600.3, reason="Receipt missing"),
        b.task_cancelled(b3, "finance", at_seconds=1600.3, reason="returned"),
        b.completed(1600.3, result="rejected"),
    ]
    c_withdrawn = c.withdrawn(3000.5)
    del c_withdrawn.data["definition_key"], c_withdrawn.data["definition_version"]
    c_events = [
        c.started(),
        c.task_created(c1, "finance", at_seconds=0.3),
        c.task_created(c2, "finance", at_seconds=0.7),
        c.task_completed(c1, "finance", created_seconds=0.3, at_seconds=2000.000003, outcome="reject", comment="no"),
        c.task_completed(c2, "finance", created_seconds=0.7, at_seconds=2500.999999, outcome="reject", comment="No."),
        c_withdrawn,
    ]
    a_events = [
        a.task_created(a2, "review", at_seconds=1000.123457, due_at=a.at(1500)),
        a.task_assigned(a2, "review", at_seconds=1100.000001, kind="claim", assignee="bob"),
        a.task_overdue(a2, "review", at_seconds=1500, due_at=a.at(1500)),
        a.task_completed(
            a2, "review", created_seconds=1000.123457, at_seconds=3333.333333, outcome="approve", actor="bob"
        ),
        a.completed(3400.1, satisfaction=3),
    ]
    events = b_events[:4] + a_events[:2] + c_events + b_events[4:] + a_events[2:]
    # a redelivery, and facts announced again under new event ids
    events += [events[3]] + [dataclasses.replace(e, id=new_id()) for e in (events[1], events[8], events[-1])]
    ids = [a.id, b.id, c.id, a1, a2, b1, b2, b3, c1, c2]
    return Workload(k, ids, before, events)


async def table_rows(metrics: Metrics, w: Workload) -> dict[str, list[tuple]]:
    """Every row the workload left, ids replaced by their place in the workload and the process
    key by K, sorted."""
    names = {uuid.UUID(i): f"id{n}" for n, i in enumerate(w.ids)}

    def plain(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return names[value]
        if value == w.key:
            return "K"
        if isinstance(value, dict):
            return tuple(sorted((k, plain(v)) for k, v in value.items() if k != "business_key"))
        if isinstance(value, list):
            return tuple(value)
        return value

    found: dict[str, list[tuple]] = {}
    async with metrics.client.app.state.db.transaction() as session:
        table: Table
        for table in (instance_facts, task_facts, node_daily, reason_daily, event_log):
            rows = await session.execute(select(table).where(table.c.definition_key == w.key))
            found[table.name] = sorted(
                (
                    tuple((name, plain(value)) for name, value in row.items() if name not in _UNCOMPARED)
                    for row in rows.mappings()
                ),
                key=repr,
            )
    return found


async def test_a_batch_leaves_the_tables_exactly_as_its_events_one_at_a_time(metrics: Metrics):
    """Tasks before their instance, every event of a task, the same aggregate rows changed
    several times (stored ones and new ones: sums added up in the same order), a withdrawal
    that leaves out the process, a redelivery and facts announced again."""
    one, batched = workload(key()), workload(key())
    await metrics.deliver(*one.before)
    await metrics.deliver(*batched.before)

    one_by_one = await metrics.deliver(*one.events)
    assert await metrics.deliver_batch(*batched.events) == one_by_one
    assert one_by_one.count("duplicate") == 1 and set(one_by_one) == {"handled", "duplicate"}

    expected, got = await table_rows(metrics, one), await table_rows(metrics, batched)
    assert {name: len(rows) for name, rows in got.items()} == {
        "instance_facts": 3,
        "task_facts": 7,
        "node_daily": 5,  # review and finance of sales and of no department (b before its start), finance of finance
        "reason_daily": 4,
        "event_log": 22,
    }
    assert got == expected
    summary = await metrics.summary(batched.key)
    assert (summary["started"], summary["completed"], summary["withdrawn"]) == (3, 2, 1)


async def test_a_batch_with_an_unreadable_event_is_handled_one_event_at_a_time(metrics: Metrics):
    k = key()
    run, task = Run(k), new_id()
    broken = run.task_created(new_id(), "review")
    del broken.data["node_id"]
    events = [run.started(), run.task_created(task, "review"), broken, run.completed(60)]
    assert await metrics.deliver_batch(*events) == ["handled", "handled", "dead", "handled"]
    summary = await metrics.summary(k)
    assert (summary["started"], summary["completed"], summary["tasks_created"]) == (1, 1, 1)


async def test_a_withdrawal_without_process_in_a_batch(metrics: Metrics):
    """Its instance started earlier in the batch: handled. Not seen at all: retried later, alone."""
    known, unknown = Run(key()), Run(key())
    withdrawals = [known.withdrawn(50), unknown.withdrawn(70)]
    for w in withdrawals:
        del w.data["definition_key"], w.data["definition_version"]
    outcomes = await metrics.deliver_batch(known.started(), withdrawals[0], withdrawals[1])
    assert outcomes == ["handled", "handled", "retry"]
    summary = await metrics.summary(known.key)
    assert (summary["started"], summary["withdrawn"], summary["running"]) == (1, 1, 0)


async def test_a_row_another_consumer_inserted_meanwhile_is_merged_into(
    metrics: Metrics, monkeypatch: pytest.MonkeyPatch
):
    """A replica inserts a task's row between this one's read and write: the batch rolls
    back and its events are handled again one at a time, merging into that row."""
    k = key()
    run, task = Run(k), new_id()
    created = run.task_created(task, "review", at_seconds=10)
    done = run.task_completed(task, "review", created_seconds=10, at_seconds=70)
    assert await metrics.deliver(run.started(), created) == ["handled", "handled"]

    lock_tasks = repository.lock_tasks
    calls = 0

    async def missing_the_first_time(*args: Any) -> dict[uuid.UUID, repository.Row]:
        nonlocal calls
        calls += 1
        rows = await lock_tasks(*args)
        return {} if calls == 1 else rows

    monkeypatch.setattr(repository, "lock_tasks", missing_the_first_time)
    assert await metrics.deliver_batch(done, run.completed(100)) == ["handled", "handled"]
    assert calls > 1
    summary = await metrics.summary(k)
    assert (summary["tasks_created"], summary["tasks_completed"], summary["open_tasks"]) == (1, 1, 0)
    assert summary["avg_task_seconds"] == 60.0
