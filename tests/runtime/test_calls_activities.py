"""Call activities: the called instance starts with the mapped inputs, its result flows back
through the out mappings, its BPMN error reaches the call activity's boundary event, and a
cancelled call activity terminates it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from services.runtime.instances.models import instances
from services.runtime.jobs.worker import JobRunner
from tests.runtime.conftest import MODELS


def _admin(runtime) -> dict[str, str]:
    return runtime.auth("admin", "admin")


async def _publish(runtime) -> None:
    await runtime.publish((MODELS / "calls-parent.bpmn").read_bytes(), "loan-application")
    await runtime.publish((MODELS / "calls-child.bpmn").read_bytes(), "credit-check")


async def _apply(runtime, check: str = "credit-check", **variables: Any) -> Any:
    return await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "loan-application",
              "variables": {"checkProcess": check, "amount": 5000, "applicationId": "LOAN-1",
                            "salary": "private", **variables}},
        headers=runtime.auth("alice"),
    )


async def _view(runtime, instance_id: str) -> dict[str, Any]:
    return (await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=_admin(runtime))).json()


async def _children(runtime, parent_id: str) -> list[dict[str, Any]]:
    r = await runtime.client.get(f"/api/v1/process-instances/{parent_id}/called-instances",
                                 headers=runtime.auth("alice"))
    assert r.status_code == 200, r.text
    return [await _view(runtime, item["id"]) for item in r.json()["items"]]


async def _complete_assessment(runtime, child_id: str, **variables: Any) -> None:
    [task] = (await runtime.client.get(f"/api/v1/tasks?instance_id={child_id}", headers=runtime.auth("carol"))).json()[
        "items"]
    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": variables},
                                     headers=runtime.auth("carol"))
    assert done.status_code == 200, done.text


async def test_the_called_instance_gets_the_inputs_and_returns_the_outputs(runtime):
    await _publish(runtime)
    started = await _apply(runtime)
    assert started.status_code == 201, started.text
    parent = started.json()
    assert parent["active_nodes"] == ["credit_check"]
    [child] = await _children(runtime, parent["id"])
    assert child["definition_key"] == "credit-check" and child["active_nodes"] == ["assess"]
    assert child["variables"] == {"requested": 5000}, "only the camunda:in mappings cross over"
    assert child["business_key"] == "LOAN-1" and child["initiator"] == "alice"
    hidden = await runtime.client.get(f"/api/v1/process-instances/{parent['id']}/called-instances",
                                      headers=runtime.auth("mallory"))
    assert hidden.status_code == 404

    await _complete_assessment(runtime, child["id"], ok=True, approvedAmount=4000, notes="stable income")
    assert (await _view(runtime, child["id"]))["state"] == "completed"
    view = await _view(runtime, parent["id"])
    assert view["active_nodes"] == ["sign"], "the parent moved on in the child's unit of work"
    assert view["variables"]["granted"] == 4000
    assert "notes" not in view["variables"] and "ok" not in view["variables"], "only the camunda:out mappings"
    trail = (await runtime.client.get(f"/api/v1/process-instances/{parent['id']}/history",
                                      headers=_admin(runtime))).json()["items"]
    [entry] = [e for e in trail if e["action"] == "called_instance_started"]
    assert entry["details"]["instance_id"] == child["id"]
    [ended] = [e for e in trail if e["action"] == "called_instance_ended"]
    assert (ended["details"]["instance_id"], ended["details"]["outcome"]) == (child["id"], "completed")
    assert ended["actor"] == "carol", "whoever finished the child"


async def test_an_error_of_the_called_instance_reaches_the_boundary_event_of_the_call_activity(runtime):
    await _publish(runtime)
    parent = (await _apply(runtime)).json()
    [child] = await _children(runtime, parent["id"])
    await _complete_assessment(runtime, child["id"], ok=False)
    assert (await _view(runtime, child["id"]))["state"] == "terminated"
    assert (await _view(runtime, parent["id"]))["active_nodes"] == ["decline"]


async def test_a_cancelled_call_activity_terminates_the_called_instance(runtime):
    await _publish(runtime)
    parent = (await _apply(runtime)).json()
    [child] = await _children(runtime, parent["id"])
    runner = JobRunner(runtime.client.app.state.ctx)
    assert await runner.run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)) == 1
    assert (await _view(runtime, parent["id"]))["active_nodes"] == ["chase"]
    assert (await _view(runtime, child["id"]))["state"] == "terminated"
    assert (await runtime.client.get(f"/api/v1/tasks?instance_id={child['id']}",
                                     headers=runtime.auth("carol"))).json()["items"] == []


async def test_a_called_instance_that_ends_at_once_moves_the_parent_on_after_its_start(runtime):
    await _publish(runtime)
    await runtime.publish((MODELS / "calls-instant.bpmn").read_bytes(), "instant-check")
    parent = (await _apply(runtime, "instant-check", approvedAmount=1)).json()
    [child] = await _children(runtime, parent["id"])
    assert child["state"] == "completed"
    assert await JobRunner(runtime.client.app.state.ctx).run_due() == 1
    view = await _view(runtime, parent["id"])
    assert view["active_nodes"] == ["sign"] and "requested" not in view["variables"]


async def test_an_unknown_called_process_and_endless_recursion_are_refused(runtime):
    await _publish(runtime)
    missing = await _apply(runtime, "no-such-process")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "credit_check"
    await runtime.publish((MODELS / "calls-recursive.bpmn").read_bytes(), "endless")
    endless = await runtime.client.post("/api/v1/process-instances", json={"definition_key": "endless"},
                                        headers=runtime.auth("alice"))
    assert endless.status_code == 422, endless.text
    assert "nest more than 20" in endless.json()["detail"]
    async with runtime.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(instances))).scalar_one() == 0


def _inheriting_parent(key: str, call_attributes: str, extension: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             xmlns:flowable="http://flowable.org/bpmn" id="d" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <callActivity id="call" calledElement="credit-check" {call_attributes}>
      <extensionElements>{extension}</extensionElements>
    </callActivity>
    <sequenceFlow id="f2" sourceRef="call" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>""".encode()


async def test_a_called_instance_inherits_the_business_key_as_camunda_and_flowable_models_ask(runtime):
    """The Camunda Modeler's "Business Key" switch writes
    `<camunda:in businessKey="#{execution.processBusinessKey}"/>`; Flowable writes
    `flowable:inheritBusinessKey="true"`. Both give the child the parent's business key."""
    await runtime.publish((MODELS / "calls-child.bpmn").read_bytes(), "credit-check")
    await runtime.publish(_inheriting_parent(
        "camunda-parent", "", '<camunda:in businessKey="#{execution.processBusinessKey}"/>'), "camunda-parent")
    await runtime.publish(_inheriting_parent(
        "flowable-parent", 'flowable:inheritBusinessKey="true"', ""), "flowable-parent")
    for key in ("camunda-parent", "flowable-parent"):
        started = await runtime.client.post(
            "/api/v1/process-instances",
            json={"definition_key": key, "business_key": f"ORDER-{key}", "variables": {}},
            headers=runtime.auth("alice"))
        assert started.status_code == 201, started.text
        [child] = await _children(runtime, started.json()["id"])
        assert child["business_key"] == f"ORDER-{key}"
