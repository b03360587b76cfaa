"""An administrator's suspend reaches the instances a call activity started: their tasks
refuse completion, their timers wait, each has its own history entry and event naming
the instance that was suspended; the resume undoes exactly what the suspend did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from tests.admin_nested.helpers import skip_task
from tests.runtime.conftest import Runtime, committed_runtime
from tests.runtime.test_job_lock_races import changed_meanwhile, queued_behind_lock
from tests.runtime.test_job_lock_races import suspend as race_suspend
from tests.runtime.test_operations_helpers import (
    ADMIN,
    assert_chain_valid,
    events,
    history,
    instance,
    open_tasks,
    post,
    start,
)
from tests.runtime.timing import bpmn, later, run_at

#: the called process: a task with a one-hour interrupting timer on it
CHILD = bpmn(
    "sc-child",
    '<startEvent id="cs"/><userTask id="assess" camunda:assignee="carol"/>'
    '<boundaryEvent id="too_late" attachedToRef="assess"><timerEventDefinition>'
    "<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>"
    '<userTask id="chase" camunda:assignee="carol"/><endEvent id="ce"/><endEvent id="ce2"/>',
    "cs>assess", "assess>ce", "too_late>chase", "chase>ce2",
)


def _caller(key: str, called: str, before: str = "") -> bytes:
    """start > [before task] > call activity of `called` > next > end."""
    first = f'<userTask id="{before}" camunda:assignee="alice"/>' if before else ""
    path = ("s>" + before, before + ">call") if before else ("s>call",)
    return bpmn(
        key,
        f'<startEvent id="s"/>{first}<callActivity id="call" calledElement="{called}"/>'
        '<userTask id="next" camunda:assignee="alice"/><endEvent id="e"/>',
        *path, "call>next", "next>e",
    )


def _path(instance_id: str, action: str) -> str:
    return f"/admin/process-instances/{instance_id}/{action}"


async def _act(runtime, instance_id: str, action: str, reason: str = "audit") -> Any:
    return await post(runtime, _path(instance_id, action), ADMIN, {"reason": reason})


async def _children(runtime, parent_id: str) -> list[str]:
    r = await runtime.client.get(
        f"/api/v1/process-instances/{parent_id}/called-instances", headers=runtime.auth(*ADMIN)
    )
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def _complete(runtime, instance_id: str, node_id: str) -> Any:
    [task] = await open_tasks(runtime, instance_id, node_id)
    return await runtime.client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": {}}, headers=runtime.auth(task["assignee"])
    )


async def _suspension_entries(runtime, instance_id: str) -> list[tuple]:
    return [
        (h["action"], h["actor"], h["comment"], (h["details"] or {}).get("cascade_from"))
        for h in await history(runtime, instance_id)
        if h["action"] in ("instance_suspended", "instance_resumed")
    ]


async def _parent_and_child(runtime) -> tuple[str, str]:
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(_caller("sc-parent", "sc-child"), "sc-parent")
    parent = (await start(runtime, "sc-parent"))["id"]
    [child] = await _children(runtime, parent)
    assert (await instance(runtime, child))["active_nodes"] == ["assess"]
    return parent, child


async def test_a_suspended_parent_suspends_its_child_and_the_resume_resumes_it(runtime):
    parent, child = await _parent_and_child(runtime)
    r = await _act(runtime, parent, "suspend", "fraud check")
    assert r.status_code == 200, r.text
    assert (r.json()["suspended"], r.json().get("suspended_by")) == (True, None)
    assert (await instance(runtime, child))["suspended"] is True, "the called instance stops with its parent"

    refused = await _complete(runtime, child, "assess")
    assert refused.status_code == 409 and "suspended" in refused.json()["detail"], refused.text
    assert (await instance(runtime, child))["active_nodes"] == ["assess"]

    r = await _act(runtime, parent, "resume", "all clear")
    assert r.status_code == 200 and r.json()["suspended"] is False, r.text
    assert (await instance(runtime, child))["suspended"] is False
    done = await _complete(runtime, child, "assess")
    assert done.status_code == 200, done.text
    assert (await instance(runtime, child))["state"] == "completed"
    assert (await instance(runtime, parent))["active_nodes"] == ["next"], "the report reached the resumed parent"

    assert await _suspension_entries(runtime, child) == [
        ("instance_suspended", "admin", "fraud check", parent),
        ("instance_resumed", "admin", "all clear", parent),
    ]
    parent_entries = [h for h in await history(runtime, parent) if h["action"] == "instance_suspended"]
    assert [h["details"]["cascaded_to"] for h in parent_entries] == [[child]]
    changes = [
        (e["type"].rsplit(".", 1)[1], e["data"]["instance_id"], e["data"]["cascade_from"], e["data"]["reason"])
        for e in await events(runtime)
        if e["type"] in ("bpm.runtime.instance.suspended", "bpm.runtime.instance.resumed")
    ]
    assert sorted(changes) == sorted([
        ("suspended", parent, None, "fraud check"),
        ("suspended", child, parent, "fraud check"),
        ("resumed", parent, None, "all clear"),
        ("resumed", child, parent, "all clear"),
    ])
    await assert_chain_valid(runtime, parent)
    await assert_chain_valid(runtime, child)


async def test_the_suspend_reaches_a_grandchild_and_the_resume_too(runtime):
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(_caller("sc-mid", "sc-child"), "sc-mid")
    await runtime.publish(_caller("sc-top", "sc-mid"), "sc-top")
    top = (await start(runtime, "sc-top"))["id"]
    [mid] = await _children(runtime, top)
    [grand] = await _children(runtime, mid)

    assert (await _act(runtime, top, "suspend", "hold the request")).status_code == 200
    for below in (mid, grand):
        assert (await instance(runtime, below))["suspended"] is True
        assert await _suspension_entries(runtime, below) == [("instance_suspended", "admin", "hold the request", top)]
    assert (await _complete(runtime, grand, "assess")).status_code == 409
    [entry] = [h for h in await history(runtime, top) if h["action"] == "instance_suspended"]
    assert entry["details"]["cascaded_to"] == [mid, grand], "parent first, then the level below"

    assert (await _act(runtime, top, "resume", "go on")).status_code == 200
    assert not any([(await instance(runtime, i))["suspended"] for i in (top, mid, grand)])
    assert (await _complete(runtime, grand, "assess")).status_code == 200
    assert (await instance(runtime, mid))["active_nodes"] == ["next"]
    for each in (top, mid, grand):
        await assert_chain_valid(runtime, each)


async def test_a_child_suspended_on_its_own_stays_suspended_after_the_parents_resume(runtime):
    """Two children of one multi-instance call activity: the one an administrator suspended
    first keeps its own suspension; the other stops and goes on with the parent."""
    await runtime.publish(CHILD, "sc-child")
    twice = ('<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>2</loopCardinality>'
             "</multiInstanceLoopCharacteristics>")
    await runtime.publish(bpmn(
        "sc-two", f'<startEvent id="s"/><callActivity id="call" calledElement="sc-child">{twice}</callActivity>'
        '<userTask id="next" camunda:assignee="alice"/><endEvent id="e"/>', "s>call", "call>next", "next>e",
    ), "sc-two")
    parent = (await start(runtime, "sc-two"))["id"]
    own, other = await _children(runtime, parent)
    assert (await _act(runtime, own, "suspend", "bureau is down")).status_code == 200
    assert (await _act(runtime, parent, "suspend", "fraud check")).status_code == 200
    assert (await instance(runtime, other))["suspended"] is True
    assert await _suspension_entries(runtime, own) == [("instance_suspended", "admin", "bureau is down", None)]
    assert await _suspension_entries(runtime, other) == [("instance_suspended", "admin", "fraud check", parent)]
    [entry] = [h for h in await history(runtime, parent) if h["action"] == "instance_suspended"]
    assert entry["details"]["cascaded_to"] == [other], "the child suspended already was left as it was"

    assert (await _act(runtime, parent, "resume", "all clear")).status_code == 200
    assert (await instance(runtime, other))["suspended"] is False
    assert (await instance(runtime, own))["suspended"] is True, "its own suspension holds"
    assert (await _complete(runtime, own, "assess")).status_code == 409
    assert (await _complete(runtime, other, "assess")).status_code == 200
    assert await _suspension_entries(runtime, own) == [("instance_suspended", "admin", "bureau is down", None)]

    assert (await _act(runtime, own, "resume", "bureau is back")).status_code == 200
    assert (await _complete(runtime, own, "assess")).status_code == 200
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]
    for each in (parent, own, other):
        await assert_chain_valid(runtime, each)


async def test_the_timer_of_a_suspended_child_waits_for_the_resume(runtime):
    parent, child = await _parent_and_child(runtime)
    assert (await _act(runtime, parent, "suspend", "investigation")).status_code == 200
    await run_at(runtime, later(hours=2))
    assert (await instance(runtime, child))["active_nodes"] == ["assess"], "the child's timer waited"
    assert (await _act(runtime, parent, "resume", "cleared")).status_code == 200
    await run_at(runtime, later(seconds=2))
    assert (await instance(runtime, child))["active_nodes"] == ["chase"], "the timer fired right after the resume"
    await assert_chain_valid(runtime, child)


async def test_the_report_of_a_child_that_ended_meanwhile_reaches_the_parent_right_after_the_resume(runtime):
    """An administrator finishes the suspended child's task: the child ends, its report
    waits for the parent's resume, and is delivered as soon as the worker runs then."""
    parent, child = await _parent_and_child(runtime)
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    await skip_task(runtime, child, "assess")
    assert (await instance(runtime, child))["state"] == "completed"
    await run_at(runtime, later(seconds=2))
    assert (await instance(runtime, parent))["active_nodes"] == ["call"], "the report waits for the resume"
    assert (await _act(runtime, parent, "resume", "go on")).status_code == 200
    await run_at(runtime, later(seconds=2))
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]
    await assert_chain_valid(runtime, parent)


async def test_a_child_started_while_its_parent_is_suspended_starts_suspended(runtime):
    """An administrator skips the suspended parent's first task: its call activity starts
    the child, which must not run while the parent is suspended."""
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(_caller("sc-later", "sc-child", before="prepare"), "sc-later")
    parent = (await start(runtime, "sc-later"))["id"]
    assert (await _act(runtime, parent, "suspend", "fraud check")).status_code == 200
    [prepare] = await open_tasks(runtime, parent, "prepare")
    skipped = await post(runtime, _path(parent, "skip"), ADMIN, {"task_id": prepare["id"], "reason": "not needed"})
    assert skipped.status_code == 200 and skipped.json()["active_nodes"] == ["call"], skipped.text
    [child] = await _children(runtime, parent)
    view = await instance(runtime, child)
    assert (view["suspended"], view["active_nodes"]) == (True, ["assess"])
    assert await _suspension_entries(runtime, child) == [("instance_suspended", "admin", "fraud check", parent)]
    assert (await _complete(runtime, child, "assess")).status_code == 409

    assert (await _act(runtime, parent, "resume", "all clear")).status_code == 200
    assert (await instance(runtime, child))["suspended"] is False
    assert (await _complete(runtime, child, "assess")).status_code == 200
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]
    await assert_chain_valid(runtime, child)


async def test_refusals_of_suspend_and_resume_along_the_call_chain(runtime):
    parent, child = await _parent_and_child(runtime)
    missing = "0190f000-0000-7000-8000-000000000000"
    assert (await _act(runtime, missing, "suspend")).status_code == 404
    assert (await _act(runtime, missing, "resume")).status_code == 404
    for body in ({}, {"reason": " "}):
        r = await post(runtime, _path(parent, "suspend"), ADMIN, body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason", r.text
    assert (await _act(runtime, parent, "resume")).status_code == 409, "not suspended"

    assert (await _act(runtime, parent, "suspend", "fraud check")).status_code == 200
    again = await _act(runtime, child, "suspend", "again")
    assert again.status_code == 409 and parent in again.json()["detail"], again.text
    early = await _act(runtime, child, "resume", "too early")
    assert early.status_code == 409, early.text
    assert f"resume {parent}" in early.json()["detail"], "the detail names the instance to resume"
    assert (await instance(runtime, child))["suspended"] is True
    assert (await _act(runtime, parent, "suspend", "twice")).status_code == 409

    # a child suspended on its own cannot be resumed while its parent is suspended either
    assert (await _act(runtime, parent, "resume", "ok")).status_code == 200
    assert (await _act(runtime, child, "suspend", "own")).status_code == 200
    assert (await _act(runtime, parent, "suspend", "again")).status_code == 200
    own = await _act(runtime, child, "resume", "mine")
    assert own.status_code == 409 and f"resume {parent}" in own.json()["detail"], own.text
    assert (await _act(runtime, parent, "resume", "ok")).status_code == 200
    assert (await _act(runtime, child, "resume", "mine")).status_code == 200
    await assert_chain_valid(runtime, child)


@pytest_asyncio.fixture(loop_scope="session")
async def committed(pg_url, run_prefix, token_for) -> AsyncIterator[Runtime]:
    """A runtime on a database of its own with real commits (see test_job_lock_races.py)."""
    async with committed_runtime(pg_url, f"{run_prefix}_suspend_cascade", token_for) as runtime:
        yield runtime


async def test_the_suspend_locks_the_child_and_takes_it_as_it_is_once_locked(committed):
    """Another transaction holds the child (it suspends it on its own meanwhile): the
    parent's suspend waits for the child's lock, then leaves the child's own suspension
    alone, and the parent's resume does not lift it."""
    parent, child = await _parent_and_child(committed)
    async with changed_meanwhile(committed.db, child, race_suspend(child)):
        suspending = await queued_behind_lock(committed.db, _act(committed, parent, "suspend", "fraud check"))
    assert (await suspending).status_code == 200
    assert await _suspension_entries(committed, child) == [], "the child was suspended already once locked"
    assert (await _act(committed, parent, "resume", "all clear")).status_code == 200
    assert (await instance(committed, child))["suspended"] is True
