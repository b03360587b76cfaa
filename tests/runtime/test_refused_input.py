"""Input the runtime cannot store is refused before anything is written: a NUL character
(text that only spells the escape is ordinary text), and a name for a task's people that
no user or role could have."""

from __future__ import annotations

from tests.runtime.conftest import EXPENSE


async def _count(runtime) -> int:
    page = await runtime.client.get(
        "/api/v1/process-instances", params={"limit": 200}, headers=runtime.auth("admin", "admin")
    )
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


async def test_a_nul_in_a_variable_is_refused_and_nothing_is_started(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    before = await _count(runtime)
    refused = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "expense-reimbursement", "variables": {"amount": 5, "purpose": "taxi\u0000"}},
        headers=runtime.auth("alice"),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "variables.purpose"
    assert await _count(runtime) == before

    spelled = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "expense-reimbursement", "variables": {"amount": 5, "purpose": "taxi\\u0000"}},
        headers=runtime.auth("alice"),
    )
    assert spelled.status_code == 201, spelled.text
    shown = await runtime.client.get(
        f"/api/v1/process-instances/{spelled.json()['id']}", headers=runtime.auth("admin", "admin")
    )
    assert shown.json()["variables"]["purpose"] == "taxi\\u0000"
    assert await _count(runtime) == before + 1


LONG_NAMES = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="picked" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="pick"/>
    <userTask id="pick" camunda:assignee="${first}"/>
    <sequenceFlow id="f2" sourceRef="pick" targetRef="check"/>
    <userTask id="check" camunda:candidateUsers="${second}"/>
    <sequenceFlow id="f3" sourceRef="check" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>"""


async def test_a_task_for_a_name_no_user_could_have_is_refused_naming_the_node(runtime):
    await runtime.publish(LONG_NAMES, "picked")
    before = await _count(runtime)
    refused = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": "picked", "variables": {"first": "x" * 65}},
        headers=runtime.auth("alice"),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "pick" and "longer than 64" in refused.text
    assert await _count(runtime) == before

    started = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": "picked", "variables": {"first": "bob"}},
        headers=runtime.auth("alice"),
    )
    assert started.status_code == 201, started.text
    [task] = (await runtime.client.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"]
    completed = await runtime.client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"second": ["carol", "y" * 80]}},
        headers=runtime.auth("bob"),
    )
    assert completed.status_code == 422 and completed.json()["errors"][0]["field"] == "check", completed.text
    [still] = (await runtime.client.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"]
    assert still["id"] == task["id"], "the refused completion changed nothing"
