"""Terminate end events and embedded sub-processes (the scope tree)."""

from __future__ import annotations

import pytest

from bpm_process.engine import InstanceNotActive, TaskCancelled, complete_task

from .support import NOW, Ids, Instance, load, trace


def test_terminate_end_cancels_the_other_tasks_and_terminates_the_instance():
    instance = Instance(load("terminate.bpmn"))
    instance.start()
    instance.complete("work")  # waits at the join now
    result = instance.complete("veto")
    assert result.status == "terminated"
    assert result.active_nodes == ()
    assert result.state.tokens == ()
    cancelled = [e for e in result.events if isinstance(e, TaskCancelled)]
    assert [(e.node_id, e.reason) for e in cancelled] == [("second", "terminated")]
    assert trace(result) == [
        ("task_completed", "veto"),
        ("activity_completed", "veto"),
        ("activity_started", "vetoed"),
        ("task_cancelled", "second"),
        ("activity_cancelled", "second"),
        ("activity_completed", "vetoed"),
        ("instance_terminated", "vetoed"),
    ]


def test_commands_on_a_terminated_instance_are_refused():
    graph = load("terminate.bpmn")
    instance = Instance(graph)
    instance.start()
    work = instance.task_at("work")
    instance.complete("veto")
    with pytest.raises(InstanceNotActive) as caught:
        complete_task(graph, instance.result.state, work.id, actor="bob", now=NOW,
                      new_id=Ids())
    assert caught.value.status_code == 409


def test_sub_process_runs_in_its_own_scope_and_resumes_the_parent():
    instance = Instance(load("subprocess.bpmn"))
    result = instance.start()
    assert result.active_nodes == ("checks", "check_a", "check_b")
    (scope,) = result.state.scopes
    assert scope.node == "checks"
    assert {t.scope for t in result.state.tokens if t.node != "checks"} == {scope.id}
    result = instance.complete("check_a")
    assert result.active_nodes == ("checks", "check_b")
    # check_b ends in a terminate end event: only the sub-process ends, the
    # process goes on
    result = instance.complete("check_b")
    assert result.status == "active"
    assert result.active_nodes == ("after",)
    assert result.state.scopes == ()
    assert ("activity_completed", "checks") in trace(result)
    assert instance.complete("after").status == "completed"


def test_terminate_inside_a_sub_process_cancels_only_its_own_tasks():
    instance = Instance(load("subprocess.bpmn"))
    instance.start()
    result = instance.complete("check_b")
    assert result.active_nodes == ("after",)
    assert [e.node_id for e in result.events if isinstance(e, TaskCancelled)] == ["check_a"]


_TERMINATE_AROUND_SUB = b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start" />
    <parallelGateway id="fork" />
    <subProcess id="sub">
      <startEvent id="sub_start" />
      <userTask id="inner" />
      <endEvent id="sub_end" />
      <sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner" />
      <sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end" />
    </subProcess>
    <userTask id="kill" />
    <intermediateThrowEvent id="milestone" name="Milestone" />
    <endEvent id="terminate"><terminateEventDefinition /></endEvent>
    <endEvent id="end" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
    <sequenceFlow id="f2" sourceRef="fork" targetRef="sub" />
    <sequenceFlow id="f3" sourceRef="fork" targetRef="kill" />
    <sequenceFlow id="f4" sourceRef="kill" targetRef="milestone" />
    <sequenceFlow id="f5" sourceRef="milestone" targetRef="terminate" />
    <sequenceFlow id="f6" sourceRef="sub" targetRef="end" />
  </process>
</definitions>"""


def test_terminate_in_the_process_cancels_nested_sub_process_tasks_innermost_first():
    from bpm_process.engine import compile_bpmn

    instance = Instance(compile_bpmn(_TERMINATE_AROUND_SUB))
    result = instance.start()
    assert result.active_nodes == ("sub", "inner", "kill")
    result = instance.complete("kill")
    assert result.status == "terminated"
    assert result.state.tokens == () and result.state.scopes == ()
    assert trace(result) == [
        ("task_completed", "kill"),
        ("activity_completed", "kill"),
        ("activity_started", "milestone"),
        ("activity_completed", "milestone"),
        ("activity_started", "terminate"),
        ("task_cancelled", "inner"),
        ("activity_cancelled", "inner"),
        ("activity_cancelled", "sub"),
        ("activity_completed", "terminate"),
        ("instance_terminated", "terminate"),
    ]


def test_a_process_without_wait_states_completes_when_started():
    from bpm_process.engine import compile_bpmn

    graph = compile_bpmn(b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="s" /><task id="t" /><endEvent id="e" />
    <sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <sequenceFlow id="f2" sourceRef="t" targetRef="e" />
  </process>
</definitions>""")
    result = Instance(graph).start({"x": 1})
    assert result.status == "completed"
    assert result.active_nodes == ()
    assert result.variables == {"x": 1}
    assert result.events[-1].type == "instance_completed"
