"""An interrupting event on a call activity ends the whole chain of called instances."""

from __future__ import annotations

from tests.bpmn_events.helpers import (
    bpmn,
    children,
    flows,
    job_rows,
    later,
    open_nodes,
    run_at,
    start,
    sub_rows,
    task,
    view,
)


async def test_interrupting_timer_on_a_call_terminates_child_and_grandchild(runtime):
    await runtime.publish(bpmn("g-leaf", '<startEvent id="s"/>' + task("deep")
                               + '<boundaryEvent id="lt" attachedToRef="deep"><timerEventDefinition>'
                                 '<timeDuration>PT9H</timeDuration></timerEventDefinition></boundaryEvent>'
                               + '<receiveTask id="rcv" messageRef="m_go"/><parallelGateway id="f"/>'
                               + '<endEvent id="e"/><endEvent id="e2"/><endEvent id="e3"/>'
                               + flows("s>f", "f>deep", "f>rcv", "deep>e", "lt>e2", "rcv>e3")), "g-leaf")
    await runtime.publish(bpmn("g-mid", '<startEvent id="s"/><callActivity id="call2" calledElement="g-leaf"/>'
                               '<endEvent id="e"/>' + flows("s>call2", "call2>e")), "g-mid")
    body = ('<startEvent id="s"/><callActivity id="call1" calledElement="g-mid"/>'
            '<boundaryEvent id="tm" attachedToRef="call1"><timerEventDefinition><timeDuration>PT1H</timeDuration>'
            '</timerEventDefinition></boundaryEvent>' + task("late") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call1", "call1>e", "tm>late", "late>e2"))
    await runtime.publish(bpmn("g-top", body), "g-top")
    top = (await start(runtime, "g-top"))["id"]
    [mid] = await children(runtime, top)
    [leaf] = await children(runtime, str(mid["id"]))
    leaf_id = str(leaf["id"])
    assert len(await job_rows(runtime, leaf_id)) == 1 and len(await sub_rows(runtime, leaf_id)) == 1
    assert await run_at(runtime, later(hours=2)) == 1
    assert await open_nodes(runtime, top) == ["late"]
    assert (await view(runtime, str(mid["id"])))["state"] == "terminated"
    assert (await view(runtime, leaf_id))["state"] == "terminated"
    assert await open_nodes(runtime, leaf_id) == []
    assert await job_rows(runtime, leaf_id) == [] and await sub_rows(runtime, leaf_id) == []
