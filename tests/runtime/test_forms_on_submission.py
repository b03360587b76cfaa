"""Forms published with a definition are checked on start and on task completion."""

from __future__ import annotations

import base64
import datetime as dt
import gzip

from bpm_common.events.envelope import new_event
from bpm_common.ids import new_id
from services.runtime.definitions.handlers import on_definition_published

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="purchase-form" isExecutable="true">
    <startEvent id="start" camunda:formKey="form:request"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <userTask id="check" name="Check" camunda:candidateUsers="bob" camunda:formKey="form:check"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""

FORMS = {
    "form:request": {
        "schema": {
            "type": "object",
            "required": ["budget"],
            "properties": {"budget": {"type": "number", "exclusiveMinimum": 0}, "annual": {"type": "number"}},
        },
        "ui_schema": {},
        "rules": [{"expression": "${budget < annual * 0.1}", "message": "below 10 % of the annual budget", "fields": ["budget"]}],
    },
    "form:check": {
        "schema": {"type": "object", "required": ["supplier_ok"], "properties": {"supplier_ok": {"type": "boolean"}}},
        "ui_schema": {},
        "rules": [],
    },
}


async def _publish(runtime) -> None:
    definition_id = new_id()
    event = new_event(
        "bpm.designer.definition.published", definition_id,
        {
            "id": definition_id, "key": "purchase-form", "version": 1, "name": "Purchase", "status": "published",
            "trial_roles": [], "published_at": dt.datetime.now(dt.UTC).isoformat(), "published_by": "designer",
            "bpmn_gzip_b64": base64.b64encode(gzip.compress(MODEL)).decode(), "forms": FORMS,
        },
        source="designer", sequence=1,
    )
    async with runtime.db.transaction() as session:
        await on_definition_published(session, event)


async def test_start_and_completion_are_checked_against_their_forms(runtime):
    await _publish(runtime)
    c = runtime.client
    bad = await c.post(
        "/api/v1/process-instances", json={"definition_key": "purchase-form", "variables": {"budget": -5, "annual": 1000}},
        headers=runtime.auth("alice"),
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["variables.budget"]
    too_big = await c.post(
        "/api/v1/process-instances", json={"definition_key": "purchase-form", "variables": {"budget": 500, "annual": 1000}},
        headers=runtime.auth("alice"),
    )
    assert too_big.status_code == 422 and "10 %" in too_big.json()["errors"][0]["message"]
    ok = await c.post(
        "/api/v1/process-instances", json={"definition_key": "purchase-form", "variables": {"budget": 50, "annual": 1000}},
        headers=runtime.auth("alice"),
    )
    assert ok.status_code == 201, ok.text
    [task] = (await c.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"]
    assert task["form_key"] == "form:check"
    missing = await c.post(f"/api/v1/tasks/{task['id']}/complete", json={"variables": {}}, headers=runtime.auth("bob"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "variables.supplier_ok"
    done = await c.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"supplier_ok": True}}, headers=runtime.auth("bob")
    )
    assert done.status_code == 200


async def test_a_delegated_task_is_resolved_by_the_delegate_not_completed(runtime):
    from tests.runtime.conftest import EXPENSE

    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    await runtime.user("dave", "finance_director")
    await runtime.user("bob")
    c = runtime.client
    await c.post("/api/v1/process-instances", json={"definition_key": "expense-reimbursement", "variables": {"amount": 1}}, headers=runtime.auth("alice"))
    [task] = (await c.get("/api/v1/tasks", headers=runtime.auth("bob"))).json()["items"]
    claimed = await c.post(f"/api/v1/tasks/{task['id']}/claim", json={}, headers=runtime.auth("bob"))
    assert claimed.status_code == 200, claimed.text
    delegated = await c.post(f"/api/v1/tasks/{task['id']}/delegate", json={"to": "dave", "reason": "ask the director"}, headers=runtime.auth("bob"))
    assert delegated.status_code == 200, delegated.text
    [seen] = (await c.get("/api/v1/tasks", headers=runtime.auth("dave"))).json()["items"]
    assert (seen["owner"], seen["delegation_state"]) == ("bob", "pending")
    refused = await c.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("dave"))
    assert refused.status_code == 409
