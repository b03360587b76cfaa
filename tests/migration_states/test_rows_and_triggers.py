"""Migration: task rows follow the engine under a chained mapping; a waiting event
whose trigger changes kind; a join that loses an incoming flow."""

from __future__ import annotations

from tests.migration_states.helpers import bpmn, dry_run, instance_jobs, instance_subs, migrate_all
from tests.runtime.test_operations_helpers import (
    assert_chain_valid,
    instance,
    only_task,
    open_tasks,
    post,
    start,
)

TASK = '<userTask id="{0}" name="{1}" camunda:assignee="carol"/>'


async def test_a_chained_mapping_leaves_the_task_row_where_the_engine_token_is(runtime):
    # v2 inserts a step: the old `a` becomes `b`, the old `b` becomes `c`
    v1 = await runtime.publish(bpmn("chain", '<startEvent id="s"/>' + TASK.format("a", "First")
                                    + TASK.format("b", "Second") + '<endEvent id="e"/>',
                                    "s>a", "a>b", "b>e"), "chain", version=1)
    inst = await start(runtime, "chain")
    v2 = await runtime.publish(bpmn("chain", '<startEvent id="s"/>' + TASK.format("b", "First")
                                    + TASK.format("c", "Second") + '<endEvent id="e"/>',
                                    "s>b", "b>c", "c>e"), "chain", version=2)
    done = await migrate_all(runtime, v1, v2, {"a": "b", "b": "c"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    assert (await instance(runtime, inst["id"]))["active_nodes"] == ["b"]
    [task] = await open_tasks(runtime, inst["id"])
    assert (task["node_id"], task["name"]) == ("b", "First"), task


CATCH = '<intermediateCatchEvent id="wait">{0}</intermediateCatchEvent>'
MESSAGE = '<messageEventDefinition messageRef="m"/>'
SIGNAL = '<signalEventDefinition signalRef="sg"/>'
TIMER = '<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>'
ROOTS = '<message id="m" name="go"/><signal id="sg" name="go"/>'


def _catching(definition: str) -> bytes:
    return bpmn("catch", '<startEvent id="s"/>' + CATCH.format(definition) + TASK.format("after", "After")
                + '<endEvent id="e"/>', "s>wait", "wait>after", "after>e", roots=ROOTS)


async def test_a_message_catch_event_that_becomes_a_timer_gets_its_timer(runtime):
    v1 = await runtime.publish(_catching(MESSAGE), "catch", version=1)
    inst = await start(runtime, "catch")
    v2 = await runtime.publish(_catching(TIMER), "catch", version=2)
    plan = await dry_run(runtime, v1, v2)
    assert plan["summary"] == {"ok": 1, "refused": 0}, "the dry run says it can migrate"
    done = await migrate_all(runtime, v1, v2)
    assert done["migrated"] == 1
    subs = await instance_subs(runtime, inst["id"])
    timers = [j for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"]
    assert subs == [] and len(timers) == 1, (
        f"waiting at a timer catch event with subscriptions {[(s['kind'], s['name']) for s in subs]} "
        f"and timers {timers}: nothing can move the instance"
    )


async def test_a_message_catch_event_that_becomes_a_signal_waits_for_the_signal(runtime):
    v1 = await runtime.publish(_catching(MESSAGE), "catch", version=1)
    inst = await start(runtime, "catch")
    v2 = await runtime.publish(_catching(SIGNAL), "catch", version=2)
    done = await migrate_all(runtime, v1, v2)
    assert done["migrated"] == 1
    r = await runtime.client.post("/api/v1/signals", json={"name": "go"}, headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code == 200, r.text
    assert (await instance(runtime, inst["id"]))["active_nodes"] == ["after"], (
        f"subscriptions: {[(s['kind'], s['name']) for s in await instance_subs(runtime, inst['id'])]}"
    )


def _joining(c_target: str) -> bytes:
    body = ('<startEvent id="s"/><parallelGateway id="fork"/>' + TASK.format("A", "A") + TASK.format("B", "B")
            + TASK.format("C", "C") + '<parallelGateway id="join"/>' + TASK.format("after", "After")
            + '<endEvent id="e"/><endEvent id="e2"/>')
    return bpmn("join", body, "s>fork", "fork>A", "fork>B", "fork>C", "A>join", "B>join",
                f"C>{c_target}", "join>after", "after>e")


async def test_a_parallel_join_that_loses_an_incoming_flow_is_not_left_stuck(runtime):
    """v2 no longer joins branch C. With A and B arrived the migration is refused, as
    Camunda 7 refuses it (a target join needs at least the source's incoming flows):
    accepted, the join would never fire, since nothing arrives at it again."""
    v1 = await runtime.publish(_joining("join"), "join", version=1)
    inst = await start(runtime, "join")
    for node in ("A", "B"):
        task = await only_task(runtime, inst["id"], node)
        assert (await post(runtime, f"/tasks/{task['id']}/complete", ("carol",))).status_code == 200
    v2 = await runtime.publish(_joining("e2"), "join", version=2)
    plan = await dry_run(runtime, v1, v2)
    assert plan["summary"]["refused"] == 1, plan
    c = await only_task(runtime, inst["id"], "C")
    r = await post(runtime, f"/tasks/{c['id']}/complete", ("carol",))
    assert r.status_code == 200, r.text
    view = await instance(runtime, inst["id"])
    assert view["state"] == "active" and view["active_nodes"] == ["after"], "it goes on on its version"
    await assert_chain_valid(runtime, inst["id"])
