"""Boundary events on receive tasks, sub-processes and multi-instance activities, and
event-based gateways inside sub-processes."""

from __future__ import annotations

from tests.bpmn_events.helpers import (
    bpmn,
    complete,
    engine_state,
    flows,
    job_rows,
    later,
    message,
    open_nodes,
    run_at,
    signal,
    start,
    sub,
    sub_rows,
    task,
    trail,
    view,
)

RECEIVE = ('<receiveTask id="wait" messageRef="m_go"><extensionElements>'
           '</extensionElements></receiveTask>')


def _receive(key_expr: str | None = None) -> str:
    if key_expr is None:
        return '<receiveTask id="wait" messageRef="m_go"/>'
    return (f'<receiveTask id="wait" messageRef="m_go" '
            f'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" bpm:correlationKey="{key_expr}"/>')


async def test_interrupting_message_boundary_on_a_receive_task_closes_both_subscriptions(runtime):
    body = ('<startEvent id="s"/>' + _receive("${orderId}")
            + '<boundaryEvent id="stopped" attachedToRef="wait"><messageEventDefinition messageRef="m_stop"/>'
              '</boundaryEvent>'
            + task("after") + task("cleanup") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>wait", "wait>after", "after>e", "stopped>cleanup", "cleanup>e2"))
    await runtime.publish(bpmn("rt-int", body), "rt-int")
    inst = (await start(runtime, "rt-int", orderId="O-1"))["id"]
    assert sorted(s["node_id"] for s in await sub_rows(runtime, inst)) == ["stopped", "wait"]
    assert (await message(runtime, "stop")).status_code == 200
    assert await open_nodes(runtime, inst) == ["cleanup"]
    assert await sub_rows(runtime, inst) == []
    assert (await message(runtime, "go", correlation_key="O-1")).status_code == 404


async def test_non_interrupting_signal_boundary_on_a_receive_task_fires_again_and_goes_with_it(runtime):
    body = ('<startEvent id="s"/>' + _receive()
            + '<boundaryEvent id="alarm" attachedToRef="wait" cancelActivity="false">'
              '<signalEventDefinition signalRef="sig_alarm"/></boundaryEvent>'
            + task("after") + task("look") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>wait", "wait>after", "after>e", "alarm>look", "look>e2"))
    await runtime.publish(bpmn("rt-ni", body), "rt-ni")
    inst = (await start(runtime, "rt-ni"))["id"]
    await signal(runtime, "alarm")
    await signal(runtime, "alarm")
    assert await open_nodes(runtime, inst) == ["look", "look"]
    assert (await view(runtime, inst))["active_nodes"] == ["wait", "look"]
    assert (await message(runtime, "go")).status_code == 200
    assert await sub_rows(runtime, inst) == []
    assert await open_nodes(runtime, inst) == ["after", "look", "look"]
    r = await signal(runtime, "alarm")
    assert r.json()["instances_signalled"] == []


async def test_interrupting_timer_boundary_on_a_parallel_mi_task_cancels_every_instance(runtime):
    body = ('<startEvent id="s"/><userTask id="vote" camunda:assignee="alice">'
            '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality>'
            '</multiInstanceLoopCharacteristics></userTask>'
            + '<boundaryEvent id="tm" attachedToRef="vote"><timerEventDefinition><timeDuration>PT1H</timeDuration>'
              '</timerEventDefinition></boundaryEvent>'
            + '<boundaryEvent id="poked" attachedToRef="vote" cancelActivity="false">'
              '<messageEventDefinition messageRef="m_poke"/></boundaryEvent>'
            + task("late") + task("after") + task("look") + '<endEvent id="e"/><endEvent id="e2"/><endEvent id="e3"/>'
            + flows("s>vote", "vote>after", "after>e", "tm>late", "late>e2", "poked>look", "look>e3"))
    await runtime.publish(bpmn("mi-tm", body), "mi-tm")
    inst = (await start(runtime, "mi-tm"))["id"]
    assert len(await job_rows(runtime, inst)) == 1 and len(await sub_rows(runtime, inst)) == 1
    await complete(runtime, inst, "vote")
    assert (await message(runtime, "poke")).status_code == 200
    assert await open_nodes(runtime, inst) == ["look", "vote", "vote"]
    assert await run_at(runtime, later(hours=2)) == 1
    assert await open_nodes(runtime, inst) == ["late", "look"]
    assert await sub_rows(runtime, inst) == [] and await job_rows(runtime, inst) == []
    state = await engine_state(runtime, inst)
    assert "scopes" not in state
    cancelled = [h["node_id"] for h in await trail(runtime, inst) if h["action"] == "task_cancelled"]
    assert cancelled == ["vote", "vote"]


async def test_sequential_mi_task_completing_normally_drops_its_boundary_timer_and_subscription(runtime):
    body = ('<startEvent id="s"/><userTask id="vote" camunda:assignee="alice">'
            '<multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>2</loopCardinality>'
            '</multiInstanceLoopCharacteristics></userTask>'
            + '<boundaryEvent id="tm" attachedToRef="vote" cancelActivity="false"><timerEventDefinition>'
              '<timeCycle>R5/PT1H</timeCycle></timerEventDefinition></boundaryEvent>'
            + '<boundaryEvent id="sg" attachedToRef="vote"><signalEventDefinition signalRef="sig_alarm"/>'
              '</boundaryEvent>'
            + task("remind") + task("after") + '<endEvent id="e"/><endEvent id="e2"/><endEvent id="e3"/>'
            + flows("s>vote", "vote>after", "after>e", "tm>remind", "remind>e2", "sg>e3"))
    await runtime.publish(bpmn("mi-seq", body), "mi-seq")
    inst = (await start(runtime, "mi-seq"))["id"]
    assert await run_at(runtime, later(hours=1, minutes=1)) == 1
    assert await open_nodes(runtime, inst) == ["remind", "vote"]
    [job] = await job_rows(runtime, inst)
    await complete(runtime, inst, "vote")
    await complete(runtime, inst, "vote")
    assert await open_nodes(runtime, inst) == ["after", "remind"]
    assert await job_rows(runtime, inst) == [] and await sub_rows(runtime, inst) == []


async def test_event_gateway_inside_a_sub_process_interrupted_by_the_sub_process_boundary(runtime):
    inner = ('<startEvent id="ss"/><eventBasedGateway id="gw"/>'
             '<intermediateCatchEvent id="got"><messageEventDefinition messageRef="m_go"/></intermediateCatchEvent>'
             '<intermediateCatchEvent id="waited"><timerEventDefinition><timeDuration>PT2H</timeDuration>'
             '</timerEventDefinition></intermediateCatchEvent><endEvent id="se"/><endEvent id="se2"/>'
             + flows("ss>gw", "gw>got", "gw>waited", "got>se", "waited>se2"))
    body = ('<startEvent id="s"/>' + sub("sp", inner)
            + '<boundaryEvent id="stopped" attachedToRef="sp"><signalEventDefinition signalRef="sig_alarm"/>'
              '</boundaryEvent>'
            + task("after") + task("cleanup") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>sp", "sp>after", "after>e", "stopped>cleanup", "cleanup>e2"))
    # the inner flows are inside the sub-process: rebuild with them in place
    body = body.replace(sub("sp", inner), f'<subProcess id="sp">{inner}</subProcess>')
    await runtime.publish(bpmn("gw-sub", body), "gw-sub")
    first = (await start(runtime, "gw-sub"))["id"]
    second = (await start(runtime, "gw-sub"))["id"]
    assert len(await job_rows(runtime, first)) == 1
    assert sorted(s["node_id"] for s in await sub_rows(runtime, first)) == ["got", "stopped"]
    r = await message(runtime, "go", all=True)
    assert r.status_code == 200
    assert await open_nodes(runtime, first) == ["after"]
    assert await job_rows(runtime, first) == [] and await sub_rows(runtime, first) == []
    await complete(runtime, first, "after")
    assert (await view(runtime, first))["state"] == "completed"
    assert await open_nodes(runtime, second) == ["after"]
    third = (await start(runtime, "gw-sub"))["id"]
    await signal(runtime, "alarm")
    assert await open_nodes(runtime, third) == ["cleanup"]
    assert await job_rows(runtime, third) == [] and await sub_rows(runtime, third) == []
    assert await run_at(runtime, later(hours=3)) == 0
