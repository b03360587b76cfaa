"""Administrators' interventions on call activities whose called instance runs."""

from __future__ import annotations

from tests.admin_nested.helpers import act, actions, incidents, skip_task, token_at, verify
from tests.bpmn_events.helpers import (
    bpmn,
    children,
    complete,
    flows,
    job_rows,
    later,
    open_nodes,
    run_at,
    start,
    sub,
    task,
    view,
)

CHILD = bpmn("ac-child", '<startEvent id="cs"/>' + task("work") + '<endEvent id="ce"/>'
             + flows("cs>work", "work>ce"))


def _parent(key: str, out: str = '<camunda:out source="r" target="r"/>') -> bytes:
    call = (f'<callActivity id="call" calledElement="ac-child"><extensionElements>{out}'
            '</extensionElements></callActivity>')
    return bpmn(key, '<startEvent id="s"/>' + call + task("next") + '<endEvent id="e"/>'
                + flows("s>call", "call>next", "next>e"))


async def _running(runtime, key: str, model: bytes) -> tuple[str, str]:
    await runtime.publish(CHILD, "ac-child")
    await runtime.publish(model, key)
    inst = (await start(runtime, key))["id"]
    [kid] = await children(runtime, inst)
    return inst, str(kid["id"])


async def test_skip_call_activity_terminates_the_child_and_records_the_reason(runtime):
    inst, kid = await _running(runtime, "ac-skip", _parent("ac-skip"))
    token = await token_at(runtime, inst, "call")
    r = await act(runtime, inst, "skip", token_id=token["id"], reason="checked by phone")
    assert r.status_code == 200, r.text
    assert r.json()["active_nodes"] == ["next"]
    assert (await view(runtime, kid))["state"] == "terminated"
    assert await open_nodes(runtime, kid) == []
    assert ("node_skipped", "call", "checked by phone") in await actions(runtime, inst, "node_skipped")
    await verify(runtime, inst)
    await verify(runtime, kid)


async def test_suspended_parent_waits_for_the_child_end_until_resumed(runtime):
    inst, kid = await _running(runtime, "ac-susp", _parent("ac-susp"))
    assert (await act(runtime, inst, "suspend", reason="maintenance")).status_code == 200
    await skip_task(runtime, kid, "work", r=7)
    assert (await view(runtime, kid))["state"] == "completed"
    assert (await view(runtime, inst))["active_nodes"] == ["call"]
    await run_at(runtime, later(minutes=5))
    assert (await view(runtime, inst))["active_nodes"] == ["call"], "a suspended parent does not move"
    assert (await act(runtime, inst, "resume", reason="done")).status_code == 200
    await run_at(runtime, later(minutes=10))
    v = await view(runtime, inst)
    assert v["active_nodes"] == ["next"] and v["variables"].get("r") == 7
    await verify(runtime, inst)


async def test_move_away_from_call_while_parent_suspended_and_child_reported(runtime):
    """The child ends while the parent is suspended (report waits in a job); the administrator
    then moves the parent's token away: the late report must not move the parent again."""
    inst, kid = await _running(runtime, "ac-mv", _parent("ac-mv"))
    assert (await act(runtime, inst, "suspend", reason="maintenance")).status_code == 200
    await skip_task(runtime, kid, "work", r=1)
    r = await act(runtime, inst, "move", from_node="call", to_node="next", reason="go on by hand")
    assert r.status_code == 200, r.text
    assert (await act(runtime, inst, "resume", reason="ok")).status_code == 200
    await run_at(runtime, later(minutes=10))
    assert await open_nodes(runtime, inst) == ["next"]
    assert (await view(runtime, inst))["active_nodes"] == ["next"]
    assert await job_rows(runtime, inst) == []
    await verify(runtime, inst)


async def test_terminate_parent_terminates_child_inside_sub_process(runtime):
    await runtime.publish(CHILD, "ac-child")
    body = ('<startEvent id="s"/>' + sub("sp", '<startEvent id="ss"/><callActivity id="call" '
            'calledElement="ac-child"/><endEvent id="se"/>', "ss>call", "call>se")
            + '<endEvent id="e"/>' + flows("s>sp", "sp>e"))
    await runtime.publish(bpmn("ac-term", body), "ac-term")
    inst = (await start(runtime, "ac-term"))["id"]
    [kid] = await children(runtime, inst)
    r = await act(runtime, inst, "terminate", reason="duplicate")
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    assert (await view(runtime, str(kid["id"])))["state"] == "terminated"
    await verify(runtime, inst)


async def test_a_failed_report_job_incident_is_closed_when_the_call_activity_is_skipped(runtime):
    """The child's end cannot be taken (the out mapping fails): the report job opens an
    incident. The administrator skips the call activity: the incident and its parked job
    belong to a node no longer active and must not stay open."""
    model = _parent("ac-inc", '<camunda:out sourceExpression="${missing.field}" target="z"/>')
    inst, kid = await _running(runtime, "ac-inc", model)
    await complete(runtime, kid, "work", missing=5)
    moment = later(minutes=1)
    for step in range(8):
        await run_at(runtime, moment)
        moment = later(minutes=2 + step * 2)
    [incident] = await incidents(runtime, inst, "open")
    assert (await view(runtime, inst))["active_nodes"] == ["call"]
    token = await token_at(runtime, inst, "call")
    r = await act(runtime, inst, "skip", token_id=token["id"], reason="take over by hand")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await incidents(runtime, inst, "open") == [], "incident of a node no longer active"
    assert await job_rows(runtime, inst) == [], "parked report job left behind"
    await verify(runtime, inst)


async def test_a_failed_report_job_incident_is_closed_when_the_parent_is_terminated(runtime):
    model = _parent("ac-inc2", '<camunda:out sourceExpression="${missing.field}" target="z"/>')
    inst, kid = await _running(runtime, "ac-inc2", model)
    await complete(runtime, kid, "work", missing=5)
    moment = later(minutes=1)
    for step in range(8):
        await run_at(runtime, moment)
        moment = later(minutes=2 + step * 2)
    [incident] = await incidents(runtime, inst, "open")
    r = await act(runtime, inst, "terminate", reason="give up")
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    assert await incidents(runtime, inst, "open") == [], "incident of a terminated instance stays open"
    assert await job_rows(runtime, inst) == [], "parked report job left behind"
    await verify(runtime, inst)


async def test_a_timer_job_incident_is_closed_when_the_token_is_moved_away(runtime):
    body = ('<startEvent id="s"/><intermediateCatchEvent id="wait"><timerEventDefinition>'
            '<timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>'
            '<callActivity id="call" calledElement="${callee}"/>' + task("next") + '<endEvent id="e"/>'
            + flows("s>wait", "wait>call", "call>next", "next>e"))
    await runtime.publish(bpmn("ac-timer", body), "ac-timer")
    inst = (await start(runtime, "ac-timer", callee="no-such-process"))["id"]
    moment = later(hours=2)
    for step in range(8):
        await run_at(runtime, moment)
        moment = later(hours=3 + step)
    [incident] = await incidents(runtime, inst, "open")
    assert incident["job_kind"] == "timer"
    r = await act(runtime, inst, "move", from_node="wait", to_node="next", reason="no call needed")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await job_rows(runtime, inst) == []
    assert await incidents(runtime, inst, "open") == [], "incident of a timer no longer armed"
    await verify(runtime, inst)
