"""Interventions at event-based gateways and receive tasks with boundary events; a
suspended instance; return (退回) and withdraw (撤回) from inside a multi-instance
sub-process; an added signer inside a sub-process instance."""

from __future__ import annotations

from tests.admin_nested.helpers import act, actions, engine_state, token_at, verify
from tests.bpmn_events.helpers import (
    bpmn,
    complete,
    flows,
    job_rows,
    later,
    message,
    open_nodes,
    open_tasks,
    run_at,
    start,
    sub_rows,
    task,
    view,
)


def _gateway(key: str) -> bytes:
    body = ('<startEvent id="s"/><eventBasedGateway id="gw"/>'
            '<intermediateCatchEvent id="got"><messageEventDefinition messageRef="m_go"/></intermediateCatchEvent>'
            '<intermediateCatchEvent id="late"><timerEventDefinition><timeDuration>PT1H</timeDuration>'
            '</timerEventDefinition></intermediateCatchEvent>'
            + task("after") + task("chase") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>gw", "gw>got", "gw>late", "got>after", "late>chase", "after>e", "chase>e2"))
    return bpmn(key, body)


async def test_event_gateway_skip_is_refused_and_move_clears_its_events(runtime):
    await runtime.publish(_gateway("eg-mv"), "eg-mv")
    inst = (await start(runtime, "eg-mv"))["id"]
    tok = await token_at(runtime, inst, "gw")
    r = await act(runtime, inst, "skip", token_id=tok["id"], reason="x")
    assert r.status_code == 409, r.text
    r = await act(runtime, inst, "move", token_id=tok["id"], to_node="after", reason="answered by phone")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["after"], r.text
    assert await sub_rows(runtime, inst) == [] and await job_rows(runtime, inst) == []
    await run_at(runtime, later(hours=2))
    assert await open_nodes(runtime, inst) == ["after"]
    await verify(runtime, inst)


async def test_event_gateway_cancel_token_terminates(runtime):
    await runtime.publish(_gateway("eg-c"), "eg-c")
    inst = (await start(runtime, "eg-c"))["id"]
    r = await act(runtime, inst, "cancel-token", from_node="gw", reason="obsolete")
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    assert await sub_rows(runtime, inst) == [] and await job_rows(runtime, inst) == []
    await verify(runtime, inst)


def _receive(key: str) -> bytes:
    body = ('<startEvent id="s"/><receiveTask id="rcv" messageRef="m_go"/>'
            '<boundaryEvent id="tb" attachedToRef="rcv" cancelActivity="false"><timerEventDefinition>'
            '<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>'
            '<boundaryEvent id="mb" attachedToRef="rcv"><messageEventDefinition messageRef="m_stop"/></boundaryEvent>'
            + task("after") + task("remind") + task("stopped") + '<endEvent id="e"/><endEvent id="e2"/><endEvent id="e3"/>'
            + flows("s>rcv", "rcv>after", "tb>remind", "mb>stopped", "after>e", "remind>e2", "stopped>e3"))
    return bpmn(key, body)


async def test_receive_task_skip_closes_boundary_events(runtime):
    await runtime.publish(_receive("rc-skip"), "rc-skip")
    inst = (await start(runtime, "rc-skip"))["id"]
    tok = await token_at(runtime, inst, "rcv")
    r = await act(runtime, inst, "skip", token_id=tok["id"], reason="received by mail", variables={"ok": True})
    assert r.status_code == 200 and r.json()["active_nodes"] == ["after"], r.text
    assert await sub_rows(runtime, inst) == [] and await job_rows(runtime, inst) == []
    assert (await message(runtime, "stop")).status_code == 404
    await run_at(runtime, later(hours=2))
    assert await open_nodes(runtime, inst) == ["after"]
    assert ("node_skipped", "rcv", "received by mail") in await actions(runtime, inst, "node_skipped")
    await verify(runtime, inst)


async def test_suspended_receive_task_does_not_take_a_message(runtime):
    await runtime.publish(_receive("rc-susp"), "rc-susp")
    inst = (await start(runtime, "rc-susp"))["id"]
    assert (await act(runtime, inst, "suspend", reason="hold")).status_code == 200
    r = await message(runtime, "go")
    assert (await view(runtime, inst))["active_nodes"] == ["rcv"], f"a suspended instance moved: {r.status_code} {r.text}"
    await run_at(runtime, later(hours=2))
    assert await open_nodes(runtime, inst) == [], "the non-interrupting timer waits too"
    assert (await act(runtime, inst, "resume", reason="go")).status_code == 200
    await verify(runtime, inst)


def _mi_review(key: str) -> bytes:
    mi = ('<multiInstanceLoopCharacteristics isSequential="false" camunda:collection="${reviewers}" '
          'camunda:elementVariable="reviewer"/>')
    inner = ('<startEvent id="ss"/><userTask id="review" camunda:assignee="${reviewer}"/><endEvent id="se"/>'
             + flows("ss>review", "review>se"))
    body = ('<startEvent id="s"/><userTask id="submit" camunda:assignee="${initiator}"/>'
            f'<subProcess id="sp">{mi}{inner}</subProcess>' + task("next") + '<endEvent id="e"/>'
            + flows("s>submit", "submit>sp", "sp>next", "next>e"))
    return bpmn(key, body)


async def test_return_from_inside_mi_sub_process_then_withdraw(runtime):
    await runtime.publish(_mi_review("mr"), "mr")
    inst = (await start(runtime, "mr", reviewers=["bob", "carol"]))["id"]
    await complete(runtime, inst, "submit")
    reviews = await open_tasks(runtime, inst)
    assert sorted(t["assignee"] for t in reviews) == ["bob", "carol"]
    bob = next(t for t in reviews if t["assignee"] == "bob")
    targets = await runtime.client.get(f"/api/v1/tasks/{bob['id']}/return-targets", headers=runtime.auth("bob"))
    assert targets.status_code == 200, targets.text
    r = await runtime.client.post(f"/api/v1/tasks/{bob['id']}/return",
                                  json={"target_node_id": "submit", "reason": "incomplete"},
                                  headers=runtime.auth("bob"))
    if r.status_code == 422:
        r = await runtime.client.post(f"/api/v1/tasks/{bob['id']}/return",
                                      json={"target_node": "submit", "reason": "incomplete"},
                                      headers=runtime.auth("bob"))
    assert r.status_code == 200, r.text
    assert await open_nodes(runtime, inst) == ["submit"], "carol's review went with the body"
    state = await engine_state(runtime, inst)
    assert len(state["tokens"]) == 1 and not state.get("scopes"), state
    w = await runtime.client.post(f"/api/v1/process-instances/{inst}/withdraw", json={"reason": "never mind"},
                                  headers=runtime.auth("alice"))
    assert w.status_code == 200 and w.json()["state"] == "terminated", w.text
    await verify(runtime, inst)


async def test_parallel_signer_inside_a_sub_process_instance_then_move_out(runtime):
    await runtime.publish(_mi_review("ms"), "ms")
    await runtime.user("dave")
    inst = (await start(runtime, "ms", reviewers=["bob", "carol"]))["id"]
    await complete(runtime, inst, "submit")
    bob = next(t for t in await open_tasks(runtime, inst) if t["assignee"] == "bob")
    added = await runtime.client.post(f"/api/v1/tasks/{bob['id']}/signers", json={"user": "dave", "mode": "parallel"},
                                      headers=runtime.auth("bob"))
    assert added.status_code == 201, added.text
    assert sorted(t["assignee"] for t in await open_tasks(runtime, inst)) == ["bob", "carol", "dave"]
    # bob signs; dave still has to: the instance waits for him
    done = await runtime.client.post(f"/api/v1/tasks/{bob['id']}/complete", json={}, headers=runtime.auth("bob"))
    assert done.status_code == 200, done.text
    assert sorted(t["assignee"] for t in await open_tasks(runtime, inst)) == ["carol", "dave"]
    r = await act(runtime, inst, "skip", task_id=added.json()["signer_id"], reason="dave away")
    assert r.status_code == 200, r.text
    assert sorted(t["assignee"] for t in await open_tasks(runtime, inst)) == ["carol"]
    carol = next(t for t in await open_tasks(runtime, inst))
    r = await act(runtime, inst, "move", from_node="review", to_node="next", reason="hurry")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await open_nodes(runtime, inst) == ["next"]
    assert (await runtime.client.post(f"/api/v1/tasks/{carol['id']}/complete", json={},
                                      headers=runtime.auth("carol"))).status_code in (404, 409)
    await verify(runtime, inst)
