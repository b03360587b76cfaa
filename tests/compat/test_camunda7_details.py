"""Details of Camunda 7 models that the Camunda Modeler writes on its own."""

from __future__ import annotations

import pytest

from bpm_process.engine import compile_bpmn
from bpm_process.errors import BpmnError
from tests.compat.conftest import deploy, start, xml_headers
from tests.compat.modeller import gateway, model

CHILD = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x">
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:userTask id="work" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:assignee="bob"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="work"/><bpmn:sequenceFlow id="b" sourceRef="work" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

# Camunda Modeler 4/5, call activity, "In mappings": the "Business Key" switch
PARENT = model(
    '<bpmn:callActivity id="Subject" calledElement="child"><bpmn:extensionElements>'
    '<camunda:in businessKey="#{execution.processBusinessKey}" />'
    '<camunda:in variables="all" /><camunda:out variables="all" />'
    '</bpmn:extensionElements></bpmn:callActivity>',
    key="parent",
)


async def test_the_modelers_business_key_switch_on_a_call_activity_runs(client, db, runtime):
    """The Camunda Modeler's "Business Key" switch writes
    `<camunda:in businessKey="#{execution.processBusinessKey}"/>`: the child gets the
    parent's business key ('execution' is otherwise another engine's object, refused)."""
    await deploy(client, db, runtime, CHILD)
    await deploy(client, db, runtime, PARENT)
    started = await start(runtime, "parent", "alice")
    assert started.status_code == 201, started.text


def test_a_condition_in_an_external_script_resource_is_refused_not_dropped():
    """`conditionExpression language="javascript" camunda:resource="..."` has no
    text; it compiled as no condition at all, so the flow was always taken."""
    data = model(gateway('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
                         'language="javascript" camunda:resource="deployment://isBig.js"/>'))
    with pytest.raises(BpmnError) as refused:
        compile_bpmn(data)
    [entry] = refused.value.errors
    assert entry["element_id"] == "Flow_Cond" and "deployment://isBig.js" in entry["message"]


LISTENERS = {
    "execution-listener-script": (
        '<camunda:executionListener event="start"><camunda:script scriptFormat="javascript">'
        'execution.setVariable("approved", false)</camunda:script></camunda:executionListener>'),
    "execution-listener-class": '<camunda:executionListener class="com.acme.Audit" event="end"/>',
    "task-listener-assignment": (
        '<camunda:taskListener delegateExpression="${assignByRegion}" event="create"/>'),
}


@pytest.mark.parametrize("case", list(LISTENERS), ids=list(LISTENERS))
async def test_listeners_that_will_not_run_are_named_by_lint(client, case):
    """Listeners are code (a class, a delegate, a script); the engine runs none of
    them, so a task whose listener assigned it, or a listener that set a variable a
    condition reads, behaves differently: lint names the element."""
    data = model(f'<bpmn:userTask id="Subject" camunda:assignee="bob"><bpmn:extensionElements>'
                 f'{LISTENERS[case]}</bpmn:extensionElements></bpmn:userTask>')
    report = (await client.post("/api/v1/definitions/lint", content=data,
                                headers=xml_headers(client))).json()
    findings = report["errors"] + report["warnings"]
    assert any(f["element_id"] == "Subject" and "istener" in f["message"] for f in findings), report
