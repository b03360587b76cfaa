"""Instance state JSON, refused commands, determinism, start events, loop protection."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bpm_process.engine import (
    InstanceState,
    InvalidCommand,
    InvalidState,
    StepLimitExceeded,
    TaskNotActive,
    compile_bpmn,
    complete_task,
    start,
)

from .support import NOW, Ids, Instance, load


def _round_trip(state: InstanceState) -> InstanceState:
    return InstanceState.from_json(json.loads(json.dumps(state.to_json())))


def test_state_json_round_trip_mid_instance_keeps_types():
    instance = Instance(load("subprocess.bpmn"))
    variables = {
        "amount": Decimal("1234.50"),
        "count": 3,
        "ratio": 0.25,
        "when": datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        "day": date(2024, 3, 2),
        "tags": ["a", {"$decimal": "not a number"}],
        "nested": {"total": Decimal("0.10"), "ok": True, "none": None},
    }
    state = instance.start(variables).state
    data = state.to_json()
    json.dumps(data)  # plain JSON
    assert data["v"] == 1
    assert data["process"] == "subprocess"
    assert data["status"] == "active"
    assert data["variables"]["amount"] == {"$decimal": "1234.50"}
    assert data["variables"]["tags"][1] == {"$map": {"$decimal": "not a number"}}
    assert len(data["scopes"]) == 1
    loaded = _round_trip(state)
    assert loaded == state
    assert loaded.variables["amount"] == Decimal("1234.50")
    assert loaded.variables["tags"][1] == {"$decimal": "not a number"}


def test_state_json_is_compact():
    instance = Instance(load("parallel_basic.bpmn"))
    data = instance.start().state.to_json()
    assert data == {
        "v": 1,
        "process": "parallel_basic",
        "status": "active",
        "initiator": "alice",
        "variables": {},
        "tokens": [
            {"id": "1", "node": "legal", "task": "3"},
            {"id": "2", "node": "finance", "task": "4"},
        ],
    }
    instance.complete("legal")
    assert instance.result.state.to_json()["tokens"] == [
        {"id": "2", "node": "finance", "task": "4"},
        {"id": "1", "node": "join", "via": "legal_done"},
    ]


def test_continuing_from_a_loaded_state_gives_the_same_result():
    graph = load("parallel_nested.bpmn")
    instance = Instance(graph)
    instance.start()
    instance.complete("a")
    state = instance.result.state
    task_id = instance.task_at("b1").id
    direct = complete_task(graph, state, task_id, actor="bob", now=NOW, new_id=Ids())
    loaded = complete_task(graph, _round_trip(state), task_id, actor="bob", now=NOW,
                           new_id=Ids())
    assert loaded.state == direct.state
    assert loaded.events == direct.events


def test_malformed_state_json_is_refused():
    with pytest.raises(InvalidState):
        InstanceState.from_json({"v": 99})
    with pytest.raises(InvalidState):
        InstanceState.from_json({"v": 1, "status": "active", "process": "p",
                                 "tokens": [{"id": 1}]})
    with pytest.raises(InvalidState):
        InstanceState.from_json({"v": 1, "status": "paused", "process": "p", "tokens": []})


def _run_everything(graph):
    ids = Ids()
    results = [start(graph, {"amount": 10}, initiator="alice", now=NOW, new_id=ids)]
    while results[-1].status == "active":
        task_id = next(iter(results[-1].state.open_tasks()))
        results.append(complete_task(graph, results[-1].state, task_id, variables={"n": 1},
                                     actor="bob", now=NOW, new_id=ids))
    return [(r.state.to_json(), [e.to_dict() for e in r.events]) for r in results]


@pytest.mark.parametrize("model", ["parallel_nested.bpmn", "subprocess.bpmn",
                                   "assign_activiti.bpmn", "implicit_split_merge.bpmn"])
def test_same_inputs_give_the_same_outputs(model):
    first = _run_everything(load(model))
    second = _run_everything(load(model))
    assert first == second


def test_completed_or_unknown_tasks_are_refused_and_the_state_is_unchanged():
    graph = load("parallel_basic.bpmn")
    instance = Instance(graph)
    instance.start()
    legal = instance.task_at("legal")
    instance.complete("legal")
    state = instance.result.state
    before = state.to_json()
    for task_id in (legal.id, "no-such-task"):
        with pytest.raises(TaskNotActive) as caught:
            complete_task(graph, state, task_id, actor="bob", now=NOW, new_id=Ids())
        assert caught.value.status_code == 409
    assert state.to_json() == before


def test_the_callers_variables_are_copied_not_shared():
    graph = load("parallel_basic.bpmn")
    items = ["a"]
    result = start(graph, {"items": items}, initiator="alice", now=NOW, new_id=Ids())
    items.append("b")
    result.variables["items"].append("c")
    assert result.state.variables["items"] == ["a"]


def test_complete_merges_variables():
    instance = Instance(load("parallel_basic.bpmn"))
    instance.start({"a": 1, "b": 2})
    result = instance.complete("legal", {"b": 3, "c": 4})
    assert result.variables == {"a": 1, "b": 3, "c": 4}


@pytest.mark.parametrize(
    "variables",
    [
        {"x": object()},
        {1: "not a string key"},
        {"x": float("nan")},
        {"x": {"y": {1, 2}}},
        "not a mapping",
    ],
)
def test_unsupported_variables_are_refused(variables):
    with pytest.raises(InvalidCommand):
        start(load("parallel_basic.bpmn"), variables, initiator="a", now=NOW, new_id=Ids())


def test_now_must_be_timezone_aware():
    with pytest.raises(InvalidCommand):
        start(load("parallel_basic.bpmn"), {}, initiator="a", now=datetime(2024, 1, 1),
              new_id=Ids())


def test_a_state_of_another_process_is_refused():
    state = Instance(load("parallel_basic.bpmn")).start().state
    other = load("parallel_mixed.bpmn")
    with pytest.raises(InvalidState):
        complete_task(other, state, "2", actor="bob", now=NOW, new_id=Ids())


def test_message_and_none_start_events():
    graph = load("message_start.bpmn")
    assert graph.message_starts == {"order-received": "by_message"}
    by_hand = Instance(graph).start()
    assert by_hand.events[0].node_id == "by_hand"
    by_message = Instance(graph).start(start_event_id="by_message")
    assert by_message.events[0].node_id == "by_message"
    assert by_message.active_nodes == ("handle",)
    with pytest.raises(InvalidCommand):
        Instance(graph).start(start_event_id="handle")


def test_a_loop_without_wait_state_is_stopped():
    graph = compile_bpmn(b"""<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="loop" isExecutable="true">
    <startEvent id="start" />
    <task id="again" />
    <exclusiveGateway id="check" default="out" />
    <endEvent id="end" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="again" />
    <sequenceFlow id="f2" sourceRef="again" targetRef="check" />
    <sequenceFlow id="back" sourceRef="check" targetRef="again">
      <conditionExpression>${true}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="out" sourceRef="check" targetRef="end" />
  </process>
</definitions>""")
    with pytest.raises(StepLimitExceeded):
        start(graph, {}, initiator="a", now=NOW, new_id=Ids())


def test_events_serialise_to_plain_dicts():
    result = Instance(load("assign_activiti.bpmn")).start()
    created = result.events[-1].to_dict()
    assert created["type"] == "task_created"
    assert created["task"]["due_at"] == "2024-03-01T11:00:00+00:00"
    assert created["task"]["candidate_groups"] == ["management", "accountancy"]
    json.dumps([event.to_dict() for event in result.events])


def test_jobs_subscriptions_and_scopes_survive_the_json_round_trip():
    from types import MappingProxyType

    from bpm_process.engine import Job, Scope, Subscription, Token

    state = InstanceState(
        process_id="p",
        status="active",
        variables=MappingProxyType({"n": 1}),
        initiator=None,
        tokens=(Token("t1", "sub"), Token("t2", "wait", "s1", "task-1")),
        scopes=(Scope("s1", "sub", "", "t1"),),
        jobs=(Job("j1", "timer", "wait", "t2", "s1", datetime(2024, 1, 2, tzinfo=UTC)),),
        subscriptions=(Subscription("m1", "message", "paid", "wait", "t2", "s1", "order-7"),),
    )
    data = state.to_json()
    assert "initiator" not in data
    assert data["jobs"][0]["due_at"] == "2024-01-02T00:00:00+00:00"
    assert _round_trip(state) == state
