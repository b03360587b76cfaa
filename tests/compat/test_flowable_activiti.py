"""Flowable and Activiti models as their modellers save them, uploaded, published and
run through the designer's and the runtime's APIs."""

from __future__ import annotations

from tests.compat.conftest import complete, deploy, inbox, start, upload, xml_headers

FLOWABLE_LEAVE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:flowable="http://flowable.org/bpmn" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" xmlns:omgdi="http://www.omg.org/spec/DD/20100524/DI" typeLanguage="http://www.w3.org/2001/XMLSchema" expressionLanguage="http://www.w3.org/1999/XPath" targetNamespace="http://www.flowable.org/processdef" exporter="Flowable Open Source Modeler" exporterVersion="6.8.0">
  <process id="leaveRequest" name="Leave request" isExecutable="true">
    <documentation>Ask for days off</documentation>
    <startEvent id="startEvent1" flowable:initiator="employee" flowable:formFieldValidation="true">
      <extensionElements>
        <flowable:formProperty id="days" name="Days" type="long" required="true"></flowable:formProperty>
      </extensionElements>
    </startEvent>
    <userTask id="managerApproval" name="Manager approval" flowable:candidateGroups="management,hr" flowable:skipExpression="${skipManager}" flowable:formFieldValidation="true">
      <extensionElements>
        <flowable:formProperty id="approved" name="Approved" type="boolean" required="true"></flowable:formProperty>
        <modeler:initiator-can-complete xmlns:modeler="http://flowable.org/modeler"><![CDATA[false]]></modeler:initiator-can-complete>
      </extensionElements>
    </userTask>
    <exclusiveGateway id="decision" default="rejectedFlow"></exclusiveGateway>
    <userTask id="bookLeave" name="Book leave" flowable:assignee="${initiator}" flowable:formFieldValidation="true">
      <extensionElements>
        <modeler:initiator-can-complete xmlns:modeler="http://flowable.org/modeler"><![CDATA[true]]></modeler:initiator-can-complete>
      </extensionElements>
    </userTask>
    <endEvent id="booked"></endEvent>
    <endEvent id="rejected"></endEvent>
    <sequenceFlow id="flow1" sourceRef="startEvent1" targetRef="managerApproval"></sequenceFlow>
    <sequenceFlow id="flow2" sourceRef="managerApproval" targetRef="decision"></sequenceFlow>
    <sequenceFlow id="approvedFlow" sourceRef="decision" targetRef="bookLeave">
      <conditionExpression xsi:type="tFormalExpression"><![CDATA[${approved && days <= 20}]]></conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="rejectedFlow" sourceRef="decision" targetRef="rejected"></sequenceFlow>
    <sequenceFlow id="flow5" sourceRef="bookLeave" targetRef="booked"></sequenceFlow>
  </process>
</definitions>
"""

ACTIVITI_SIGN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:activiti="http://activiti.org/bpmn" typeLanguage="http://www.w3.org/2001/XMLSchema" expressionLanguage="http://www.w3.org/1999/XPath" targetNamespace="http://www.activiti.org/test">
  <process id="contractSigning" name="Contract signing" isExecutable="true">
    <startEvent id="start" activiti:initiator="author"></startEvent>
    <userTask id="sign" name="Sign" activiti:assignee="${signer}">
      <multiInstanceLoopCharacteristics isSequential="false">
        <loopDataInputRef>signers</loopDataInputRef>
        <inputDataItem name="signer"></inputDataItem>
      </multiInstanceLoopCharacteristics>
    </userTask>
    <userTask id="archive" name="Archive" activiti:assignee="${author}"></userTask>
    <endEvent id="end"></endEvent>
    <sequenceFlow id="f1" sourceRef="start" targetRef="sign"></sequenceFlow>
    <sequenceFlow id="f2" sourceRef="sign" targetRef="archive"></sequenceFlow>
    <sequenceFlow id="f3" sourceRef="archive" targetRef="end"></sequenceFlow>
  </process>
</definitions>
"""


async def test_a_flowable_modeler_model_runs_unchanged(client, db, runtime):
    await deploy(client, db, runtime, FLOWABLE_LEAVE)
    await runtime.user("mona", "management")
    started = await start(runtime, "leaveRequest", "alice", {"days": 3})
    assert started.status_code == 201, started.text
    [approval] = await inbox(runtime, "mona")
    assert set(approval["candidate_roles"]) == {"management", "hr"}
    assert (await complete(runtime, approval, "mona", {"approved": True})).status_code == 200
    [book] = await inbox(runtime, "alice")
    assert book["node_id"] == "bookLeave" and book["assignee"] == "alice"
    assert (await complete(runtime, book, "alice")).json()["instance_state"] == "completed"
    view = (await runtime.client.get(f"/api/v1/process-instances/{started.json()['id']}",
                                     headers=runtime.auth("alice"))).json()
    assert view["variables"]["employee"] == "alice"


async def test_activiti_multi_instance_over_loop_data_input_ref(client, db, runtime):
    """`loopDataInputRef` + `inputDataItem` (how Activiti 5 and Flowable write
    a multi-instance over a list) was published by the designer and then refused by
    the runtime at every start ("needs a loopCardinality or a collection")."""
    await deploy(client, db, runtime, ACTIVITI_SIGN)
    started = await start(runtime, "contractSigning", "alice", {"signers": ["bob", "carol"]})
    assert started.status_code == 201, started.text
    [bob] = await inbox(runtime, "bob")
    [carol] = await inbox(runtime, "carol")
    assert bob["node_id"] == carol["node_id"] == "sign"
    await complete(runtime, bob, "bob")
    await complete(runtime, carol, "carol")
    [archive] = await inbox(runtime, "alice")
    assert archive["node_id"] == "archive"


async def _edit(client, definition_id: str, *operations: dict) -> bytes:
    edited = await client.post(f"/api/v1/definitions/{definition_id}/edits",
                               json={"operations": list(operations)},
                               headers=client.as_user("dora", "process_designer"))
    assert edited.status_code == 201, edited.text
    exported = await client.get(f"/api/v1/definitions/{edited.json()['id']}/bpmn",
                                headers=client.as_user("dora", "process_designer"))
    return exported.content


async def test_removing_a_form_from_an_activiti_task_removes_the_reference(client):
    """The designer's "form" edit with `form: null` only looked at camunda: and
    flowable: keys, so an Activiti task kept `activiti:formKey="form:archive"` and the
    version still needed that form to be published."""
    data = ACTIVITI_SIGN.replace(b'<userTask id="archive" name="Archive"',
                                 b'<userTask id="archive" name="Archive" activiti:formKey="form:archive"')
    uploaded = (await upload(client, data)).json()
    exported = await _edit(client, uploaded["id"], {"op": "form", "element_id": "archive", "form": None})
    assert b"form:archive" not in exported


async def test_a_form_set_in_a_flowable_model_is_written_as_flowable_reads_it(client):
    """A form set on a Flowable element without a form key was written as
    `camunda:formKey`, which Flowable ignores when the model goes back to it."""
    uploaded = (await upload(client, FLOWABLE_LEAVE)).json()
    exported = await _edit(client, uploaded["id"], {"op": "form", "element_id": "bookLeave", "form": "book"})
    assert b'flowable:formKey="form:book"' in exported
    assert b"camunda" not in exported


async def test_a_skip_expression_that_will_not_be_evaluated_is_named_by_lint(client):
    data = FLOWABLE_LEAVE.replace(b'<userTask id="bookLeave"',
                                  b'<userTask id="bookLeave" flowable:skipExpression="${skipBooking}"')
    assert b"skipExpression" in data
    report = (await client.post("/api/v1/definitions/lint", content=data, headers=xml_headers(client))).json()
    named = {f["element_id"] for f in report["warnings"] if f["rule"] == "skip-expression"}
    assert named == {"managerApproval", "bookLeave"}, "the model's own and the one added"
    assert report["valid"], "a warning: the model still publishes"
