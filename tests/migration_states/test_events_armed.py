"""Migration: which timers and subscriptions a migration keeps, closes and opens."""

from __future__ import annotations

import datetime as dt

from services.runtime.jobs.worker import JobRunner
from tests.migration_states.helpers import bpmn, dry_run, instance_jobs, instance_subs, migrate_all
from tests.runtime.test_operations_helpers import (
    assert_chain_valid,
    instance,
    model,
    only_task,
    open_tasks,
    post,
    start,
)

TASK = '<userTask id="{0}" name="{1}" camunda:assignee="carol"/>'
REMIND = ('<boundaryEvent id="remind" attachedToRef="manager" cancelActivity="false"><timerEventDefinition>'
          '<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>'
          '<userTask id="nudge" name="Nudge" camunda:assignee="erin"/><endEvent id="nudged"/>'
          '<sequenceFlow id="r1" sourceRef="remind" targetRef="nudge"/>'
          '<sequenceFlow id="r2" sourceRef="nudge" targetRef="nudged"/>')


async def test_a_boundary_timer_added_to_a_task_with_a_parallel_signer_is_armed_once(runtime):
    """The engine arms a task's boundary events for its token only, not for a parallel
    signer's token (`create_task(..., arm=False)`); `_rearm` arms new ones for every token."""
    v1 = await runtime.publish(model("operations-approval.bpmn"), "leave-request", version=1)
    await runtime.user("dave", department="sales")
    inst = await start(runtime, "leave-request")
    submit = await only_task(runtime, inst["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    manager = await only_task(runtime, inst["id"], "manager")
    r = await post(runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "parallel"})
    assert r.status_code == 201, r.text
    xml = model("operations-approval.bpmn").replace(b"</process>", REMIND.encode() + b"</process>")
    v2 = await runtime.publish(xml, "leave-request", version=2)
    done = await migrate_all(runtime, v1, v2)
    assert done["migrated"] == 1
    await JobRunner(runtime.client.app.state.ctx).run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    nudges = [t for t in await open_tasks(runtime, inst["id"]) if t["node_id"] == "nudge"]
    assert len(nudges) == 1, f"one reminder expected, the migration armed the timer per token: {len(nudges)}"


def _two_tasks(boundary_on: str, trigger: str = "timer") -> bytes:
    definition = ('<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>'
                  if trigger == "timer" else '<messageEventDefinition messageRef="m"/>')
    body = ('<startEvent id="s"/>' + TASK.format("A", "A") + TASK.format("B", "B") + '<endEvent id="e"/>'
            f'<boundaryEvent id="late" attachedToRef="{boundary_on}">{definition}</boundaryEvent>'
            + TASK.format("chase", "Chase") + '<endEvent id="e2"/>')
    return bpmn("two", body, "s>A", "A>B", "B>e", "late>chase", "chase>e2", roots='<message id="m" name="hurry"/>')


async def test_a_boundary_event_moved_to_the_task_where_the_token_waits_is_armed(runtime):
    """v1: the timer `late` sits on A; v2 moves it to B. An instance at B had no timer and
    gets none: `_rearm` arms only events whose id the old version lacked."""
    v1 = await runtime.publish(_two_tasks("A"), "two", version=1)
    inst = await start(runtime, "two")
    a = await only_task(runtime, inst["id"], "A")
    assert (await post(runtime, f"/tasks/{a['id']}/complete", ("carol",))).status_code == 200
    v2 = await runtime.publish(_two_tasks("B"), "two", version=2)
    await migrate_all(runtime, v1, v2)
    timers = [j["node_id"] for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"]
    assert timers == ["late"], f"the instance waits at B, whose v2 timer `late` is not armed: {timers}"


async def test_a_boundary_timer_that_becomes_a_message_boundary_waits_for_the_message(runtime):
    v1 = await runtime.publish(_two_tasks("A"), "two", version=1)
    inst = await start(runtime, "two")
    v2 = await runtime.publish(_two_tasks("A", "message"), "two", version=2)
    assert (await dry_run(runtime, v1, v2))["summary"] == {"ok": 1, "refused": 0}
    await migrate_all(runtime, v1, v2)
    timers = [j["node_id"] for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"]
    subs = [(s["kind"], s["name"], s["node_id"]) for s in await instance_subs(runtime, inst["id"])]
    assert (timers, subs) == ([], [("message", "hurry", "late")]), (timers, subs)


async def test_a_message_to_a_subscription_left_on_a_timer_catch_event_gives_no_500(runtime):
    def catching(definition: str) -> bytes:
        return bpmn("catch2", '<startEvent id="s"/><intermediateCatchEvent id="wait">' + definition
                    + '</intermediateCatchEvent>' + TASK.format("after", "After") + '<endEvent id="e"/>',
                    "s>wait", "wait>after", "after>e", roots='<message id="m" name="go2"/>')
    v1 = await runtime.publish(catching('<messageEventDefinition messageRef="m"/>'), "catch2", version=1)
    inst = await start(runtime, "catch2")
    v2 = await runtime.publish(catching('<timerEventDefinition><timeDuration>PT1H</timeDuration>'
                                        '</timerEventDefinition>'), "catch2", version=2)
    await migrate_all(runtime, v1, v2)
    r = await runtime.client.post("/api/v1/messages", json={"name": "go2"}, headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code < 500, r.text
    await JobRunner(runtime.client.app.state.ctx).run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    view = await instance(runtime, inst["id"])
    assert view["active_nodes"] != ["wait"], f"{r.status_code} {r.text}; still at {view['active_nodes']}"


def _inclusive(b_target: str) -> bytes:
    body = ('<startEvent id="s"/><inclusiveGateway id="fork"/>' + TASK.format("A", "A") + TASK.format("B", "B")
            + '<inclusiveGateway id="join"/>' + TASK.format("after", "After") + '<endEvent id="e"/><endEvent id="e2"/>')
    return bpmn("incl", body, "s>fork", "fork>A:${true}", "fork>B:${true}", "A>join", f"B>{b_target}",
                "join>after", "after>e")


async def test_an_inclusive_join_waiting_for_a_branch_that_no_longer_joins(runtime):
    v1 = await runtime.publish(_inclusive("join"), "incl", version=1)
    inst = await start(runtime, "incl")
    a = await only_task(runtime, inst["id"], "A")
    assert (await post(runtime, f"/tasks/{a['id']}/complete", ("carol",))).status_code == 200
    v2 = await runtime.publish(_inclusive("e2"), "incl", version=2)
    if (await dry_run(runtime, v1, v2))["summary"]["refused"]:
        return
    await migrate_all(runtime, v1, v2)
    b = await only_task(runtime, inst["id"], "B")
    assert (await post(runtime, f"/tasks/{b['id']}/complete", ("carol",))).status_code == 200
    view = await instance(runtime, inst["id"])
    assert view["active_nodes"] == ["after"], f"stuck at {view['active_nodes']}"


async def test_an_inclusive_join_with_one_branch_in_migrates_and_joins(runtime):
    v1 = await runtime.publish(_inclusive("join"), "incl", version=1)
    inst = await start(runtime, "incl")
    a = await only_task(runtime, inst["id"], "A")
    assert (await post(runtime, f"/tasks/{a['id']}/complete", ("carol",))).status_code == 200
    v2 = await runtime.publish(_inclusive("join").replace(b"</process>", b'<userTask id="x"/></process>'),
                               "incl", version=2)
    await migrate_all(runtime, v1, v2)
    b = await only_task(runtime, inst["id"], "B")
    r = await post(runtime, f"/tasks/{b['id']}/complete", ("carol",))
    assert r.json()["active_nodes"] == ["after"], r.text
    await assert_chain_valid(runtime, inst["id"])


def _gateway(extra_target: bool) -> bytes:
    body = ('<startEvent id="s"/><eventBasedGateway id="g"/>'
            '<intermediateCatchEvent id="paid"><messageEventDefinition messageRef="m"/></intermediateCatchEvent>'
            '<intermediateCatchEvent id="timeout"><timerEventDefinition><timeDuration>P1D</timeDuration>'
            '</timerEventDefinition></intermediateCatchEvent>'
            + ('<intermediateCatchEvent id="cancelled"><signalEventDefinition signalRef="sg"/></intermediateCatchEvent>'
               if extra_target else '')
            + TASK.format("ship", "Ship") + TASK.format("chase", "Chase") + '<endEvent id="e"/>')
    flows = ["s>g", "g>paid", "g>timeout", "paid>ship", "timeout>chase", "ship>e", "chase>e"]
    if extra_target:
        flows += ["g>cancelled", "cancelled>e"]
    return bpmn("ebg", body, *flows, roots='<message id="m" name="paid"/><signal id="sg" name="order-cancelled"/>')


async def test_an_event_gateway_gets_the_branch_the_new_version_adds(runtime):
    v1 = await runtime.publish(_gateway(False), "ebg", version=1)
    inst = await start(runtime, "ebg")
    v2 = await runtime.publish(_gateway(True), "ebg", version=2)
    await migrate_all(runtime, v1, v2)
    subs = sorted((s["kind"], s["node_id"]) for s in await instance_subs(runtime, inst["id"]))
    assert subs == [("message", "paid"), ("signal", "cancelled")], subs
    r = await runtime.client.post("/api/v1/signals", json={"name": "order-cancelled"},
                                  headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code == 200, r.text
    view = await instance(runtime, inst["id"])
    assert view["state"] == "completed", view
    assert await instance_jobs(runtime, inst["id"]) == [] and await instance_subs(runtime, inst["id"]) == []
