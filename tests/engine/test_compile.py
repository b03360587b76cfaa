"""Compiling: choosing the process, refusing unsupported elements and unsafe XML."""

from __future__ import annotations

import pytest

from bpm_process.bpmn import read_definitions
from bpm_process.engine import compile_bpmn, compile_process
from bpm_process.errors import BpmnError

from .support import MODELS


def test_every_unsupported_element_is_listed_with_a_reason():
    with pytest.raises(BpmnError) as caught:
        compile_bpmn((MODELS / "unsupported.bpmn").read_bytes())
    problems = {entry["element_id"]: entry["message"] for entry in caught.value.errors}
    # boundary timers, inclusive gateways and error end events run now; a service task
    # without a worker, a multi-instance without cardinality or collection, a script
    # task and a groovy condition still cannot
    assert set(problems) == {"call_erp", "vote", "script", "f4"}
    assert "needs a worker" in problems["call_erp"]
    assert "loopCardinality or a collection" in problems["vote"]
    assert "script task" in problems["script"]
    assert "groovy" in problems["f4"]
    assert all("line" in entry for entry in caught.value.errors)


def test_invalid_expressions_are_reported_at_compile_time():
    data = b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start" />
    <exclusiveGateway id="gw" />
    <userTask id="t1" camunda:assignee="${user.getName()}" camunda:dueDate="tomorrow" />
    <userTask id="t2" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <sequenceFlow id="f2" sourceRef="gw" targetRef="t1">
      <conditionExpression>${amount &gt;}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="t2" />
  </process>
</definitions>"""
    with pytest.raises(BpmnError) as caught:
        compile_bpmn(data)
    messages = [(entry["element_id"], entry["message"]) for entry in caught.value.errors]
    assert [element for element, _ in messages] == ["f2", "t1", "t1"]
    assert "method calls" in messages[1][1]
    assert "dueDate" in messages[2][1]


def test_structural_problems_are_reported():
    data = b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <userTask id="t1" />
    <exclusiveGateway id="gw" default="missing" />
    <sequenceFlow id="f1" sourceRef="t1" targetRef="nowhere" />
    <sequenceFlow id="f2" sourceRef="t1" targetRef="gw" />
  </process>
</definitions>"""
    with pytest.raises(BpmnError) as caught:
        compile_bpmn(data)
    elements = {entry["element_id"] for entry in caught.value.errors}
    assert elements == {"p", "f1", "gw"}


def test_the_executable_process_is_chosen_among_several():
    data = b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="documentation_only" isExecutable="false"><serviceTask id="x" /></process>
  <process id="runnable" isExecutable="true">
    <startEvent id="s" /><endEvent id="e" />
    <sequenceFlow id="f" sourceRef="s" targetRef="e" />
  </process>
</definitions>"""
    assert compile_bpmn(data).id == "runnable"
    with pytest.raises(BpmnError, match="no process with the id"):
        compile_bpmn(data, "missing")
    with pytest.raises(BpmnError, match="needs a worker"):
        compile_process(read_definitions(data), "documentation_only")


def test_several_executable_processes_are_ambiguous():
    data = b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="a" isExecutable="true"><startEvent id="s1" /></process>
  <process id="b" isExecutable="true"><startEvent id="s2" /></process>
</definitions>"""
    with pytest.raises(BpmnError, match="several executable processes"):
        compile_bpmn(data)
    assert compile_bpmn(data, "b").id == "b"


@pytest.mark.parametrize(
    "data",
    [
        b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">&x;</process>
</definitions>""",
        b"<definitions>not bpmn</definitions>",
        b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'><process",
    ],
)
def test_unsafe_or_broken_xml_is_refused(data):
    with pytest.raises(BpmnError):
        compile_bpmn(data)


def test_graph_is_compiled_once_and_immutable():
    graph = compile_bpmn((MODELS / "parallel_basic.bpmn").read_bytes())
    with pytest.raises(TypeError):
        graph.nodes["x"] = graph.nodes["fork"]  # type: ignore[index]
    assert graph.nodes["join"].joins
    assert not graph.nodes["fork"].joins
    assert graph.nodes["legal"].exit is not None


def test_the_engine_executes_exactly_the_shared_list_of_supported_elements():
    from bpm_process import support
    from bpm_process.engine.compiler import _EVENT_BEHAVIORS, _KIND_BEHAVIORS

    listed = {tag for tag in support.EXECUTABLE_FLOW_NODES}
    assert listed == set(_KIND_BEHAVIORS)
    assert {tag for tag, _ in _EVENT_BEHAVIORS} <= listed
