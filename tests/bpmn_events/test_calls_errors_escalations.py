"""Errors and escalations across call activities, sub-processes and multi-instance bodies."""

from __future__ import annotations

from tests.bpmn_events.helpers import (
    bpmn,
    children,
    complete,
    engine_state,
    esp,
    flows,
    job_rows,
    open_nodes,
    run_jobs,
    start,
    sub,
    sub_rows,
    task,
    trail,
    view,
)

CALL = '<callActivity id="call" calledElement="{child}"/>'


def _child_error_at_once(key: str, code_ref: str = "err_a") -> bytes:
    return bpmn(key, '<startEvent id="cs"/>'
                f'<endEvent id="boom"><errorEventDefinition errorRef="{code_ref}"/></endEvent>'
                + flows("cs>boom"))


def _child_error_after_task(key: str) -> bytes:
    return bpmn(key, '<startEvent id="cs"/>' + task("prep") + '<exclusiveGateway id="g" default="okf"/>'
                '<endEvent id="boom"><errorEventDefinition errorRef="err_a"/></endEvent><endEvent id="ok"/>'
                '<sequenceFlow id="okf" sourceRef="g" targetRef="ok"/>'
                + flows("cs>prep", "prep>g", "g>boom:${fail}"))


async def test_error_thrown_at_once_by_the_child_reaches_the_call_activity_boundary(runtime):
    await runtime.publish(_child_error_at_once("c-now"), "c-now")
    body = ('<startEvent id="s"/>' + CALL.format(child="c-now")
            + '<boundaryEvent id="caught" attachedToRef="call"><errorEventDefinition errorRef="err_a" '
              'camunda:errorCodeVariable="code"/></boundaryEvent>'
            + task("handle") + task("next") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>next", "next>e", "caught>handle", "handle>e2"))
    await runtime.publish(bpmn("p-now", body), "p-now")
    inst = (await start(runtime, "p-now"))["id"]
    await run_jobs(runtime)
    assert await open_nodes(runtime, inst) == ["handle"]
    v = await view(runtime, inst)
    assert v["variables"]["code"] == "A"
    [child] = await children(runtime, inst)
    assert child["state"] == "terminated"


async def test_child_error_caught_by_the_boundary_of_the_sub_process_around_the_call(runtime):
    await runtime.publish(_child_error_after_task("c-late"), "c-late")
    inner = '<startEvent id="ss"/>' + CALL.format(child="c-late") + task("par") + '<parallelGateway id="f"/>' \
        '<parallelGateway id="j"/><endEvent id="se"/>'
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>f", "f>call", "f>par", "call>j", "par>j", "j>se")
            + '<boundaryEvent id="caught" attachedToRef="sp"><errorEventDefinition errorRef="err_a"/></boundaryEvent>'
            + task("handle") + task("next") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>sp", "sp>next", "next>e", "caught>handle", "handle>e2"))
    await runtime.publish(bpmn("p-late", body), "p-late")
    inst = (await start(runtime, "p-late"))["id"]
    [child] = await children(runtime, inst)
    await complete(runtime, str(child["id"]), "prep", fail=True)
    assert await open_nodes(runtime, inst) == ["handle"]
    cancelled = [h["node_id"] for h in await trail(runtime, inst) if h["action"] == "task_cancelled"]
    assert cancelled == ["par"]


async def test_uncaught_child_error_ends_the_parent_without_a_handler(runtime):
    await runtime.publish(_child_error_after_task("c-un"), "c-un")
    body = ('<startEvent id="s"/><parallelGateway id="f"/>' + CALL.format(child="c-un") + task("other")
            + '<parallelGateway id="j"/><endEvent id="e"/>'
            + '<boundaryEvent id="tm" attachedToRef="other"><timerEventDefinition><timeDuration>PT5H</timeDuration>'
              '</timerEventDefinition></boundaryEvent><endEvent id="e3"/>'
            + flows("s>f", "f>call", "f>other", "call>j", "other>j", "j>e", "tm>e3"))
    await runtime.publish(bpmn("p-un", body), "p-un")
    inst = (await start(runtime, "p-un"))["id"]
    [child] = await children(runtime, inst)
    await complete(runtime, str(child["id"]), "prep", fail=True)
    v = await view(runtime, inst)
    assert v["state"] == "terminated"
    assert await open_nodes(runtime, inst) == []
    assert await job_rows(runtime, inst) == []
    ended = [h for h in await trail(runtime, inst) if h["action"] == "instance_terminated"]
    assert len(ended) == 1 and ended[0]["details"]["reason"] == "error_unhandled"


async def test_escalation_thrown_in_the_called_process_reaches_the_call_activity_boundary(runtime):
    """Camunda 7 (and BPMN 10.4.5): an escalation of the called process propagates to the
    call activity, whose escalation boundary event catches it (here non-interrupting:
    the child goes on)."""
    child = bpmn("c-esc", '<startEvent id="cs"/><intermediateThrowEvent id="raise">'
                 '<escalationEventDefinition escalationRef="esc_a"/></intermediateThrowEvent>'
                 + task("work") + '<endEvent id="ce"/>' + flows("cs>raise", "raise>work", "work>ce"))
    await runtime.publish(child, "c-esc")
    body = ('<startEvent id="s"/>' + CALL.format(child="c-esc")
            + '<boundaryEvent id="esc" attachedToRef="call" cancelActivity="false">'
              '<escalationEventDefinition escalationRef="esc_a"/></boundaryEvent>'
            + task("inform") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>e", "esc>inform", "inform>e2"))
    await runtime.publish(bpmn("p-esc", body), "p-esc")
    inst = (await start(runtime, "p-esc"))["id"]
    await run_jobs(runtime)
    [kid] = await children(runtime, inst)
    assert await open_nodes(runtime, str(kid["id"])) == ["work"]
    assert await open_nodes(runtime, inst) == ["inform"], "the escalation boundary of the call activity fired"
    escalated = [h for h in await trail(runtime, inst) if h["action"] == "called_instance_escalated"]
    assert [h["details"]["escalation_code"] for h in escalated] == ["ESC"]


async def test_an_interrupting_escalation_boundary_of_the_call_activity_ends_the_called_instance(runtime):
    child = bpmn("c-esc-int", '<startEvent id="cs"/>' + task("prep") + '<intermediateThrowEvent id="raise">'
                 '<escalationEventDefinition escalationRef="esc_a"/></intermediateThrowEvent>'
                 + task("work") + '<endEvent id="ce"/>' + flows("cs>prep", "prep>raise", "raise>work", "work>ce"))
    await runtime.publish(child, "c-esc-int")
    body = ('<startEvent id="s"/>' + CALL.format(child="c-esc-int")
            + '<boundaryEvent id="esc" attachedToRef="call"><escalationEventDefinition escalationRef="esc_a"/>'
              '</boundaryEvent>' + task("inform") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>e", "esc>inform", "inform>e2"))
    await runtime.publish(bpmn("p-esc-int", body), "p-esc-int")
    inst = (await start(runtime, "p-esc-int"))["id"]
    [kid] = await children(runtime, inst)
    await complete(runtime, str(kid["id"]), "prep")
    await run_jobs(runtime)
    assert await open_nodes(runtime, inst) == ["inform"]
    assert (await view(runtime, str(kid["id"])))["state"] == "terminated", "the interrupted call ends its instance"


async def test_escalation_end_event_in_sub_process_caught_by_non_interrupting_esp_of_the_sub(runtime):
    inner = ('<startEvent id="ss"/><parallelGateway id="f"/>' + task("a")
             + '<endEvent id="raise"><escalationEventDefinition escalationRef="esc_a"/></endEvent>'
             + '<endEvent id="se"/>'
             + esp("onesc", '<startEvent id="es" isInterrupting="false"><escalationEventDefinition '
                   'escalationRef="esc_a"/></startEvent>', task("inform") + '<endEvent id="ee"/>',
                   "es>inform", "inform>ee"))
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>f", "f>a", "f>raise", "a>se")
            + task("after") + '<endEvent id="e"/>' + flows("s>sp", "sp>after", "after>e"))
    await runtime.publish(bpmn("p-escesp", body), "p-escesp")
    inst = (await start(runtime, "p-escesp"))["id"]
    assert await open_nodes(runtime, inst) == ["a", "inform"]
    await complete(runtime, inst, "a")
    assert await open_nodes(runtime, inst) == ["inform"]
    await complete(runtime, inst, "inform")
    assert await open_nodes(runtime, inst) == ["after"]
    await complete(runtime, inst, "after")
    assert (await view(runtime, inst))["state"] == "completed"


async def test_error_end_in_one_instance_of_a_parallel_mi_sub_process_cancels_the_body(runtime):
    inner = ('<startEvent id="ss"/>' + task("check") + '<exclusiveGateway id="g" default="okf"/>'
             '<endEvent id="boom"><errorEventDefinition errorRef="err_b"/></endEvent><endEvent id="se"/>'
             '<sequenceFlow id="okf" sourceRef="g" targetRef="se"/>'
             + flows("ss>check", "check>g", "g>boom:${bad}"))
    body = ('<startEvent id="s"/><subProcess id="sp"><multiInstanceLoopCharacteristics isSequential="false">'
            '<loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>'
            + inner + '</subProcess>'
            + '<boundaryEvent id="caught" attachedToRef="sp"><errorEventDefinition errorRef="err_b"/></boundaryEvent>'
            + '<boundaryEvent id="tm" attachedToRef="sp"><timerEventDefinition><timeDuration>PT5H</timeDuration>'
              '</timerEventDefinition></boundaryEvent>'
            + task("handle") + task("next") + '<endEvent id="e"/><endEvent id="e2"/><endEvent id="e3"/>'
            + flows("s>sp", "sp>next", "next>e", "caught>handle", "handle>e2", "tm>e3"))
    await runtime.publish(bpmn("p-mierr", body), "p-mierr")
    inst = (await start(runtime, "p-mierr"))["id"]
    assert await open_nodes(runtime, inst) == ["check", "check", "check"]
    await complete(runtime, inst, "check", bad=False)
    await complete(runtime, inst, "check", bad=True)
    assert await open_nodes(runtime, inst) == ["handle"]
    assert await job_rows(runtime, inst) == []
    state = await engine_state(runtime, inst)
    assert "scopes" not in state
    cancelled = [h["node_id"] for h in await trail(runtime, inst) if h["action"] == "task_cancelled"]
    assert cancelled == ["check"]


async def test_terminate_inside_one_mi_instance_ends_only_that_instance(runtime):
    inner = ('<startEvent id="ss"/><parallelGateway id="f"/>' + task("a") + task("b")
             + '<endEvent id="stop"><terminateEventDefinition/></endEvent><parallelGateway id="j"/><endEvent id="se"/>'
             + flows("ss>f", "f>a", "f>b", "a>stop", "b>j"))
    body = ('<startEvent id="s"/><subProcess id="sp"><multiInstanceLoopCharacteristics isSequential="true">'
            '<loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics>'
            + inner + '</subProcess>' + task("after") + '<endEvent id="e"/>' + flows("s>sp", "sp>after", "after>e"))
    await runtime.publish(bpmn("p-miterm", body), "p-miterm")
    inst = (await start(runtime, "p-miterm"))["id"]
    assert await open_nodes(runtime, inst) == ["a", "b"]
    await complete(runtime, inst, "a")
    assert await open_nodes(runtime, inst) == ["a", "b"], "the second instance starts"
    await complete(runtime, inst, "a")
    assert await open_nodes(runtime, inst) == ["after"]
    await complete(runtime, inst, "after")
    assert (await view(runtime, inst))["state"] == "completed"
    assert await sub_rows(runtime, inst) == [] and await job_rows(runtime, inst) == []
