"""BPMN errors and escalations, event sub-processes, terminate end events inside
sub-processes, and call activities."""

from __future__ import annotations

import pytest

from bpm_process.engine import (
    WorkNotActive,
    complete_call_activity,
    fail_call_activity,
)
from bpm_process.engine.events import CallActivityCancelled, CallActivityStarted
from bpm_process.errors import BpmnError

from .support import Instance, flows, model, trace

ROOTS = (
    '<error id="err_credit" errorCode="CREDIT"/><error id="err_other" errorCode="OTHER"/>'
    '<escalation id="esc_late" escalationCode="LATE"/>'
    '<message id="m_cancel" name="cancel"/><signal id="sig" name="alarm"/>'
)


def _sub(inner: str, boundaries: str = "", after: str = "") -> str:
    return (
        '<startEvent id="s"/>'
        f'<subProcess id="sub"><startEvent id="ss"/>{inner}</subProcess>'
        f'{boundaries}<userTask id="after"/><endEvent id="e"/>{after}'
        '<sequenceFlow id="m1" sourceRef="s" targetRef="sub"/>'
        '<sequenceFlow id="m2" sourceRef="sub" targetRef="after"/>'
        '<sequenceFlow id="m3" sourceRef="after" targetRef="e"/>'
    )


ERROR_INSIDE = (
    '<userTask id="check"/><exclusiveGateway id="ok" default="good"/>'
    '<endEvent id="fail"><errorEventDefinition errorRef="err_credit"/></endEvent>'
    '<endEvent id="se"/>'
    '<sequenceFlow id="i1" sourceRef="ss" targetRef="check"/>'
    '<sequenceFlow id="i2" sourceRef="check" targetRef="ok"/>'
    '<sequenceFlow id="bad" sourceRef="ok" targetRef="fail">'
    "<conditionExpression>${rejected}</conditionExpression></sequenceFlow>"
    '<sequenceFlow id="good" sourceRef="ok" targetRef="se"/>'
)


def test_error_end_event_is_caught_by_the_matching_boundary_event():
    graph = model(_sub(
        ERROR_INSIDE,
        '<boundaryEvent id="other" attachedToRef="sub"><errorEventDefinition errorRef="err_other"/>'
        '</boundaryEvent>'
        '<boundaryEvent id="credit" attachedToRef="sub">'
        '<errorEventDefinition errorRef="err_credit" camunda:errorCodeVariable="code"/>'
        '</boundaryEvent>',
        '<userTask id="handle"/><endEvent id="e2"/><endEvent id="e3"/>'
        '<sequenceFlow id="b1" sourceRef="credit" targetRef="handle"/>'
        '<sequenceFlow id="b2" sourceRef="handle" targetRef="e2"/>'
        '<sequenceFlow id="b3" sourceRef="other" targetRef="e3"/>'), roots=ROOTS)
    instance = Instance(graph)
    instance.start({"rejected": True})
    result = instance.complete("check")
    assert result.active_nodes == ("handle",)
    assert result.variables["code"] == "CREDIT"
    assert result.state.scopes == ()
    assert ("event_triggered", "credit") in trace(result)
    assert ("activity_cancelled", "sub") in trace(result)


def test_catch_all_error_boundary_without_error_ref():
    graph = model(_sub(
        ERROR_INSIDE,
        '<boundaryEvent id="any" attachedToRef="sub"><errorEventDefinition/></boundaryEvent>',
        '<endEvent id="e2"/><sequenceFlow id="b1" sourceRef="any" targetRef="e2"/>'),
        roots=ROOTS)
    instance = Instance(graph)
    instance.start({"rejected": True})
    assert instance.complete("check").status == "completed"


def test_an_uncaught_error_terminates_the_instance_with_an_error_unhandled_record():
    graph = model(_sub(ERROR_INSIDE), roots=ROOTS)
    instance = Instance(graph)
    instance.start({"rejected": True})
    result = instance.complete("check")
    assert result.status == "terminated"
    unhandled = [e for e in result.events if e.type == "error_unhandled"]
    assert [(e.node_id, e.error_code) for e in unhandled] == [("fail", "CREDIT")]
    assert result.events[-1].type == "instance_terminated"
    assert result.events[-1].reason == "error_unhandled"


def test_error_event_sub_process_inside_the_sub_process_catches_first():
    inner = ERROR_INSIDE + (
        '<subProcess id="on_error" triggeredByEvent="true">'
        '<startEvent id="es"><errorEventDefinition errorRef="err_credit"/></startEvent>'
        '<userTask id="repair"/><endEvent id="ee"/>'
        '<sequenceFlow id="x1" sourceRef="es" targetRef="repair"/>'
        '<sequenceFlow id="x2" sourceRef="repair" targetRef="ee"/></subProcess>')
    graph = model(_sub(inner), roots=ROOTS)
    instance = Instance(graph)
    instance.start({"rejected": True})
    result = instance.complete("check")
    assert result.active_nodes == ("sub", "on_error", "repair")
    # the event sub-process ends, then the sub-process completes normally
    assert instance.complete("repair").active_nodes == ("after",)


def _rethrowing(*, outer: bool) -> str:
    """An error event sub-process of the sub-process whose handler ends with the error
    again; ``outer`` adds a catch-all error boundary on the sub-process."""
    inner = ERROR_INSIDE + (
        '<subProcess id="on_error" triggeredByEvent="true">'
        '<startEvent id="es"><errorEventDefinition/></startEvent>'
        '<endEvent id="again"><errorEventDefinition errorRef="err_credit"/></endEvent>'
        '<sequenceFlow id="x1" sourceRef="es" targetRef="again"/></subProcess>')
    if not outer:
        return _sub(inner)
    return _sub(inner, '<boundaryEvent id="caught" attachedToRef="sub"><errorEventDefinition/>'
                '</boundaryEvent>', '<userTask id="handle"/><endEvent id="e2"/>'
                '<sequenceFlow id="b1" sourceRef="caught" targetRef="handle"/>'
                '<sequenceFlow id="b2" sourceRef="handle" targetRef="e2"/>')


def test_an_error_thrown_by_its_own_event_sub_process_goes_to_the_enclosing_scope():
    instance = Instance(model(_rethrowing(outer=True), roots=ROOTS))
    instance.start({"rejected": True})
    result = instance.complete("check")
    assert result.active_nodes == ("handle",), "caught around the sub-process, not by on_error again"

    instance = Instance(model(_rethrowing(outer=False), roots=ROOTS))
    instance.start({"rejected": True})
    result = instance.complete("check")
    assert result.status == "terminated"
    assert [e.type for e in result.events if e.type == "error_unhandled"] == ["error_unhandled"]


def test_an_error_start_event_that_does_not_interrupt_is_refused():
    esp = ('<subProcess id="on_error" triggeredByEvent="true">'
           '<startEvent id="es" isInterrupting="false"><errorEventDefinition/></startEvent>'
           '<endEvent id="ee"/><sequenceFlow id="x1" sourceRef="es" targetRef="ee"/></subProcess>')
    with pytest.raises(BpmnError, match="always interrupting"):
        model('<startEvent id="s"/><userTask id="t"/><endEvent id="e"/>' + esp
              + flows("s>t", "t>e"), roots=ROOTS)


ESCALATION = (
    '<parallelGateway id="fork"/><userTask id="work"/>'
    '<intermediateThrowEvent id="raise"><escalationEventDefinition escalationRef="esc_late"/>'
    '</intermediateThrowEvent><userTask id="continue"/>'
    '<parallelGateway id="join"/><endEvent id="se"/>'
    '<sequenceFlow id="i1" sourceRef="ss" targetRef="fork"/>'
    '<sequenceFlow id="i2" sourceRef="fork" targetRef="work"/>'
    '<sequenceFlow id="i3" sourceRef="fork" targetRef="raise"/>'
    '<sequenceFlow id="i4" sourceRef="raise" targetRef="continue"/>'
    '<sequenceFlow id="i5" sourceRef="work" targetRef="join"/>'
    '<sequenceFlow id="i6" sourceRef="continue" targetRef="join"/>'
    '<sequenceFlow id="i7" sourceRef="join" targetRef="se"/>'
)


def _escalation_model(interrupting: bool):
    return model(_sub(
        ESCALATION,
        '<boundaryEvent id="late" attachedToRef="sub" '
        f'cancelActivity="{str(interrupting).lower()}">'
        '<escalationEventDefinition escalationRef="esc_late"/></boundaryEvent>',
        '<userTask id="inform"/><endEvent id="e2"/>'
        '<sequenceFlow id="b1" sourceRef="late" targetRef="inform"/>'
        '<sequenceFlow id="b2" sourceRef="inform" targetRef="e2"/>'), roots=ROOTS)


def test_non_interrupting_escalation_boundary_lets_the_sub_process_go_on():
    instance = Instance(_escalation_model(False))
    result = instance.start()
    assert sorted(result.active_nodes) == ["continue", "inform", "sub", "work"]
    instance.complete("work")
    instance.complete("continue")
    assert instance.complete("after").active_nodes == ("inform",)
    assert instance.complete("inform").status == "completed"


def test_interrupting_escalation_boundary_cancels_the_sub_process():
    instance = Instance(_escalation_model(True))
    result = instance.start()
    assert result.active_nodes == ("inform",)
    assert ("task_cancelled", "work") in trace(result)


def test_uncaught_escalation_changes_nothing():
    instance = Instance(model(_sub(ESCALATION), roots=ROOTS))
    result = instance.start()
    assert sorted(result.active_nodes) == ["continue", "sub", "work"]


ESP_MODEL = (
    '<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>'
    '<subProcess id="on_cancel" triggeredByEvent="true">'
    '<startEvent id="cs"><messageEventDefinition messageRef="m_cancel"/></startEvent>'
    '<userTask id="undo"/><endEvent id="ce"/>'
    '<sequenceFlow id="c1" sourceRef="cs" targetRef="undo"/>'
    '<sequenceFlow id="c2" sourceRef="undo" targetRef="ce"/></subProcess>'
    '<subProcess id="on_alarm" triggeredByEvent="true">'
    '<startEvent id="as" isInterrupting="false"><signalEventDefinition signalRef="sig"/>'
    '</startEvent><userTask id="look"/><endEvent id="ae"/>'
    '<sequenceFlow id="a1" sourceRef="as" targetRef="look"/>'
    '<sequenceFlow id="a2" sourceRef="look" targetRef="ae"/></subProcess>'
    '<subProcess id="on_time" triggeredByEvent="true">'
    '<startEvent id="ts" isInterrupting="false"><timerEventDefinition>'
    '<timeCycle>R2/PT1H</timeCycle></timerEventDefinition></startEvent>'
    '<userTask id="nudge"/><endEvent id="te"/>'
    '<sequenceFlow id="t1" sourceRef="ts" targetRef="nudge"/>'
    '<sequenceFlow id="t2" sourceRef="nudge" targetRef="te"/></subProcess>'
    + flows("s>work", "work>e")
)


def test_event_sub_processes_are_armed_with_the_scope():
    instance = Instance(model(ESP_MODEL, roots=ROOTS))
    result = instance.start()
    assert {(s.node, s.token) for s in result.subscriptions_opened} == {("cs", ""), ("as", "")}
    assert [(j.node, j.token) for j in result.jobs] == [("ts", "")]


def test_non_interrupting_event_sub_processes_run_beside_the_process():
    instance = Instance(model(ESP_MODEL, roots=ROOTS))
    instance.start()
    instance.signal("alarm")
    instance.fire("ts")
    result = instance.signal("alarm")
    assert sorted(result.active_nodes) == ["look", "nudge", "on_alarm", "on_time", "work"]
    instance.complete("work")
    for task_id in instance.tasks_at("look"):
        instance.complete_id(task_id)
    result = instance.complete("nudge")
    # the process waits for nothing else: the remaining timer job is cancelled
    assert result.status == "completed"
    assert result.cancelled_jobs and result.state.jobs == ()


def test_interrupting_message_event_sub_process_cancels_the_process():
    instance = Instance(model(ESP_MODEL, roots=ROOTS))
    instance.start()
    result = instance.correlate("cancel")
    assert sorted(result.active_nodes) == ["on_cancel", "undo"]
    assert ("task_cancelled", "work") in trace(result)
    assert result.state.subscriptions == () and result.state.jobs == ()
    assert instance.complete("undo").status == "completed"


def test_terminate_end_inside_a_sub_process_ends_only_that_sub_process():
    inner = ('<parallelGateway id="fork"/><userTask id="a"/><endEvent id="stop">'
             '<terminateEventDefinition/></endEvent><userTask id="b"/><endEvent id="se"/>'
             '<sequenceFlow id="i1" sourceRef="ss" targetRef="fork"/>'
             '<sequenceFlow id="i2" sourceRef="fork" targetRef="a"/>'
             '<sequenceFlow id="i3" sourceRef="fork" targetRef="b"/>'
             '<sequenceFlow id="i4" sourceRef="a" targetRef="stop"/>'
             '<sequenceFlow id="i5" sourceRef="b" targetRef="se"/>')
    instance = Instance(model(_sub(inner)))
    instance.start()
    result = instance.complete("a")
    assert result.status == "active" and result.active_nodes == ("after",)
    assert ("task_cancelled", "b") in trace(result)


CALL = (
    '<startEvent id="s"/>'
    '<callActivity id="call" calledElement="${child}" camunda:calledElementBinding="version"'
    ' camunda:calledElementVersion="3"><extensionElements>'
    '<camunda:in source="amount" target="total"/>'
    '<camunda:in sourceExpression="${amount * 2}" target="double"/>'
    '<camunda:out source="decision" target="childDecision"/>'
    '</extensionElements></callActivity>'
    '<boundaryEvent id="failed" attachedToRef="call"><errorEventDefinition errorRef="err_credit"/>'
    '</boundaryEvent><userTask id="handle"/><endEvent id="e2"/>'
    '<userTask id="after"/><endEvent id="e"/>'
    + flows("s>call", "call>after", "after>e", "failed>handle", "handle>e2")
)


def test_call_activity_asks_the_runtime_to_start_the_child_with_mapped_inputs():
    instance = Instance(model(CALL, roots=ROOTS))
    result = instance.start({"child": "credit-check", "amount": 21, "secret": "x"})
    (started,) = [e for e in result.events if isinstance(e, CallActivityStarted)]
    assert (started.node_id, started.called_element, started.binding, started.version) == (
        "call", "credit-check", "version", "3")
    assert started.variables == {"total": 21, "double": 42}
    assert result.state.works[0].kind == "call"
    result = instance.call(complete_call_activity, started.call_id,
                           output_variables={"decision": "ok", "noise": 1})
    assert result.active_nodes == ("after",)
    assert result.variables["childDecision"] == "ok" and "noise" not in result.variables
    with pytest.raises(WorkNotActive):
        instance.call(complete_call_activity, started.call_id)


def test_the_called_version_may_be_an_expression_and_binding_version_needs_one():
    def calling(attributes: str) -> str:
        return ('<startEvent id="s"/><callActivity id="call" calledElement="kid" '
                f'{attributes}/><endEvent id="e"/>' + flows("s>call", "call>e"))

    instance = Instance(model(calling('camunda:calledElementBinding="version" '
                                      'camunda:calledElementVersion="${kidVersion}"')))
    (started,) = [e for e in instance.start({"kidVersion": 2}).events
                  if isinstance(e, CallActivityStarted)]
    assert (started.binding, started.version) == ("version", "2")
    with pytest.raises(BpmnError, match="needs calledElementVersion"):
        model(calling('camunda:calledElementBinding="version"'))


def test_zeebe_call_activity_passes_all_variables_both_ways_by_default():
    graph = model('<startEvent id="s"/><callActivity id="call"><extensionElements>'
                  '<zeebe:calledElement processId="child"/></extensionElements></callActivity>'
                  '<endEvent id="e"/>' + flows("s>call", "call>e"))
    instance = Instance(graph)
    result = instance.start({"a": 1})
    (started,) = [e for e in result.events if isinstance(e, CallActivityStarted)]
    assert started.variables == {"a": 1} and started.called_element == "child"
    result = instance.call(complete_call_activity, started.call_id,
                           output_variables={"b": 2})
    assert result.status == "completed" and result.variables == {"a": 1, "b": 2}


def test_a_failed_child_is_an_error_of_the_call_activity():
    instance = Instance(model(CALL, roots=ROOTS))
    result = instance.start({"child": "c", "amount": 1})
    call_id = result.state.works[0].id
    result = instance.call(fail_call_activity, call_id, error_code="CREDIT", message="no")
    assert result.active_nodes == ("handle",)
    assert not any(isinstance(e, CallActivityCancelled) for e in result.events)


def test_interrupting_the_call_activity_asks_the_runtime_to_stop_the_child():
    graph = model(CALL.replace('<errorEventDefinition errorRef="err_credit"/>',
                               '<signalEventDefinition signalRef="sig"/>'), roots=ROOTS)
    instance = Instance(graph)
    instance.start({"child": "c", "amount": 1})
    result = instance.signal("alarm")
    assert [e.type for e in result.events if isinstance(e, CallActivityCancelled)] == [
        "call_activity_cancelled"]
    assert result.active_nodes == ("handle",)
