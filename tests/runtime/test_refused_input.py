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


async def _refused(runtime, path: str, body: dict, user: tuple[str, ...] = ("alice",)) -> str:
    r = await runtime.client.post(path, json=body, headers=runtime.auth(*user))
    assert r.status_code == 422, r.text
    return r.json()["errors"][0]["field"]


async def test_variables_of_a_start_or_a_completion_are_refused_naming_the_one_at_fault(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    before = await _count(runtime)
    start = "/api/v1/process-instances"

    def starting(**variables) -> dict:
        return {"definition_key": "expense-reimbursement", "variables": {"amount": 5, **variables}}

    assert await _refused(runtime, start, starting(note="x" * 300_000)) == "variables.note"
    deep: dict = {}
    for _ in range(200):
        deep = {"d": deep}
    assert (await _refused(runtime, start, starting(tree=deep))).startswith("variables.tree")
    for name in ["a b", "1abc", "x-y", "${x}", "n" * 129]:
        assert await _refused(runtime, start, starting(**{name: 1})) == f"variables.{name[:128]}"
    assert await _refused(runtime, start, starting(initiator="mallory")) == "variables.initiator"
    assert await _count(runtime) == before, "nothing was started"

    started = await runtime.client.post(start, json=starting(), headers=runtime.auth("alice"))
    assert started.status_code == 201, started.text
    tasks = await runtime.client.get(
        "/api/v1/tasks", params={"instance_id": started.json()["id"]}, headers=runtime.auth("bob")
    )
    [task] = tasks.json()["items"]
    complete = f"/api/v1/tasks/{task['id']}/complete"
    assert await _refused(runtime, complete, {"variables": {"initiator": "carol"}}, ("bob",)) == "variables.initiator"
    assert await _refused(runtime, complete, {"variables": {"note": "x" * 300_000}}, ("bob",)) == "variables.note"
    view = await runtime.client.get(f"/api/v1/process-instances/{started.json()['id']}", headers=runtime.auth("admin", "admin"))
    assert view.json()["active_nodes"] == [task["node_id"]], "the task is still open"


TOPIC_BY_VARIABLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="by-topic" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <serviceTask id="work" camunda:type="external" camunda:topic="${topic}"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>
"""


async def test_a_topic_an_expression_makes_too_long_to_keep_refuses_the_start(runtime):
    await runtime.publish(TOPIC_BY_VARIABLE, "by-topic")
    before = await _count(runtime)
    body = {"definition_key": "by-topic", "variables": {"topic": "t" * 256}}
    refused = await runtime.client.post("/api/v1/process-instances", json=body, headers=runtime.auth("alice"))
    assert refused.status_code == 422, refused.text
    assert "at most 255" in refused.json()["detail"]
    assert await _count(runtime) == before
    body["variables"]["topic"] = "t" * 255
    started = await runtime.client.post("/api/v1/process-instances", json=body, headers=runtime.auth("alice"))
    assert started.status_code == 201, started.text


async def test_a_body_that_is_not_json_is_named_as_the_body(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    before = await _count(runtime)
    refused = await runtime.client.post(
        "/api/v1/process-instances", content=b'{"definition_key": "expense-reimbursement",',
        headers={**runtime.auth("alice"), "Content-Type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "body" and "at character" in error["message"], error
    assert await _count(runtime) == before
