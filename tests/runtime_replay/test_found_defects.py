"""Runtime defects found by replaying generated models (tests/conformance/random_models)
through the runtime (``replay.py``), each with its smallest model."""

from __future__ import annotations

from tests.runtime.timing import admin, bpmn, start, view

ADMIN_TASK = 'camunda:candidateGroups="admin"'


async def _open_tasks(runtime, instance_id: str) -> list[str]:
    r = await runtime.client.get(f"/api/v1/tasks?instance_id={instance_id}&scope=all", headers=admin(runtime))
    assert r.status_code == 200, r.text
    return sorted(t["node_id"] for t in r.json()["items"])


async def test_a_task_created_and_cancelled_by_one_command_is_not_left_open(runtime):
    """Replay of seed 54 of the ``events`` options, shrunk. At the start, the parallel
    split creates the task ``a`` and reaches the error end event ``ee`` in the same
    command; the error boundary ``eb`` interrupts ``sub``, which cancels ``a``: the
    engine's records are ``task_created a`` then ``task_cancelled a``, and only ``h``
    is open. (The cancellation's UPDATE ran before the new rows' INSERT, which then
    wrote ``a`` as open: a task of nothing, for ever in the inbox.)"""
    xml = bpmn(
        "created-and-cancelled",
        '<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/><parallelGateway id="p"/>'
        f'<userTask id="a" {ADMIN_TASK}/><endEvent id="ee"><errorEventDefinition errorRef="E"/></endEvent>'
        '<sequenceFlow id="g1" sourceRef="ss" targetRef="p"/><sequenceFlow id="g2" sourceRef="p" targetRef="a"/>'
        '<sequenceFlow id="g3" sourceRef="p" targetRef="ee"/></subProcess>'
        '<boundaryEvent id="eb" attachedToRef="sub"><errorEventDefinition errorRef="E"/></boundaryEvent>'
        f'<userTask id="h" {ADMIN_TASK}/><endEvent id="e"/>',
        "s>sub", "eb>h", "h>e",
    ).replace(b"<process", b'<error id="E" errorCode="E1"/><process')
    await runtime.publish(xml, "created-and-cancelled")
    r = await start(runtime, "created-and-cancelled")
    assert r.status_code == 201, r.text
    instance = r.json()["id"]
    assert (await view(runtime, instance))["active_nodes"] == ["h"]
    assert await _open_tasks(runtime, instance) == ["h"]


async def test_a_user_task_without_any_assignment_is_offered_to_admin(runtime):
    """Every generated model, plain: ``<userTask id="a"/>`` names no assignee, candidate or
    ``bpm:assignment`` rule. docs/bpmn-extensions.md promises that "a task that would be
    offered to nobody at all is offered to role ``admin``, so no work is ever invisible";
    it held only for tasks with rules (a plain task was in nobody's inbox and nobody
    could complete it: the instance was stuck)."""
    xml = bpmn("unassigned", '<startEvent id="s"/><userTask id="a"/><endEvent id="e"/>', "s>a", "a>e")
    await runtime.publish(xml, "unassigned")
    r = await start(runtime, "unassigned")
    assert r.status_code == 201, r.text
    inbox = (await runtime.client.get("/api/v1/tasks", headers=admin(runtime))).json()["items"]
    assert [t["node_id"] for t in inbox] == ["a"]
    assert inbox[0]["candidate_roles"] == ["admin"]
    done = await runtime.client.post(f"/api/v1/tasks/{inbox[0]['id']}/complete", json={}, headers=admin(runtime))
    assert done.status_code == 200, done.text
    assert (await view(runtime, r.json()["id"]))["state"] == "completed"
