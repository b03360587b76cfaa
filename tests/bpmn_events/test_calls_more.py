"""Call activities with multi-instance, terminate and interrupting event sub-processes."""

from __future__ import annotations

from tests.bpmn_events.helpers import (
    bpmn,
    children,
    complete,
    esp,
    flows,
    job_rows,
    open_nodes,
    run_jobs,
    start,
    sub,
    task,
    trail,
    view,
)


def _child(key: str) -> bytes:
    return bpmn(key, '<startEvent id="cs"/>' + task("prep") + '<exclusiveGateway id="g" default="okf"/>'
                '<endEvent id="boom"><errorEventDefinition errorRef="err_a"/></endEvent>'
                '<endEvent id="stop"><terminateEventDefinition/></endEvent><parallelGateway id="f"/>'
                + task("side") + '<endEvent id="ok"/>'
                '<sequenceFlow id="okf" sourceRef="g" targetRef="ok"/>'
                + flows("cs>f", "f>prep", "f>side", "prep>g", "g>boom:${mode == 'error'}",
                        "g>stop:${mode == 'terminate'}", "side>ok"))


async def test_error_of_one_child_of_a_parallel_mi_call_activity_terminates_the_others(runtime):
    await runtime.publish(_child("mc-child"), "mc-child")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="mc-child">'
            '<extensionElements><camunda:in source="mode" target="mode"/></extensionElements>'
            '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality>'
            '</multiInstanceLoopCharacteristics></callActivity>'
            '<boundaryEvent id="caught" attachedToRef="call"><errorEventDefinition errorRef="err_a"/></boundaryEvent>'
            + task("handle") + task("next") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>next", "next>e", "caught>handle", "handle>e2"))
    await runtime.publish(bpmn("mc-parent", body), "mc-parent")
    inst = (await start(runtime, "mc-parent", mode="error"))["id"]
    kids = await children(runtime, inst)
    assert len(kids) == 3
    await complete(runtime, str(kids[0]["id"]), "prep")
    assert await open_nodes(runtime, inst) == ["handle"]
    states = sorted(k["state"] for k in await children(runtime, inst))
    assert states == ["terminated", "terminated", "terminated"]
    for kid in kids:
        assert await open_nodes(runtime, str(kid["id"])) == []
    ended = [h for h in await trail(runtime, inst) if h["action"] == "called_instance_ended"]
    assert len(ended) == 1


async def test_terminate_end_in_the_child_completes_the_call_activity(runtime):
    await runtime.publish(_child("tc-child"), "tc-child")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="tc-child">'
            '<extensionElements><camunda:in source="mode" target="mode"/></extensionElements></callActivity>'
            + task("next") + '<endEvent id="e"/>' + flows("s>call", "call>next", "next>e"))
    await runtime.publish(bpmn("tc-parent", body), "tc-parent")
    inst = (await start(runtime, "tc-parent", mode="terminate"))["id"]
    [kid] = await children(runtime, inst)
    await complete(runtime, str(kid["id"]), "prep")
    assert (await view(runtime, str(kid["id"])))["state"] == "terminated"
    assert await open_nodes(runtime, str(kid["id"])) == []
    assert await open_nodes(runtime, inst) == ["next"]


async def test_interrupting_escalation_esp_terminates_the_child_of_a_call_in_the_interrupted_scope(runtime):
    await runtime.publish(_child("ec-child"), "ec-child")
    inner = ('<startEvent id="ss"/><parallelGateway id="f"/><callActivity id="call" calledElement="ec-child"/>'
             + task("a") + '<intermediateThrowEvent id="raise"><escalationEventDefinition escalationRef="esc_a"/>'
             '</intermediateThrowEvent>' + task("b") + '<parallelGateway id="j"/><endEvent id="se"/>')
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>f", "f>call", "f>a", "a>raise", "raise>b", "call>j",
                                         "b>j", "j>se")
            + task("after") + '<endEvent id="e"/>'
            + esp("onesc", '<startEvent id="es"><escalationEventDefinition escalationRef="esc_a"/></startEvent>',
                  task("handle") + '<endEvent id="he"/>', "es>handle", "handle>he")
            + flows("s>sp", "sp>after", "after>e"))
    await runtime.publish(bpmn("ec-parent", body), "ec-parent")
    inst = (await start(runtime, "ec-parent", mode="ok"))["id"]
    [kid] = await children(runtime, inst)
    await complete(runtime, inst, "a")
    assert await open_nodes(runtime, inst) == ["handle"]
    kid_view = await view(runtime, str(kid["id"]))
    assert kid_view["state"] == "terminated"
    assert await open_nodes(runtime, str(kid["id"])) == []
    await complete(runtime, inst, "handle")
    assert (await view(runtime, inst))["state"] == "completed"
    assert await run_jobs(runtime) == 0
    assert await job_rows(runtime, inst) == []
