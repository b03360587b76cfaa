"""Variable scoping (sub-processes and multi-instance bodies), input/output mappings
in every dialect, size limits, and the JSON round trip of every new state element."""

from __future__ import annotations

import json

import pytest

from bpm_process.engine import (
    MAX_VALUE_BYTES,
    InstanceState,
    InvalidCommand,
    InvalidState,
    set_variables,
)

from .support import Instance, flows, model

SUB = (
    '<startEvent id="s"/><subProcess id="sub"{io}><startEvent id="ss"/><userTask id="inner"/>'
    '<endEvent id="se"/><sequenceFlow id="i1" sourceRef="ss" targetRef="inner"/>'
    '<sequenceFlow id="i2" sourceRef="inner" targetRef="se"/></subProcess>'
    '<userTask id="after"/><endEvent id="e"/>' + flows("s>sub", "sub>after", "after>e")
)


def test_new_variables_inside_a_sub_process_are_local_existing_ones_are_updated():
    instance = Instance(model(SUB.replace("{io}", "")))
    instance.start({"status": "new"})
    result = instance.complete("inner", {"status": "checked", "note": "local"})
    assert result.variables == {"status": "checked"}
    assert result.active_nodes == ("after",)


def test_sub_process_output_mappings_export_local_variables():
    io = ('><extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="limit">${amount * 10}</camunda:inputParameter>'
          '<camunda:outputParameter name="subNote">${note}</camunda:outputParameter>'
          '</camunda:inputOutput></extensionElements')
    graph = model(SUB.replace("{io}", "").replace('<subProcess id="sub">',
                                                     f'<subProcess id="sub"{io}>'))
    instance = Instance(graph)
    result = instance.start({"amount": 2})
    (scope,) = result.state.scopes
    assert dict(scope.variables) == {"limit": 20}
    result = instance.complete("inner", {"note": "done"})
    assert result.variables == {"amount": 2, "subNote": "done"}


def test_zeebe_io_mapping_on_a_user_task_maps_what_is_submitted():
    graph = model(
        '<startEvent id="s"/><userTask id="t"><extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="=order.customer" target="customer"/>'
        '<zeebe:output source="=approved and amount &lt; 100" target="autoOk"/>'
        '</zeebe:ioMapping><zeebe:assignmentDefinition assignee="=customer"/>'
        '</extensionElements></userTask><endEvent id="e"/>' + flows("s>t", "t>e"))
    instance = Instance(graph)
    instance.start({"order": {"customer": "carla"}, "amount": 50})
    assert instance.task_at("t").assignee == "carla"
    result = instance.complete("t", {"approved": True})
    assert result.variables == {"order": {"customer": "carla"}, "amount": 50, "autoOk": True}


def test_set_variables_by_an_administrator():
    instance = Instance(model(SUB.replace("{io}", "")))
    instance.start()
    result = instance.call(set_variables, {"priority": "high"})
    assert result.variables == {"priority": "high"}
    assert [e.type for e in result.events] == ["variables_updated"]
    task_id = instance.tasks_at("inner")[0]
    result = instance.call(set_variables, {"draft": 1}, task_id=task_id)
    assert result.variables == {"priority": "high"}
    assert dict(result.state.scopes[0].variables) == {"draft": 1}


def test_too_large_values_and_totals_are_refused():
    graph = model('<startEvent id="s"/><userTask id="t"/><endEvent id="e"/>'
                  + flows("s>t", "t>e"))
    instance = Instance(graph)
    instance.start()
    with pytest.raises(InvalidCommand, match="at most"):
        instance.complete("t", {"blob": "x" * (MAX_VALUE_BYTES + 1)})
    chunk = "y" * (MAX_VALUE_BYTES - 100)
    with pytest.raises(InvalidCommand, match="variables would take"):
        instance.complete("t", {f"v{i}": chunk for i in range(5)})
    assert instance.complete("t", {"small": 1}).status == "completed"


def test_every_state_element_survives_the_json_round_trip():
    graph = model(
        '<startEvent id="s"/><parallelGateway id="fork"/>'
        '<userTask id="vote" bpm:approval="true"><multiInstanceLoopCharacteristics '
        'camunda:collection="${voters}" camunda:elementVariable="voter"/></userTask>'
        '<serviceTask id="charge" camunda:type="external" camunda:topic="t"/>'
        '<boundaryEvent id="remind" attachedToRef="charge" cancelActivity="false">'
        '<timerEventDefinition><timeCycle>R2/PT1H</timeCycle></timerEventDefinition>'
        '</boundaryEvent><receiveTask id="wait" messageRef="m"/>'
        '<parallelGateway id="join"/><endEvent id="e"/><endEvent id="e2"/>'
        + flows("s>fork", "fork>vote", "fork>charge", "fork>wait", "vote>join", "charge>join",
                "wait>join", "join>e", "remind>e2"),
        roots='<message id="m" name="go" bpm:correlationKey="${key}"/>')
    instance = Instance(graph)
    result = instance.start({"voters": ["a", "b"], "key": "k1", "amount": 1.5})
    data = json.loads(json.dumps(result.state.to_json()))
    assert {s.get("kind", "sub") for s in data["scopes"]} == {"mi", "inst"}
    assert data["jobs"][0]["cycle"] == "R2/PT1H"
    assert data["subscriptions"][0]["correlation_key"] == "k1"
    assert data["works"][0]["kind"] == "external"
    assert InstanceState.from_json(data) == result.state
    instance.complete_id(instance.tasks_at("vote")[0], outcome="approve")
    assert instance.state.completed == ("vote",)
    with pytest.raises(InvalidState):
        InstanceState.from_json({**data, "scopes": [{**data["scopes"][0], "kind": "odd"}]})
    with pytest.raises(InvalidState):
        InstanceState.from_json({**data, "jobs": [{**data["jobs"][0],
                                                   "due_at": "2024-01-01T00:00:00"}]})
