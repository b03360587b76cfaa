"""What the runtime will not run must be refused when it is published (422 naming the
element), not accepted by the designer and then refused at every start.

Each model is a small process written as Camunda Modeler / Flowable / Activiti save
it: start → a user task → the element under test → end. It goes through the
designer's upload and publish; when the designer publishes it, the runtime must start
it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.conftest import published_bytes, start, upload
from tests.compat.modeller import gateway, model

DESIGNER = ("dora", "process_designer")


CASES = {
    # Camunda Modeler: Input/Output tab, "Script" and "List" parameter types
    "camunda-input-script": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob"><bpmn:extensionElements>'
        '<camunda:inputOutput><camunda:inputParameter name="total">'
        '<camunda:script scriptFormat="groovy">amount * 2</camunda:script>'
        '</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>')),
    "camunda-input-list": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob"><bpmn:extensionElements>'
        '<camunda:inputOutput><camunda:inputParameter name="reviewers"><camunda:list>'
        '<camunda:value>bob</camunda:value></camunda:list></camunda:inputParameter>'
        '</camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>')),
    "camunda-output-bad-expression": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob"><bpmn:extensionElements>'
        '<camunda:inputOutput><camunda:outputParameter name="x">${a +* b}</camunda:outputParameter>'
        '</camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>')),
    "camunda-priority-word": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob" camunda:priority="high"/>')),
    "multi-instance-without-collection": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob">'
        '<bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>')),
    "call-activity-without-called-element": ("Subject", model(
        '<bpmn:callActivity id="Subject"/>')),
    "call-activity-unknown-binding": ("Subject", model(
        '<bpmn:callActivity id="Subject" calledElement="child" camunda:calledElementBinding="newest"/>')),
    "condition-in-mvel": ("Flow_Cond", model(gateway(
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="mvel">'
        '${amount &gt; 5}</bpmn:conditionExpression>'))),
    "condition-in-kotlin": ("Flow_Cond", model(gateway(
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="kotlin">'
        '${amount &gt; 5}</bpmn:conditionExpression>'))),
    # Camunda Modeler: condition type "Script", format JavaScript, type "External Resource"
    "condition-script-in-external-resource": ("Flow_Cond", model(gateway(
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="javascript" '
        'camunda:resource="deployment://isBig.js"/>'))),
    # Camunda Modeler: implementation "External" before the topic is filled in
    "external-task-without-topic": ("Subject", model(
        '<bpmn:serviceTask id="Subject" camunda:type="external"/>')),
    "failed-job-retry-time-cycle": ("Subject", model(
        '<bpmn:serviceTask id="Subject" camunda:type="external" camunda:topic="charge">'
        '<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R5/PT5X'
        '</camunda:failedJobRetryTimeCycle></bpmn:extensionElements></bpmn:serviceTask>')),
    "error-boundary-with-unknown-error": ("Boundary", model(
        '<bpmn:userTask id="Subject" camunda:assignee="bob"/>'
        '<bpmn:boundaryEvent id="Boundary" attachedToRef="Subject">'
        '<bpmn:errorEventDefinition errorRef="Error_0x1"/></bpmn:boundaryEvent>'
        '<bpmn:sequenceFlow id="Flow_Err" sourceRef="Boundary" targetRef="EndEvent_1"/>')),
    "completion-condition-syntax": ("Subject", model(
        '<bpmn:userTask id="Subject" camunda:assignee="${a}">'
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${list}" camunda:elementVariable="a">'
        '<bpmn:completionCondition xsi:type="bpmn:tFormalExpression">${nrOfCompletedInstances +* 1}'
        '</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>')),
    # the MIWG reference model C.9.2 (Camunda 8): FEEL `string join` in an input mapping
    "miwg-C.9.2": ("UserTask_DecideOnApplication",
                   Path("/work/shared/corpus/bpmn-miwg/C.9.2.bpmn").read_bytes()),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_what_cannot_run_is_refused_at_publication(client, db, runtime, case):
    element_id, data = CASES[case]
    uploaded = await upload(client, data)
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    published = await client.post(f"/api/v1/definitions/{body['id']}/publish", json={},
                                  headers=client.as_user(*DESIGNER))
    if published.status_code == 422:
        problem = published.json()
        assert element_id in [e.get("element_id") for e in problem["errors"]], problem
        return
    assert published.status_code == 200, published.text
    await runtime.publish(await published_bytes(db, body["key"]), body["key"])
    started = await start(runtime, body["key"], "alice", {"amount": 10})
    assert started.status_code == 201, (
        f"published by the designer, but the runtime refuses to start it: {started.text}")
