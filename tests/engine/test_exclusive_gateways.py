"""Paths through exclusive gateways: JUEL and FEEL conditions, default flows, no match."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bpm_process.engine import (
    ExpressionFailed,
    NoPathFound,
    complete_task,
)

from .support import NOW, Ids, Instance, load, trace


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (6000, "large"),
        (5000.01, "large"),
        (5000, "medium"),
        (1000, "medium"),
        (Decimal("999.99"), "small"),
        (None, "small"),  # missing amount: every comparison is false -> default
        ("7000", "large"),  # numeric strings compare as numbers, as in JUEL
    ],
)
def test_juel_conditions_choose_the_first_true_flow_else_the_default(amount, expected):
    instance = Instance(load("exclusive_juel.bpmn"))
    variables = {} if amount is None else {"amount": amount}
    result = instance.start(variables)
    assert result.active_nodes == (expected,)
    assert ("activity_completed", "route") in trace(result)


def test_juel_path_runs_to_completion_through_a_merging_gateway():
    instance = Instance(load("exclusive_juel.bpmn"))
    instance.start({"amount": 10})
    result = instance.complete("small")
    assert result.status == "completed"
    assert trace(result)[-3:] == [
        ("activity_started", "end"),
        ("activity_completed", "end"),
        ("instance_completed", ""),
    ]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"category": "travel", "amount": 300}, "travel"),
        ({"category": "travel", "amount": 8000}, "large"),
        ({"category": "vehicle", "amount": 10}, "large"),
        ({"category": "food", "amount": 10}, "other"),
        ({}, "other"),
    ],
)
def test_feel_conditions(variables, expected):
    instance = Instance(load("exclusive_feel.bpmn"))
    assert instance.start(variables).active_nodes == (expected,)


def test_bare_conditions_without_delimiters_are_read_as_expressions():
    instance = Instance(load("exclusive_no_default.bpmn"))
    instance.start()
    assert instance.complete("enter", {"amount": 150}).active_nodes == ("approve",)


def test_no_matching_flow_and_no_default_is_refused_without_changing_the_state():
    graph = load("exclusive_no_default.bpmn")
    instance = Instance(graph)
    instance.start()
    state = instance.result.state
    before = state.to_json()
    task = instance.task_at("enter")
    with pytest.raises(NoPathFound) as caught:
        complete_task(graph, state, task.id, variables={"amount": 50}, actor="bob", now=NOW,
                      new_id=Ids())
    assert caught.value.element_id == "route"
    assert caught.value.status_code == 422
    assert "route" in str(caught.value)
    assert state.to_json() == before
    # the same task can still be completed with other data
    assert instance.complete("enter", {"amount": 500}).active_nodes == ("approve",)


def test_a_failing_condition_names_the_flow():
    graph = load("exclusive_no_default.bpmn")
    instance = Instance(graph)
    instance.start()
    task = instance.task_at("enter")
    with pytest.raises(ExpressionFailed) as caught:
        complete_task(graph, instance.result.state, task.id, variables={"amount": "lots"},
                      actor="bob", now=NOW, new_id=Ids())
    assert caught.value.element_id == "to_approve"
    assert caught.value.status_code == 422
