"""The engine's shortcuts give exactly what the full evaluation gives.

Every model here is compiled twice: as usual, and without the quick forms of simple
expressions (``${name}`` assignees and collections, one-variable conditions); and
every command runs twice: as usual, and with the start of an instance, the counting
of a multi-instance instance, the completion of its body and the passing on of a token
to the next task or end event left to a full run. Results and errors must be the
same."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

import pytest

from bpm_process.engine import compile_bpmn, complete_task, execution, start
from bpm_process.engine import compiler as engine_compiler
from bpm_process.engine import extensions as engine_extensions
from bpm_process.engine import tasks as engine_tasks
from bpm_process.engine.bench import countersign_model, demo_model

from .support import NAMESPACES, NOW, flows


@contextmanager
def _plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(engine_tasks, "variable_name", lambda expression: None)
        patch.setattr(engine_extensions, "variable_name", lambda expression: None)
        patch.setattr(engine_compiler, "quick_test", lambda expression: None)
        patch.setattr(execution, "count_instance", lambda *arguments: None)
        patch.setattr(execution, "pass_on", lambda *arguments: None)
        patch.setattr(execution, "finish_body", lambda *arguments: None)
        patch.setattr(execution, "begin", lambda *arguments: None)
        yield


class _Failed:
    """An error a command raised, compared by its type and message."""

    def __init__(self, exc: Exception) -> None:
        self.key = (type(exc), str(exc))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Failed) and other.key == self.key

    def __repr__(self) -> str:
        return f"_Failed{self.key!r}"


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return _Failed(exc)


def _drive(bpmn: bytes, variables: dict[str, Any] | None, votes: str) -> list[Any]:
    """Start an instance and complete its first open task until it ends (approval tasks
    with the next outcome of ``votes``: ``a`` approve, ``r`` reject); every result."""
    graph = compile_bpmn(bpmn)
    counter = itertools.count(1)

    def new_id() -> str:
        return str(next(counter))

    results: list[Any] = []
    result = _outcome(partial(start, graph, variables, initiator="alice", now=NOW,
                              new_id=new_id))
    results.append(result)
    outcomes = itertools.cycle(votes)
    while not isinstance(result, _Failed) and result.status == "active" and len(results) < 40:
        token = next((t for t in result.state.tokens if t.task is not None), None)
        if token is None:
            break
        node = graph.nodes[token.node]
        outcome = None
        if node.approval is not None:
            outcome = "approve" if next(outcomes) == "a" else "reject"
        result = _outcome(partial(complete_task, graph, result.state, token.task,
                                  actor="bob", outcome=outcome, now=NOW, new_id=new_id))
        results.append(result)
    return results


def _same(monkeypatch: pytest.MonkeyPatch, bpmn: bytes, variables: dict[str, Any] | None,
          votes: str = "a") -> None:
    fast = _drive(bpmn, variables, votes)
    with _plain(monkeypatch):
        full = _drive(bpmn, variables, votes)
    assert fast == full


def _process(body: str) -> bytes:
    return (f'<?xml version="1.0"?><definitions {NAMESPACES} id="d" targetNamespace="t">'
            f'<process id="p" isExecutable="true">{body}</process></definitions>').encode()


def _multi_instance(attributes: str, loop: str) -> bytes:
    return _process(
        '<startEvent id="s"/>'
        f'<userTask id="sign" {attributes}>{loop}</userTask>'
        '<exclusiveGateway id="route" default="ok"/><userTask id="next"/>'
        '<userTask id="redo"/><endEvent id="e"/>'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>'
        '<sequenceFlow id="f2" sourceRef="sign" targetRef="route"/>'
        '<sequenceFlow id="ok" sourceRef="route" targetRef="next"/>'
        '<sequenceFlow id="no" sourceRef="route" targetRef="redo">'
        "<conditionExpression>${sign_outcome == 'rejected'}</conditionExpression>"
        "</sequenceFlow>" + flows("next>e", "redo>e").replace('id="f', 'id="g'))


_COLLECTION = ('<multiInstanceLoopCharacteristics {sequential} camunda:collection="${{signers}}" '
               'camunda:elementVariable="signer">{inner}</multiInstanceLoopCharacteristics>')


@pytest.mark.parametrize("signers", [["ann", "ben", "cid", "dan", "eve"], [], ["ann"],
                                     [" ann ", 7, None, ["x"], True, 1.5]])
@pytest.mark.parametrize("votes", ["a", "r", "ar", "aar"])
def test_the_countersign_model(monkeypatch: pytest.MonkeyPatch, signers: list[Any],
                               votes: str) -> None:
    _same(monkeypatch, countersign_model(), {"signers": signers}, votes)


@pytest.mark.parametrize("amount", [120, 5000, 5001, -3, 10**40, 5000.5, "6000", "abc", None,
                                    True, Decimal("7000"), [1]])
def test_the_expense_model(monkeypatch: pytest.MonkeyPatch, amount: Any) -> None:
    _same(monkeypatch, demo_model(), {"amount": amount} if amount is not None else {})


@pytest.mark.parametrize("mode", [
    'bpm:signMode="all"', 'bpm:signMode="any"', 'bpm:signMode="ratio" bpm:passRatio="0.6"',
    'bpm:signMode="votes" bpm:passVotes="2"', 'bpm:signMode="all" bpm:rejectEnds="true"',
])
@pytest.mark.parametrize("sequential", ["", 'isSequential="true"'])
@pytest.mark.parametrize("votes", ["a", "ra", "aar"])
def test_approval_modes(monkeypatch: pytest.MonkeyPatch, mode: str, sequential: str,
                        votes: str) -> None:
    bpmn = _multi_instance(f'bpm:approval="true" {mode} camunda:assignee="${{signer}}"',
                           _COLLECTION.format(sequential=sequential, inner=""))
    _same(monkeypatch, bpmn, {"signers": ["ann", "ben", "cid", "dan"]}, votes)


@pytest.mark.parametrize("loop", [
    _COLLECTION.format(sequential="", inner="<completionCondition>"
                                             "${nrOfCompletedInstances >= 2}</completionCondition>"),
    '<multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality>'
    '</multiInstanceLoopCharacteristics>',
    '<multiInstanceLoopCharacteristics camunda:collection="signers"/>',
])
def test_plain_multi_instance_tasks(monkeypatch: pytest.MonkeyPatch, loop: str) -> None:
    bpmn = _multi_instance('camunda:assignee="${signer}" camunda:candidateGroups="g"', loop)
    _same(monkeypatch, bpmn, {"signers": ["ann", "ben", "cid"]})


def test_a_multi_instance_task_with_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    bpmn = _process(
        '<startEvent id="s"/><userTask id="sign" camunda:assignee="${signer}">'
        + _COLLECTION.format(sequential="", inner="") + "</userTask>"
        '<boundaryEvent id="late" attachedToRef="sign" cancelActivity="false">'
        "<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>"
        '</boundaryEvent><endEvent id="e"/><endEvent id="e2"/>'
        + flows("s>sign", "sign>e", "late>e2"))
    _same(monkeypatch, bpmn, {"signers": ["ann", "ben", "cid"]})


@pytest.mark.parametrize("condition", [
    "${x == 'yes'}", "${x != 'yes'}", "${x == 5}", "${x != 5}", "${x > 5}", "${x <= 5}",
    "${x == true}", "${x != false}", "${x == null}", "${x != null}", "${x < 'm'}",
    "${x ge 2.5}", "${x eq 'yes'}",
])
@pytest.mark.parametrize("value", ["yes", "no", "5", "", 5, 6, 0, -1, 10**30, 2.5, True, False,
                                   None, ["yes"], {"a": 1}, Decimal("5")])
def test_simple_conditions(monkeypatch: pytest.MonkeyPatch, condition: str, value: Any) -> None:
    bpmn = _process(
        '<startEvent id="s"/><exclusiveGateway id="g" default="other"/>'
        '<userTask id="then" camunda:assignee="${who}"/><userTask id="else"/>'
        '<endEvent id="e"/>'
        '<sequenceFlow id="f0" sourceRef="s" targetRef="g"/>'
        f'<sequenceFlow id="yes" sourceRef="g" targetRef="then"><conditionExpression>'
        f"{escape(condition)}</conditionExpression></sequenceFlow>"
        '<sequenceFlow id="other" sourceRef="g" targetRef="else"/>'
        + flows("then>e", "else>e"))
    _same(monkeypatch, bpmn, {"x": value, "who": value} if value is not None else {})


@pytest.mark.parametrize("assignee", ["${who}", "${initiator}", "fixed", "${missing}"])
@pytest.mark.parametrize("who", ["ann", " ", 7, None, ["x"]])
def test_tasks_in_a_row_and_parallel_ends(monkeypatch: pytest.MonkeyPatch, assignee: str,
                                          who: Any) -> None:
    bpmn = _process(
        '<startEvent id="s" camunda:initiator="starter"/><parallelGateway id="fork"/>'
        f'<userTask id="a" camunda:assignee="{assignee}" camunda:dueDate="PT2H"/>'
        '<userTask id="b" camunda:candidateGroups="g"><extensionElements><bpm:raci>'
        "<bpm:informed>user:cc</bpm:informed></bpm:raci></extensionElements></userTask>"
        '<userTask id="c" camunda:assignee="${who}"/><endEvent id="e1"/><endEvent id="e2"/>'
        + flows("s>fork", "fork>a", "a>b", "b>e1", "fork>c", "c>e2"))
    _same(monkeypatch, bpmn, {"who": who} if who is not None else {})


@pytest.mark.parametrize("reject", ["", 'bpm:rejectAction="end"', 'bpm:rejectAction="initiator"',
                                    'bpm:rejectAction="previous"', 'bpm:rejectAction="node:draft"'])
@pytest.mark.parametrize("after", ["end", "gateway"])
@pytest.mark.parametrize("votes", ["a", "r", "ar"])
def test_approvals_that_end_with_their_body(monkeypatch: pytest.MonkeyPatch, reject: str,
                                            after: str, votes: str) -> None:
    tail = ('<endEvent id="e"/>' + flows("draft>sign", "sign>e")) if after == "end" else (
        '<exclusiveGateway id="route" default="ok"/><userTask id="next"/><endEvent id="e"/>'
        '<sequenceFlow id="in" sourceRef="draft" targetRef="sign"/>'
        '<sequenceFlow id="out" sourceRef="sign" targetRef="route"/>'
        '<sequenceFlow id="ok" sourceRef="route" targetRef="next"/>'
        '<sequenceFlow id="no" sourceRef="route" targetRef="draft"><conditionExpression>'
        "${sign_outcome == 'rejected'}</conditionExpression></sequenceFlow>"
        '<sequenceFlow id="done" sourceRef="next" targetRef="e"/>')
    bpmn = _process(
        '<startEvent id="s"/><userTask id="draft" camunda:assignee="${initiator}"/>'
        f'<userTask id="sign" bpm:approval="true" bpm:signMode="all" {reject} '
        'camunda:assignee="${signer}">' + _COLLECTION.format(sequential="", inner="")
        + '</userTask><sequenceFlow id="f0" sourceRef="s" targetRef="draft"/>' + tail)
    _same(monkeypatch, bpmn, {"signers": ["ann", "ben"]}, votes)


_COLLECTING = _COLLECTION.format(sequential="", inner=(
    '<extensionElements><zeebe:loopCharacteristics outputCollection="notes"'
    ' outputElement="=note"/></extensionElements>'))


@pytest.mark.parametrize("attributes", [
    'camunda:assignee="${signer}"', 'camunda:assignee="${initiator}"',
    'camunda:assignee="${boss}"', 'camunda:assignee="${nrOfInstances}"',
    'camunda:assignee="${loopCounter}"', 'camunda:assignee="fixed"',
    'camunda:candidateGroups="g"', 'camunda:assignee="${signer}" camunda:dueDate="PT2H"',
    'camunda:assignee="${signer}" bpm:approval="true" bpm:signMode="any"',
])
@pytest.mark.parametrize("loop", [
    _COLLECTION.format(sequential="", inner=""),
    _COLLECTION.format(sequential="", inner="").replace("${signers}", "${initiator}"),
    _COLLECTING,
])
@pytest.mark.parametrize("variables", [
    {"signers": ["ann", "ben"], "boss": "bea"}, {"signers": [" ann ", 7, None, ["x"]]},
    {"signers": []}, {"signers": "ann"}, {"signers": ("ann", "ben")}, {},
])
def test_instances_that_start_at_a_multi_instance_task(
        monkeypatch: pytest.MonkeyPatch, attributes: str, loop: str,
        variables: dict[str, Any]) -> None:
    _same(monkeypatch, _multi_instance(attributes, loop), variables)


@pytest.mark.parametrize("first", [
    '<userTask id="t" camunda:assignee="${initiator}"/>', '<userTask id="t"/>',
    '<userTask id="t" camunda:assignee="${who}" camunda:dueDate="PT1H"/>',
    '<endEvent id="t"/>', '<task id="t"/>', '<serviceTask id="t" camunda:type="external"'
    ' camunda:topic="x"/>',
])
def test_instances_that_start_elsewhere(monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    rest = "" if first.startswith("<endEvent") else '<endEvent id="e"/>' + flows("t>e")
    bpmn = _process('<startEvent id="s" camunda:initiator="starter"/>' + first
                    + flows("s>t").replace('id="f', 'id="s') + rest)
    _same(monkeypatch, bpmn, {"who": "ann"})
    _same(monkeypatch, bpmn, None)
