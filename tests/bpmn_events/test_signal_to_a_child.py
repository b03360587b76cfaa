"""A signal thrown by a parent in the same step that starts a child waiting for it."""

from __future__ import annotations

from tests.bpmn_events.helpers import bpmn, children, flows, open_nodes, run_jobs, start, task


async def test_a_child_started_before_the_throw_in_the_same_step_receives_the_signal(runtime):
    child = bpmn("c-sig", '<startEvent id="cs"/><intermediateCatchEvent id="wait">'
                 '<signalEventDefinition signalRef="sig_go"/></intermediateCatchEvent>'
                 + task("got") + '<endEvent id="ce"/>' + flows("cs>wait", "wait>got", "got>ce"))
    await runtime.publish(child, "c-sig")
    body = ('<startEvent id="s"/><parallelGateway id="f"/>'
            '<callActivity id="call" calledElement="c-sig"/>'
            '<intermediateThrowEvent id="throw"><signalEventDefinition signalRef="sig_go"/></intermediateThrowEvent>'
            + task("after") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>f", "f>call", "f>throw", "call>e", "throw>after", "after>e2"))
    await runtime.publish(bpmn("p-sig", body), "p-sig")
    inst = (await start(runtime, "p-sig"))["id"]
    await run_jobs(runtime)
    [kid] = await children(runtime, inst)
    assert await open_nodes(runtime, str(kid["id"])) == ["got"]
