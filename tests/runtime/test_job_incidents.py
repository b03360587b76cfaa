"""A job that keeps failing opens an incident instead of retrying unseen for ever; a
parent's model that cannot take a child's report does not block the child; one recipient
of a signal that cannot take it keeps it from no other."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import INCIDENT_AFTER, JobRunner

ADMIN = ("admin", "admin")
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">'
)


def bpmn(body: str) -> bytes:
    return (HEAD + body + "</definitions>").encode()


TIMER_THEN_MISSING_CALL = bpmn("""
  <process id="late-call" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f0" sourceRef="start" targetRef="wait"/>
    <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT1H</timeDuration>
    </timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f1" sourceRef="wait" targetRef="call"/>
    <callActivity id="call" calledElement="${callee}"/>
    <sequenceFlow id="f2" sourceRef="call" targetRef="done"/><endEvent id="done"/>
  </process>""")
CHILD = bpmn("""
  <process id="kid" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <userTask id="work" camunda:assignee="carol"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="done"/><endEvent id="done"/>
  </process>""")
PARENT_WITH_FAILING_OUT = bpmn("""
  <process id="par" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <callActivity id="call" calledElement="kid">
      <extensionElements><camunda:out sourceExpression="${res.total}" target="total"/></extensionElements>
    </callActivity>
    <sequenceFlow id="f2" sourceRef="call" targetRef="next"/>
    <userTask id="next" camunda:assignee="alice"/>
    <sequenceFlow id="f3" sourceRef="next" targetRef="done"/><endEvent id="done"/>
  </process>""")


def _waiting_for(key: str, signal: str, assignee: str = "alice") -> bytes:
    return bpmn(f"""<signal id="s" name="{signal}"/>
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="catch"/>
    <intermediateCatchEvent id="catch"><signalEventDefinition signalRef="s"/></intermediateCatchEvent>
    <sequenceFlow id="f2" sourceRef="catch" targetRef="after"/>
    <userTask id="after" camunda:assignee="{assignee}"/>
    <sequenceFlow id="f3" sourceRef="after" targetRef="done"/><endEvent id="done"/>
  </process>""")


SIGNAL_START_THAT_FAILS = bpmn("""<signal id="s" name="go"/>
  <process id="on-go" isExecutable="true">
    <startEvent id="start"><signalEventDefinition signalRef="s"/></startEvent>
    <sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <userTask id="work" camunda:assignee="${who.name}"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="done"/><endEvent id="done"/>
  </process>""")


async def _start(runtime, key: str, **variables: Any) -> str:
    r = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key, "variables": variables}, headers=runtime.auth("alice")
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _view(runtime, instance_id: str) -> dict[str, Any]:
    return (await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=runtime.auth(*ADMIN))).json()


async def _incidents(runtime, instance_id: str) -> list[dict[str, Any]]:
    r = await runtime.client.get("/api/v1/incidents", params={"instance_id": instance_id}, headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _jobs(runtime, instance_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = await conn.execute(select(jobs).where(jobs.c.instance_id == UUID(instance_id)))
        return [dict(r) for r in rows.mappings()]


async def _run_rounds(runtime, rounds: int, start: dt.datetime) -> dt.datetime:
    runner = JobRunner(runtime.client.app.state.ctx)
    moment = start
    for _ in range(rounds):
        moment += dt.timedelta(minutes=10)  # past any backoff
        await runner.run_due(now=moment)
    return moment


async def test_a_job_that_keeps_failing_opens_an_incident_that_an_administrator_retries(runtime):
    await runtime.publish(TIMER_THEN_MISSING_CALL, "late-call")
    instance_id = await _start(runtime, "late-call", callee="no-such-process")
    moment = await _run_rounds(runtime, INCIDENT_AFTER + 3, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    [job] = await _jobs(runtime, instance_id)
    assert job["attempts"] == INCIDENT_AFTER, "parked once the incident opened"
    [incident] = await _incidents(runtime, instance_id)
    assert (incident["state"], incident["job_kind"], incident["node_id"]) == ("open", "timer", "wait")
    assert incident["work_id"] == str(job["id"]) and "no-such-process" in incident["message"]
    assert (await _view(runtime, instance_id))["active_nodes"] == ["wait"]

    edited = await runtime.client.patch(
        f"/api/v1/admin/process-instances/{instance_id}/variables",
        json={"variables": {"callee": "kid"}, "reason": "the process was renamed"}, headers=runtime.auth(*ADMIN),
    )
    assert edited.status_code == 200, edited.text
    await runtime.publish(CHILD, "kid")
    retried = await runtime.client.post(
        f"/api/v1/incidents/{incident['id']}/retry", json={"reason": "callee fixed"}, headers=runtime.auth(*ADMIN)
    )
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["resolved_by"]) == ("resolved", "admin")
    await JobRunner(runtime.client.app.state.ctx).run_due(now=moment)
    assert (await _view(runtime, instance_id))["active_nodes"] == ["call"]
    assert await _jobs(runtime, instance_id) == []
    trail = (await runtime.client.get(
        f"/api/v1/process-instances/{instance_id}/history", headers=runtime.auth(*ADMIN))).json()["items"]
    actions = [e["action"] for e in trail]
    assert "incident_created" in actions and "incident_resolved" in actions
    verify = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history/verify", headers=runtime.auth(*ADMIN))
    assert verify.json()["valid"] is True, verify.text


async def test_a_parent_that_cannot_take_the_childs_report_does_not_block_the_child(runtime):
    await runtime.publish(CHILD, "kid")
    await runtime.publish(PARENT_WITH_FAILING_OUT, "par")
    parent_id = await _start(runtime, "par")
    called = (await runtime.client.get(
        f"/api/v1/process-instances/{parent_id}/called-instances", headers=runtime.auth(*ADMIN))).json()["items"]
    child_id = called[0]["id"]
    task = (await runtime.client.get("/api/v1/tasks", params={"instance_id": child_id},
                                     headers=runtime.auth("carol"))).json()["items"][0]
    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"res": 5}},
                                     headers=runtime.auth("carol"))
    assert done.status_code == 200, "the child's work stands: " + done.text
    assert (await _view(runtime, child_id))["state"] == "completed"
    assert (await _view(runtime, parent_id))["active_nodes"] == ["call"]
    await _run_rounds(runtime, INCIDENT_AFTER, dt.datetime.now(dt.UTC))
    [incident] = await _incidents(runtime, parent_id)
    assert incident["job_kind"] == "call_ended" and "total" in incident["message"]


async def test_a_signal_reaches_every_recipient_that_can_take_it(runtime):
    await runtime.publish(_waiting_for("fine", "go"), "fine")
    await runtime.publish(_waiting_for("broken", "go", "${who.name}"), "broken")
    await runtime.publish(SIGNAL_START_THAT_FAILS, "on-go")
    fine, broken = await _start(runtime, "fine"), await _start(runtime, "broken")
    r = await runtime.client.post("/api/v1/signals", json={"name": "go", "variables": {"who": 3}},
                                  headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["instances_signalled"] == [fine] and body["instances_started"] == []
    assert sorted(str(f.get("instance_id") or f.get("definition_key")) for f in body["failed"]) == sorted([broken, "on-go"])
    assert (await _view(runtime, fine))["active_nodes"] == ["after"]
    assert (await _view(runtime, broken))["active_nodes"] == ["catch"], "untouched by the refused delivery"
