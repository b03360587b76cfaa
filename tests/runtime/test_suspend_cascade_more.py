"""The suspend cascade through call activities with multi-instance calls, termination,
external tasks, messages and migration."""

from __future__ import annotations

from sqlalchemy import select

from services.runtime.jobs.models import jobs
from tests.runtime.test_admin_suspend_cascade import CHILD, _act, _caller, _children, _complete, _suspension_entries
from tests.runtime.test_operations_helpers import (
    ADMIN,
    assert_chain_valid,
    history,
    instance,
    open_tasks,
    post,
    start,
)
from tests.runtime.timing import bpmn, later, run_at

TWICE_PAR = ('<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>2</loopCardinality>'
             "</multiInstanceLoopCharacteristics>")
THRICE_SEQ = ('<multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>3</loopCardinality>'
              "</multiInstanceLoopCharacteristics>")


async def _parent_and_child(runtime, key: str = "au") -> tuple[str, str]:
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(_caller(f"{key}-parent", "sc-child"), f"{key}-parent")
    parent = (await start(runtime, f"{key}-parent"))["id"]
    [child] = await _children(runtime, parent)
    return parent, child


async def _skip_task(runtime, instance_id: str, node_id: str, reason: str = "done by phone"):
    [task] = await open_tasks(runtime, instance_id, node_id)
    return await post(runtime, f"/admin/process-instances/{instance_id}/skip", ADMIN,
                      {"task_id": task["id"], "reason": reason})


async def _call_ended_jobs(runtime, parent: str) -> list[dict]:
    async with runtime.db.transaction() as session:
        rows = await session.execute(select(jobs).where(jobs.c.kind == "call_ended"))
        return [dict(r) for r in rows.mappings() if str(r["instance_id"]) == parent]


# -- a child that ends while its parent is suspended -----------------------------------------


async def test_report_of_a_child_ended_during_the_suspension_waits_and_is_delivered_later(runtime):
    parent, child = await _parent_and_child(runtime, "au2")
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    assert (await _skip_task(runtime, child, "assess")).status_code == 200
    await run_at(runtime, later(minutes=5))
    assert (await instance(runtime, parent))["active_nodes"] == ["call"], "still suspended: waits"
    assert (await _act(runtime, parent, "resume", "go on")).status_code == 200
    await run_at(runtime, later(minutes=10))
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]
    ended = [h for h in await history(runtime, parent) if h["action"] == "called_instance_ended"]
    assert [h["details"]["instance_id"] for h in ended] == [child]
    await assert_chain_valid(runtime, parent)


# -- terminate / resume after termination ----------------------------------------------------


async def test_terminating_a_suspended_parent_terminates_its_suspended_child(runtime):
    parent, child = await _parent_and_child(runtime, "au3")
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    r = await _act(runtime, parent, "terminate", "fraud")
    assert r.status_code == 200, r.text
    p, c = await instance(runtime, parent), await instance(runtime, child)
    assert (p["state"], p["suspended"]) == ("terminated", False)
    assert (c["state"], c["suspended"]) == ("terminated", False)
    assert await _call_ended_jobs(runtime, parent) == []
    await assert_chain_valid(runtime, child)


async def test_resume_after_a_cascaded_child_was_terminated(runtime):
    parent, child = await _parent_and_child(runtime, "au4")
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    assert (await _act(runtime, child, "terminate", "not needed")).status_code == 200
    r = await _act(runtime, parent, "resume", "go on")
    assert r.status_code == 200, r.text
    [entry] = [h for h in await history(runtime, parent) if h["action"] == "instance_resumed"]
    assert not (entry["details"] or {}).get("cascaded_to"), "nothing below was resumed"
    await run_at(runtime, later(minutes=2))
    view = await instance(runtime, parent)
    # the terminated child's report (an error) reaches the parent: unhandled, it ends it
    assert view["active_nodes"] != ["call"] or view["state"] != "active", view


# -- multi-instance call activities ----------------------------------------------------------


async def test_parallel_multi_instance_with_one_child_ended_suspends_only_the_running_one(runtime):
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(bpmn(
        "au5", f'<startEvent id="s"/><callActivity id="call" calledElement="sc-child">{TWICE_PAR}</callActivity>'
        '<userTask id="next" camunda:assignee="alice"/><endEvent id="e"/>', "s>call", "call>next", "next>e",
    ), "au5")
    parent = (await start(runtime, "au5"))["id"]
    first, second = await _children(runtime, parent)
    assert (await _complete(runtime, first, "assess")).status_code == 200
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    assert (await instance(runtime, first))["suspended"] is False
    assert (await instance(runtime, second))["suspended"] is True
    [entry] = [h for h in await history(runtime, parent) if h["action"] == "instance_suspended"]
    assert entry["details"]["cascaded_to"] == [second]
    assert (await _act(runtime, parent, "resume", "go")).status_code == 200
    assert (await _complete(runtime, second, "assess")).status_code == 200
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]


async def test_sequential_multi_instance_next_child_after_resume_runs(runtime):
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(bpmn(
        "au6", f'<startEvent id="s"/><callActivity id="call" calledElement="sc-child">{THRICE_SEQ}</callActivity>'
        '<userTask id="next" camunda:assignee="alice"/><endEvent id="e"/>', "s>call", "call>next", "next>e",
    ), "au6")
    parent = (await start(runtime, "au6"))["id"]
    [first] = await _children(runtime, parent)
    assert (await _complete(runtime, first, "assess")).status_code == 200
    second = [c for c in await _children(runtime, parent) if c != first][0]
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    assert (await instance(runtime, second))["suspended"] is True
    # the second child ends while the parent is suspended (an administrator's skip)
    assert (await _skip_task(runtime, second, "assess")).status_code == 200
    assert len(await _children(runtime, parent)) == 2, "no third child while the parent is suspended"
    assert (await _act(runtime, parent, "resume", "go")).status_code == 200
    await run_at(runtime, later(minutes=2))
    third = [c for c in await _children(runtime, parent) if c not in (first, second)]
    assert len(third) == 1
    assert (await instance(runtime, third[0]))["suspended"] is False
    assert (await _complete(runtime, third[0], "assess")).status_code == 200
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]


# -- a grandchild started under a suspended grandparent --------------------------------------


async def test_grandchild_started_by_skip_on_cascaded_middle_is_suspended_from_the_top(runtime):
    await runtime.publish(CHILD, "sc-child")
    await runtime.publish(_caller("au7-mid", "sc-child", before="prep"), "au7-mid")
    await runtime.publish(_caller("au7-top", "au7-mid"), "au7-top")
    top = (await start(runtime, "au7-top"))["id"]
    [mid] = await _children(runtime, top)
    assert (await _act(runtime, top, "suspend", "hold all")).status_code == 200
    assert (await _skip_task(runtime, mid, "prep")).status_code == 200
    [grand] = await _children(runtime, mid)
    view = await instance(runtime, grand)
    assert view["suspended"] is True
    assert await _suspension_entries(runtime, grand) == [("instance_suspended", "admin", "hold all", top)]
    assert (await _act(runtime, top, "resume", "go")).status_code == 200
    assert (await instance(runtime, grand))["suspended"] is False


# -- external work and messages on a cascaded child -----------------------------------------

EXT_CHILD = bpmn(
    "au-ext-child",
    '<startEvent id="cs"/><serviceTask id="book" camunda:type="external" camunda:topic="au-topic"/>'
    '<endEvent id="ce"/>',
    "cs>book", "book>ce",
)


async def _fetch(runtime, topic: str = "au-topic") -> list[dict]:
    r = await runtime.client.post(
        "/api/v1/external-tasks/fetch-and-lock",
        json={"worker_id": "w1", "max_tasks": 10, "topics": [{"name": topic, "lock_duration_ms": 60000}]},
        headers=runtime.auth("erp-bot", "worker"),
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_external_task_of_a_cascaded_child_is_not_handed_out(runtime):
    await runtime.publish(EXT_CHILD, "au-ext-child")
    await runtime.publish(_caller("au8", "au-ext-child"), "au8")
    parent = (await start(runtime, "au8"))["id"]
    [child] = await _children(runtime, parent)
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    assert await _fetch(runtime) == []
    assert (await _act(runtime, parent, "resume", "go")).status_code == 200
    [item] = await _fetch(runtime)
    assert item["instance_id"] == child


MSG_CHILD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">'
    b'<message id="m1" name="au-paid"/>'
    b'<process id="au-msg-child" isExecutable="true"><startEvent id="cs"/>'
    b'<intermediateCatchEvent id="wait"><messageEventDefinition messageRef="m1"/></intermediateCatchEvent>'
    b'<endEvent id="ce"/><sequenceFlow id="f1" sourceRef="cs" targetRef="wait"/>'
    b'<sequenceFlow id="f2" sourceRef="wait" targetRef="ce"/></process></definitions>'
)


async def test_message_for_a_cascaded_child_is_not_correlated_while_suspended(runtime):
    await runtime.publish(MSG_CHILD, "au-msg-child")
    await runtime.publish(_caller("au9", "au-msg-child"), "au9")
    parent = (await start(runtime, "au9"))["id"]
    [child] = await _children(runtime, parent)
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    r = await runtime.client.post("/api/v1/messages", json={"name": "au-paid"},
                                  headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code in (404, 409), r.text
    assert (await instance(runtime, child))["active_nodes"] == ["wait"]
    assert (await _act(runtime, parent, "resume", "go")).status_code == 200
    r = await runtime.client.post("/api/v1/messages", json={"name": "au-paid"},
                                  headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code == 200, r.text
    assert (await instance(runtime, child))["state"] == "completed"
    assert (await instance(runtime, parent))["active_nodes"] == ["next"]


# -- migration of a cascaded child -----------------------------------------------------------


async def test_migrating_a_cascaded_child_keeps_its_suspension_and_its_origin(runtime):
    parent, child = await _parent_and_child(runtime, "au10")
    child_v1 = (await instance(runtime, child))["definition_id"]
    child_v2 = await runtime.publish(CHILD.replace(b'camunda:assignee="carol"/><boundary',
                                                   b'camunda:assignee="dave"/><boundary'), "sc-child", version=2)
    assert (await _act(runtime, parent, "suspend", "hold")).status_code == 200
    r = await runtime.client.post(
        "/api/v1/migrations",
        json={"from_definition_id": child_v1, "to_definition_id": child_v2, "instance_ids": [child],
              "reason": "fix", "mapping": {}},
        headers=runtime.auth(*ADMIN),
    )
    assert r.status_code in (200, 201, 202), r.text
    await run_at(runtime, later(seconds=1))
    view = await instance(runtime, child)
    assert view["definition_id"] == child_v2, view
    assert view["suspended"] is True
    assert (await _act(runtime, parent, "resume", "go")).status_code == 200
    assert (await instance(runtime, child))["suspended"] is False
    await assert_chain_valid(runtime, child)
