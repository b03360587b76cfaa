"""An escalation end event in a called process: the escalation and the child's end reach the
parent in that order (both in one job), so the call activity's escalation boundary fires."""

from __future__ import annotations

from tests.bpmn_events.helpers import bpmn, children, complete, flows, open_nodes, run_jobs, start, task, trail


async def test_escalation_end_event_of_the_called_process_reaches_the_interrupting_boundary(runtime):
    child = bpmn("c-esc-end", '<startEvent id="cs"/>' + task("prep")
                 + '<endEvent id="raise"><escalationEventDefinition escalationRef="esc_a"/></endEvent>'
                 + flows("cs>prep", "prep>raise"))
    await runtime.publish(child, "c-esc-end")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="c-esc-end"/>'
            + '<boundaryEvent id="esc" attachedToRef="call"><escalationEventDefinition escalationRef="esc_a"/>'
              '</boundaryEvent>' + task("inform") + task("after") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>after", "after>e", "esc>inform", "inform>e2"))
    await runtime.publish(bpmn("p-esc-end", body), "p-esc-end")
    inst = (await start(runtime, "p-esc-end"))["id"]
    [kid] = await children(runtime, inst)
    await complete(runtime, str(kid["id"]), "prep")
    await run_jobs(runtime)
    actions = [h["action"] for h in await trail(runtime, inst)]
    assert await open_nodes(runtime, inst) == ["inform"], (await open_nodes(runtime, inst), actions)


async def test_escalation_end_event_of_the_called_process_reaches_a_non_interrupting_boundary(runtime):
    child = bpmn("c-esc-end2", '<startEvent id="cs"/>' + task("prep")
                 + '<endEvent id="raise"><escalationEventDefinition escalationRef="esc_a"/></endEvent>'
                 + flows("cs>prep", "prep>raise"))
    await runtime.publish(child, "c-esc-end2")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="c-esc-end2"/>'
            + '<boundaryEvent id="esc" attachedToRef="call" cancelActivity="false">'
              '<escalationEventDefinition escalationRef="esc_a"/></boundaryEvent>'
            + task("inform") + task("after") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>after", "after>e", "esc>inform", "inform>e2"))
    await runtime.publish(bpmn("p-esc-end2", body), "p-esc-end2")
    inst = (await start(runtime, "p-esc-end2"))["id"]
    [kid] = await children(runtime, inst)
    await complete(runtime, str(kid["id"]), "prep")
    await run_jobs(runtime)
    actions = [h["action"] for h in await trail(runtime, inst)]
    assert await open_nodes(runtime, inst) == ["after", "inform"], (await open_nodes(runtime, inst), actions)
