"""Inclusive and event-based gateways through the runtime, with timers deciding."""

from __future__ import annotations

from tests.runtime.timing import admin, bpmn, job_rows, later, run_at, start, view


async def _complete(runtime, instance_id: str, node: str, **variables) -> None:
    r = await runtime.client.get(f"/api/v1/tasks?instance_id={instance_id}", headers=runtime.auth("bob"))
    [task] = [t for t in r.json()["items"] if t["node_id"] == node]
    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": variables},
                                     headers=runtime.auth("bob"))
    assert done.status_code == 200, done.text


def _task(node: str) -> str:
    return f'<userTask id="{node}" camunda:candidateUsers="bob"/>'


async def test_an_inclusive_join_fires_when_every_incoming_flow_has_arrived_even_inside_a_loop(runtime):
    """Two nested inclusive blocks inside a loop. Once `c` and `d` have both reached the
    inner join `j2`, it must fire (no other token is needed: every incoming flow holds
    one; Camunda 7 fires at once in that case), although the token waiting at the outer
    join `j1` could reach `j2` through the loop; else `j1` waits for `j2` and `j2` for
    `j1`, and the instance is stuck with no task."""
    body = ('<startEvent id="s"/><exclusiveGateway id="m"/><inclusiveGateway id="f1"/>'
            + _task("a") + _task("b") + '<inclusiveGateway id="f2"/>' + _task("c") + _task("d")
            + '<inclusiveGateway id="j2"/><inclusiveGateway id="j1"/>'
            '<exclusiveGateway id="x" default="f_out"/><endEvent id="e"/>')
    flows = ["s>m", "m>f1", "f1>a", "f1>b", "a>f2", "f2>c", "f2>d", "c>j2", "d>j2", "j2>j1", "b>j1",
             "j1>x", "x>m:${again}"]
    xml = bpmn("nested-loop", body, *flows).replace(b"</process>",
                                                   b'<sequenceFlow id="f_out" sourceRef="x" targetRef="e"/></process>')
    await runtime.publish(xml, "nested-loop")
    r = await start(runtime, "nested-loop", again=False)
    assert r.status_code == 201, r.text
    inst = r.json()["id"]
    await _complete(runtime, inst, "b")
    await _complete(runtime, inst, "a")
    await _complete(runtime, inst, "c")
    await _complete(runtime, inst, "d")
    found = await view(runtime, inst)
    assert found["state"] == "completed", found["active_nodes"]


async def test_an_inclusive_join_stops_waiting_for_a_branch_a_boundary_timer_led_away(runtime):
    body = ('<startEvent id="s"/><inclusiveGateway id="fork"/>' + _task("a") + _task("b")
            + '<boundaryEvent id="late" attachedToRef="a"><timerEventDefinition><timeDuration>PT1H'
            '</timeDuration></timerEventDefinition></boundaryEvent><endEvent id="gave_up"/>'
            '<inclusiveGateway id="join"/>' + _task("after") + '<endEvent id="e"/>')
    await runtime.publish(bpmn("incl-boundary", body, "s>fork", "fork>a", "fork>b", "a>join", "b>join",
                               "late>gave_up", "join>after", "after>e"), "incl-boundary")
    inst = (await start(runtime, "incl-boundary")).json()["id"]
    await _complete(runtime, inst, "b")
    assert sorted((await view(runtime, inst))["active_nodes"]) == ["a", "join"]
    await run_at(runtime, later(hours=2))
    assert (await view(runtime, inst))["active_nodes"] == ["after"]


async def test_an_inclusive_join_waits_for_a_branch_that_loops_back_before_it(runtime):
    body = ('<startEvent id="s"/><inclusiveGateway id="fork"/>' + _task("a") + _task("b")
            + '<exclusiveGateway id="redo" default="f_on"/><inclusiveGateway id="join"/>' + _task("after")
            + '<endEvent id="e"/>')
    xml = bpmn("incl-loop", body, "s>fork", "fork>a", "fork>b", "b>redo", "redo>b:${again}", "a>join",
               "join>after", "after>e").replace(
        b"</process>", b'<sequenceFlow id="f_on" sourceRef="redo" targetRef="join"/></process>')
    await runtime.publish(xml, "incl-loop")
    inst = (await start(runtime, "incl-loop", again=True)).json()["id"]
    await _complete(runtime, inst, "a")
    await _complete(runtime, inst, "b", again=True)
    assert sorted((await view(runtime, inst))["active_nodes"]) == ["b", "join"]
    await _complete(runtime, inst, "b", again=False)
    assert (await view(runtime, inst))["active_nodes"] == ["after"]


async def test_a_message_after_the_timer_won_the_event_gateway_is_refused_cleanly(runtime):
    body = ('<startEvent id="s"/><eventBasedGateway id="g"/>'
            '<intermediateCatchEvent id="paid"><messageEventDefinition messageRef="m"/></intermediateCatchEvent>'
            '<intermediateCatchEvent id="timeout"><timerEventDefinition><timeDuration>P1D</timeDuration>'
            '</timerEventDefinition></intermediateCatchEvent>' + _task("remind") + _task("ship")
            + '<endEvent id="e1"/><endEvent id="e2"/>')
    xml = bpmn("race", body, "s>g", "g>paid", "g>timeout", "paid>ship", "timeout>remind", "ship>e1",
               "remind>e2").replace(b"<process", b'<message id="m" name="payment"/><process')
    await runtime.publish(xml, "race")
    timer_won = (await start(runtime, "race")).json()["id"]
    await run_at(runtime, later(days=2))
    assert (await view(runtime, timer_won))["active_nodes"] == ["remind"]
    late = await runtime.client.post("/api/v1/messages", json={"name": "payment"}, headers=admin(runtime))
    assert late.status_code == 404, late.text
    message_won = (await start(runtime, "race")).json()["id"]
    r = await runtime.client.post("/api/v1/messages", json={"name": "payment"}, headers=admin(runtime))
    assert r.status_code == 200, r.text
    assert (await view(runtime, message_won))["active_nodes"] == ["ship"]
    assert await job_rows(runtime, "timer") == []
