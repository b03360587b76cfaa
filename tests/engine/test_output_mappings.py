"""A user task's output mappings run whenever the task completes, as in Camunda 7
(outputParameter) and Camunda 8 (zeebe:output), also when it is completed without
variables."""

from __future__ import annotations

from decimal import Decimal

from tests.engine.support import Instance, flows, model

OUTPUT = ('<extensionElements><camunda:inputOutput>'
          '<camunda:outputParameter name="doubled">${amount * 2}</camunda:outputParameter>'
          '</camunda:inputOutput></extensionElements>')


def test_output_mapping_of_a_task_completed_without_variables():
    graph = model(f'<startEvent id="s"/><userTask id="t">{OUTPUT}</userTask><userTask id="u"/>'
                  '<endEvent id="e"/>' + flows("s>t", "t>u", "u>e"))
    instance = Instance(graph)
    instance.start({"amount": Decimal("0.10")})
    result = instance.complete("t", {})
    assert result.variables == {"amount": Decimal("0.10"), "doubled": Decimal("0.20")}


def test_output_mapping_of_a_task_in_a_sub_process_completed_without_variables():
    graph = model(
        '<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
        f'<userTask id="t">{OUTPUT}</userTask><userTask id="u"/><endEvent id="se"/>'
        '<sequenceFlow id="i1" sourceRef="ss" targetRef="t"/>'
        '<sequenceFlow id="i2" sourceRef="t" targetRef="u"/>'
        '<sequenceFlow id="i3" sourceRef="u" targetRef="se"/></subProcess><endEvent id="e"/>'
        + flows("s>sub", "sub>e"))
    instance = Instance(graph)
    instance.start({"amount": 3})
    result = instance.complete("t")
    (scope,) = result.state.scopes
    assert dict(scope.variables) == {"doubled": Decimal(6)}
