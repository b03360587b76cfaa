"""The merge rules that make the fact tables independent of event arrival order (pure logic)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from services.metrics.facts.records import InstanceRecord, TaskRecord, merge_instance, merge_task

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
INSTANCE, TASK = uuid.uuid4(), uuid.uuid4()


def instance(state: str, sequence: int, **kw: Any) -> InstanceRecord:
    return InstanceRecord(INSTANCE, "expense", 1, state, sequence, False, **kw)


def task(state: str, sequence: int, **kw: Any) -> TaskRecord:
    return TaskRecord(TASK, INSTANCE, "expense", 1, "review", state, sequence, None, **kw)


def test_a_late_start_fills_in_what_the_completion_did_not_say():
    completed = instance("completed", 4, started_at=T0, ended_at=T0 + dt.timedelta(seconds=90))
    started = instance("running", 1, started_at=T0, initiator="alice", business_key="BK-1")
    merged = merge_instance(completed, started)
    assert (merged.state, merged.sequence, merged.cycle_seconds) == ("completed", 4, 90.0)
    assert (merged.initiator, merged.business_key) == ("alice", "BK-1")


@pytest.mark.parametrize("first_arrives", ["completed", "terminated"])
def test_between_two_endings_the_newer_event_wins_in_either_order(first_arrives: str):
    completed = instance("completed", 3, started_at=T0, ended_at=T0 + dt.timedelta(seconds=60))
    terminated = instance(
        "terminated", 5, started_at=T0, ended_at=T0 + dt.timedelta(seconds=80), ended_by="admin"
    )
    first, second = (
        (completed, terminated) if first_arrives == "completed" else (terminated, completed)
    )
    merged = merge_instance(first, second)
    assert (merged.state, merged.ended_by, merged.cycle_seconds) == ("terminated", "admin", 80.0)


def test_an_ended_task_is_never_reopened_and_keeps_its_creation_details():
    done = task(
        "completed", 3, created_at=T0, ended_at=T0 + dt.timedelta(seconds=30), actor="carol"
    )
    created = task(
        "open", 2, created_at=T0, assignee="carol", candidate_roles=("finance_reviewer",)
    )
    merged = merge_task(done, created)
    assert (merged.state, merged.actor, merged.ended_at) == (
        "completed",
        "carol",
        T0 + dt.timedelta(seconds=30),
    )
    assert (merged.assignee, merged.candidate_roles) == ("carol", ("finance_reviewer",))


@pytest.mark.parametrize("first_arrives", ["withdrawn", "terminated"])
def test_a_withdrawal_stays_a_withdrawal_whichever_report_comes_last(first_arrives: str):
    withdrawn = instance("withdrawn", 4, ended_at=T0, ended_by="alice", end_reason="not needed")
    terminated = instance("terminated", 5, ended_at=T0, ended_by="alice", end_reason="withdrawn")
    first, second = (
        (withdrawn, terminated) if first_arrives == "withdrawn" else (terminated, withdrawn)
    )
    merged = merge_instance(first, second)
    assert (merged.state, merged.end_reason, merged.sequence) == ("withdrawn", "not needed", 5)


def test_a_returned_task_stays_returned_and_its_first_action_is_the_earliest():
    returned = task(
        "returned",
        6,
        ended_at=T0 + dt.timedelta(hours=2),
        first_action_at=T0 + dt.timedelta(hours=2),
    )
    cancelled = task("cancelled", 7, ended_at=T0 + dt.timedelta(hours=2), end_reason="returned")
    claimed = task("open", 3, first_action_at=T0 + dt.timedelta(hours=1))
    merged = merge_task(merge_task(returned, cancelled), claimed)
    assert (merged.state, merged.first_action_at) == ("returned", T0 + dt.timedelta(hours=1))
