"""More interventions around running called instances."""

from __future__ import annotations

from tests.admin_nested.helpers import act, skip_task, tokens, verify
from tests.bpmn_events.helpers import (
    bpmn,
    children,
    complete,
    flows,
    later,
    open_nodes,
    run_at,
    start,
    task,
    view,
)

CHILD = bpmn("am-child", '<startEvent id="cs"/>' + task("work") + '<endEvent id="ce"/>'
             + flows("cs>work", "work>ce"))
ESC_CHILD = bpmn("am-esc", '<startEvent id="cs"/>' + task("work")
                 + '<endEvent id="ce"><escalationEventDefinition escalationRef="esc_a"/></endEvent>'
                 + flows("cs>work", "work>ce"))


async def _active_children(runtime, inst: str) -> list[dict]:
    return [k for k in await children(runtime, inst) if k["state"] == "active"]


async def test_move_a_token_onto_its_own_call_activity_restarts_the_child(runtime):
    await runtime.publish(CHILD, "am-child")
    await runtime.publish(bpmn("am-re", '<startEvent id="s"/><callActivity id="call" calledElement="am-child"/>'
                               + task("next") + '<endEvent id="e"/>' + flows("s>call", "call>next", "next>e")),
                          "am-re")
    inst = (await start(runtime, "am-re"))["id"]
    [first] = await children(runtime, inst)
    r = await act(runtime, inst, "move", from_node="call", to_node="call", reason="restart the check")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["call"], r.text
    assert (await view(runtime, str(first["id"])))["state"] == "terminated"
    [second] = await _active_children(runtime, inst)
    await complete(runtime, str(second["id"]), "work")
    assert await open_nodes(runtime, inst) == ["next"]
    await verify(runtime, inst)


async def test_skip_one_instance_of_a_parallel_mi_call_activity(runtime):
    await runtime.publish(CHILD, "am-child")
    mi = '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>'
    mapping = '<extensionElements><camunda:in source="x" target="x"/></extensionElements>'
    await runtime.publish(bpmn("am-mi", f'<startEvent id="s"/><callActivity id="call" calledElement="am-child">{mapping}{mi}</callActivity>'
                               + task("next") + '<endEvent id="e"/>' + flows("s>call", "call>next", "next>e")),
                          "am-mi")
    inst = (await start(runtime, "am-mi"))["id"]
    kids = await children(runtime, inst)
    assert len(kids) == 3
    inner = [t for t in (await tokens(runtime, inst))["tokens"] if t["node_id"] == "call" and t["work_id"]]
    assert len(inner) == 3
    r = await act(runtime, inst, "skip", token_id=inner[0]["id"], reason="not needed")
    assert r.status_code == 200, r.text
    assert len(await _active_children(runtime, inst)) == 2
    for kid in await _active_children(runtime, inst):
        await complete(runtime, str(kid["id"]), "work")
    assert await open_nodes(runtime, inst) == ["next"]
    await verify(runtime, inst)


async def test_suspended_parent_waits_for_the_childs_escalation(runtime):
    await runtime.publish(ESC_CHILD, "am-esc")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="am-esc"/>'
            '<boundaryEvent id="eb" attachedToRef="call" cancelActivity="false">'
            '<escalationEventDefinition escalationRef="esc_a"/></boundaryEvent>'
            + task("next") + task("notice") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>next", "eb>notice", "next>e", "notice>e2"))
    await runtime.publish(bpmn("am-escp", body), "am-escp")
    inst = (await start(runtime, "am-escp"))["id"]
    [kid] = await children(runtime, inst)
    assert (await act(runtime, inst, "suspend", reason="hold")).status_code == 200
    await skip_task(runtime, str(kid["id"]), "work")
    await run_at(runtime, later(minutes=5))
    assert (await view(runtime, inst))["active_nodes"] == ["call"], "a suspended parent moved"
    assert (await act(runtime, inst, "resume", reason="go")).status_code == 200
    await run_at(runtime, later(minutes=10))
    await run_at(runtime, later(minutes=11))
    assert await open_nodes(runtime, inst) == ["next", "notice"]
    await verify(runtime, inst)


async def test_skip_call_activity_of_a_suspended_child_and_terminate_with_grandchild(runtime):
    await runtime.publish(CHILD, "am-child")
    await runtime.publish(bpmn("am-mid", '<startEvent id="ms"/><callActivity id="inner" calledElement="am-child"/>'
                               '<endEvent id="me"/>' + flows("ms>inner", "inner>me")), "am-mid")
    await runtime.publish(bpmn("am-top", '<startEvent id="s"/><callActivity id="call" calledElement="am-mid"/>'
                               + task("next") + '<endEvent id="e"/>' + flows("s>call", "call>next", "next>e")),
                          "am-top")
    inst = (await start(runtime, "am-top"))["id"]
    [mid] = await children(runtime, inst)
    [grand] = await children(runtime, str(mid["id"]))
    assert (await act(runtime, str(mid["id"]), "suspend", reason="hold child")).status_code == 200
    r = await act(runtime, inst, "terminate", reason="stop all")
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    mid_view = await view(runtime, str(mid["id"]))
    assert (mid_view["state"], mid_view["suspended"]) == ("terminated", False)
    assert (await view(runtime, str(grand["id"])))["state"] == "terminated"
    assert await open_nodes(runtime, str(grand["id"])) == []
    await verify(runtime, inst)
    await verify(runtime, str(mid["id"]))


async def test_parallel_mi_call_activity_without_mappings_completes(runtime):
    """No camunda:in/out: all variables go to the child and come back, the child's copy
    of the body's counters (nrOfCompletedInstances ...) too; it must not overwrite the
    body's (the body never counted past one and the instance was stuck)."""
    await runtime.publish(CHILD, "am-child")
    mi = '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>'
    await runtime.publish(bpmn("am-all", f'<startEvent id="s"/><callActivity id="call" calledElement="am-child">{mi}</callActivity>'
                               + task("next") + '<endEvent id="e"/>' + flows("s>call", "call>next", "next>e")),
                          "am-all")
    inst = (await start(runtime, "am-all"))["id"]
    for kid in await children(runtime, inst):
        await complete(runtime, str(kid["id"]), "work")
    assert await open_nodes(runtime, inst) == ["next"], (await tokens(runtime, inst))["scopes"]
