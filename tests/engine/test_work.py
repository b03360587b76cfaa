"""Automated steps as wait states: external workers (Camunda 7, Flowable, Zeebe) and
the bpm:http connector; completion with mappings, failures, retries, incidents and
BPMN errors thrown by workers."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from bpm_process.engine import (
    NotAllowed,
    WorkNotActive,
    complete_work,
    fail_work,
    retry_work,
    throw_work_error,
)
from bpm_process.engine.events import IncidentCreated, WorkCreated, WorkFailed
from bpm_process.errors import BpmnError

from .support import NOW, Instance, flows, model, trace


def _one(task: str, roots: str = "") -> Instance:
    graph = model('<startEvent id="s"/>' + task + '<userTask id="next"/><endEvent id="e"/>'
                  + flows("s>charge", "charge>next", "next>e"), roots=roots)
    return Instance(graph)


def _created(instance: Instance) -> WorkCreated:
    (created,) = [e for e in instance.result.events if isinstance(e, WorkCreated)]
    return created


def test_camunda_external_task_waits_for_a_worker():
    instance = _one('<serviceTask id="charge" camunda:type="external" camunda:topic="payments"'
                    ' camunda:taskPriority="${prio}"><extensionElements>'
                    '<camunda:inputOutput><camunda:inputParameter name="sum">${amount * 2}'
                    '</camunda:inputParameter>'
                    '<camunda:outputParameter name="paymentId">${id}</camunda:outputParameter>'
                    '</camunda:inputOutput>'
                    '<camunda:failedJobRetryTimeCycle>R5/PT10M</camunda:failedJobRetryTimeCycle>'
                    '</extensionElements></serviceTask>')
    result = instance.start({"amount": 21, "prio": 7})
    assert result.active_nodes == ("charge",)
    created = _created(instance)
    assert (created.kind, created.topic, created.retries, created.retry_backoff,
            created.priority) == ("external", "payments", 5, "PT10M", 7)
    assert created.variables == {"sum": 42}
    assert created.request is None
    (work,) = result.state.works
    assert (work.id, work.kind, work.node, work.retries) == (created.work_id, "external",
                                                            "charge", 5)
    result = instance.call(complete_work, created.work_id, variables={"id": "P-1", "x": 1})
    assert result.active_nodes == ("next",)
    assert result.variables == {"amount": 21, "prio": 7, "paymentId": "P-1"}
    assert result.state.completed == ("charge",)
    with pytest.raises(WorkNotActive):
        instance.call(complete_work, created.work_id)


def test_zeebe_task_definition_and_flowable_external_worker():
    instance = _one('<serviceTask id="charge"><extensionElements>'
                    '<zeebe:taskDefinition type="=kind + \'-payments\'" retries="2"/>'
                    '<zeebe:taskHeaders><zeebe:header key="region" value="eu"/>'
                    '</zeebe:taskHeaders></extensionElements></serviceTask>')
    instance.start({"kind": "card"})
    created = _created(instance)
    assert (created.topic, created.retries, created.headers) == ("card-payments", 2,
                                                                 {"region": "eu"})
    assert created.variables == {"kind": "card"}
    instance = _one('<serviceTask id="charge" flowable:type="external-worker" '
                    'flowable:topic="orders"/>')
    instance.start()
    assert _created(instance).topic == "orders"


HTTP = (
    '<serviceTask id="charge"><extensionElements>'
    '<bpm:http method="post" url="https://pay.example/orders/${orderId}/charges"'
    ' timeout="PT30S" retries="4" retryBackoff="PT1M" resultVariable="chargeResponse">'
    '<bpm:header name="Authorization" value="Bearer ${token}"/>'
    '<bpm:body>{"amount": ${amount}, "currency": "${currency}"}</bpm:body>'
    '<bpm:output source="=body.id" target="chargeId"/>'
    '<bpm:output source="=status" target="chargeStatus"/>'
    '<bpm:response variable="firstLine" path="lines.0.sku"/>'
    '<bpm:response variable="missing" path="nope.deeper"/>'
    '</bpm:http></extensionElements></serviceTask>'
)


def test_http_connector_evaluates_the_request_and_maps_the_response():
    instance = _one(HTTP)
    instance.start({"orderId": "O-1", "token": "t0k", "amount": 12.5, "currency": "EUR"})
    created = _created(instance)
    assert created.kind == "http" and created.topic is None
    assert created.request == {
        "method": "POST",
        "url": "https://pay.example/orders/O-1/charges",
        "headers": {"Authorization": "Bearer t0k"},
        "body": '{"amount": 12.5, "currency": "EUR"}',
    }
    assert (created.retries, created.retry_backoff, created.timeout) == (4, "PT1M", "PT30S")
    response = {"status": 201, "headers": {}, "body": {"id": "ch_1", "lines": [{"sku": "A"}]}}
    result = instance.call(complete_work, created.work_id, variables=response)
    assert result.variables["chargeId"] == "ch_1"
    assert result.variables["firstLine"] == "A" and result.variables["missing"] is None
    assert result.variables["chargeStatus"] == 201
    assert result.variables["chargeResponse"] == response


def test_a_body_that_is_one_expression_is_sent_as_json():
    instance = _one(HTTP.replace('{"amount": ${amount}, "currency": "${currency}"}', "=order"))
    instance.start({"orderId": "O-1", "token": "t", "order": {"lines": [1, 2]}})
    assert _created(instance).request["body"] == {"lines": [1, 2]}


def test_failures_with_retries_left_keep_the_token_and_say_when_to_retry():
    instance = _one(HTTP)
    instance.start({"orderId": "O-1", "token": "t", "amount": 1, "currency": "EUR"})
    work_id = _created(instance).work_id
    result = instance.call(fail_work, work_id, error_message="503", retries_left=3)
    (failed,) = [e for e in result.events if isinstance(e, WorkFailed)]
    assert failed.retry_at == NOW + timedelta(minutes=1)
    assert result.state.works[0].retries == 3 and result.active_nodes == ("charge",)


def test_no_retries_left_opens_an_incident_until_the_work_is_retried():
    instance = _one(HTTP)
    instance.start({"orderId": "O-1", "token": "t", "amount": 1, "currency": "EUR"})
    work_id = _created(instance).work_id
    result = instance.call(fail_work, work_id, error_message="timeout", retries_left=0)
    (incident,) = [e for e in result.events if isinstance(e, IncidentCreated)]
    assert (incident.work_id, incident.node_id, incident.message) == (work_id, "charge",
                                                                       "timeout")
    assert result.state.works[0].incident == "timeout"
    with pytest.raises(NotAllowed):
        instance.call(complete_work, work_id)
    result = instance.call(retry_work, work_id, retries=2)
    assert [e.type for e in result.events] == ["incident_resolved", "work_created"]
    assert result.events[1].work_id == work_id and result.events[1].retries == 2
    assert result.state.works[0].incident is None
    assert instance.call(complete_work, work_id, variables={"status": 200}).active_nodes == (
        "next",)


def test_a_worker_error_goes_to_the_error_boundary_event():
    roots = '<error id="declined" errorCode="DECLINED"/>'
    graph = model(
        '<startEvent id="s"/><serviceTask id="charge" camunda:type="external" '
        'camunda:topic="pay"/><boundaryEvent id="on_declined" attachedToRef="charge">'
        '<errorEventDefinition errorRef="declined" camunda:errorMessageVariable="why"/>'
        '</boundaryEvent><userTask id="next"/><userTask id="fix"/><endEvent id="e"/>'
        '<endEvent id="e2"/>'
        + flows("s>charge", "charge>next", "next>e", "on_declined>fix", "fix>e2"), roots=roots)
    instance = Instance(graph)
    instance.start()
    work_id = instance.work_at("charge")
    result = instance.call(throw_work_error, work_id, error_code="DECLINED",
                           message="card declined", variables={"attempts": 1})
    assert result.active_nodes == ("fix",)
    assert result.variables == {"attempts": 1, "why": "card declined"}
    assert ("activity_cancelled", "charge") in trace(result)
    assert not any(e.type == "work_cancelled" for e in result.events)
    assert result.state.works == ()


def test_an_uncaught_worker_error_terminates_the_instance():
    instance = _one('<serviceTask id="charge" camunda:type="external" camunda:topic="p"/>')
    instance.start()
    result = instance.call(throw_work_error, instance.work_at("charge"), error_code="X")
    assert result.status == "terminated"
    types = [e.type for e in result.events]
    assert types[-3:] == ["error_unhandled", "activity_cancelled", "instance_terminated"]


def test_script_tasks_and_workerless_service_tasks_are_refused():
    for task in ('<scriptTask id="charge" scriptFormat="python"><script>x=1</script>'
                 '</scriptTask>', '<serviceTask id="charge"/>',
                 '<serviceTask id="charge" camunda:type="external"/>',
                 '<serviceTask id="charge"><extensionElements><bpm:http method="FETCH" '
                 'url="x"/></extensionElements></serviceTask>'):
        with pytest.raises(BpmnError) as caught:
            _one(task)
        assert caught.value.errors[0]["element_id"] == "charge"


def _json_body(template: str, variables: dict) -> str:
    """The body the engine renders from the JSON template ``template``."""
    instance = _one(HTTP.replace('{"amount": ${amount}, "currency": "${currency}"}', template))
    instance.start({"orderId": "O-1", "token": "t", **variables})
    body = _created(instance).request["body"]
    assert isinstance(body, str)
    return body


@pytest.mark.parametrize("value", [
    'x", "admin": true, "y": "z',
    'O"Brien',
    "C:\\temp\\",
    "two\nlines\tand\r\x00\x1f",
    "Zoë, 会签, emoji \U0001f600, \u2028",
    "${not a placeholder}",
])
def test_a_json_body_template_keeps_each_value_inside_its_string(value):
    body = _json_body('{"name": "${name}", "note": "Dear ${name}!"}', {"name": value})
    assert json.loads(body) == {"name": value, "note": f"Dear {value}!"}


def test_a_json_body_template_shows_values_in_strings_as_text_templates_do():
    body = _json_body('["${n}", "${d}", "${none}", "${yes}", "${items}"]',
                      {"n": 5, "d": Decimal("0.30"), "none": None, "yes": True, "items": ["a", 1]})
    assert json.loads(body) == ["5", "0.30", "", "true", '["a", 1]']


def test_a_json_body_template_writes_values_outside_strings_as_json():
    exact = Decimal("0.1000000000000000055511151231257827")
    variables = {
        "count": 3, "price": Decimal("12.50"), "exact": exact, "rate": 0.25, "none": None,
        "yes": True, "no": False, "name": 'O"Brien',
        "order": {"lines": [{"sku": "A", "qty": 2, "price": Decimal("1.10")}], "note": None,
                  "tags": ["x", 'y"'], "rush": False},
    }
    body = _json_body('{"count": ${count}, "price": ${price}, "exact": ${exact}, "rate": ${rate},'
                      ' "none": ${none}, "flags": [${yes}, ${no}], "name": ${name},'
                      ' "order": ${order}, "missing": ${missing}, "sum": ${count * 2}}', variables)
    parsed = json.loads(body, parse_float=Decimal)
    assert parsed == {
        "count": 3, "price": Decimal("12.50"), "exact": exact, "rate": Decimal("0.25"),
        "none": None, "flags": [True, False], "name": 'O"Brien',
        "order": {"lines": [{"sku": "A", "qty": 2, "price": Decimal("1.10")}], "note": None,
                  "tags": ["x", 'y"'], "rush": False},
        "missing": None, "sum": 6,
    }
    assert '"exact": 0.1000000000000000055511151231257827' in body, "a decimal is exact"
    assert body.startswith('{"count": 3, "price": 12.50, '), "the template's own text is kept"


def test_a_json_body_template_may_be_a_list_and_a_key_may_be_a_placeholder():
    body = _json_body('[{"${key}": ${value}}, "${key}"]', {"key": 'a"b', "value": [1, None]})
    assert json.loads(body) == [{'a"b': [1, None]}, 'a"b']


def test_a_text_body_template_stays_text():
    body = _json_body('amount=${amount}&amp;name=${name}', {"amount": 5, "name": 'O"Brien'})
    assert body == 'amount=5&name=O"Brien'


@pytest.mark.parametrize("template", [
    '{"amount": ${amount}',
    '{${key}: 1}',
    '{"amount": -${amount}}',
    '[1${amount}]',
    '{"a": ${amount} ${amount}}',
    '{"a": "\\q"}',
    '{"a": NaN}',
    '{"a": ${amount +}}',
])
def test_a_json_body_template_that_is_not_json_is_refused_when_the_model_is_read(template):
    with pytest.raises(BpmnError) as caught:
        _one(HTTP.replace('{"amount": ${amount}, "currency": "${currency}"}', template))
    (error,) = caught.value.errors
    assert error["element_id"] == "charge"
    assert "bpm:body" in error["message"]
