"""Differential fuzzing: random block-structured models (``generator.py``) run with the
same seeded decisions through our engine and SpiffWorkflow 3.2.

Every difference must be one the README accepts (the comparison is the conformance
suite's) or a SpiffWorkflow defect (``spiff_fault``, each explained there). The defect
of ours it found is in ``test_found_by_fuzzing.py``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bpm_process.engine import compile_bpmn
from bpm_process.engine.state import Scope, Token
from tests.conformance.random_models import (
    NS,
    Model,
    Options,
    drive,
    generate,
    pairs,
    run_spiff,
    spiff_fault,
)

SEEDS = range(400)
EVENT_SEEDS = range(60)
"""Seeds per option set with the event constructs (the models are larger)."""

EVENTS = dict(mi_subprocess=True, event_subprocesses=True, catch_events=True,
              event_boundaries=True, event_gateways=True, escalation=True, terminate=True)


def test_generated_models_compile_and_are_deterministic():
    for seed in range(20):
        first, second = generate(seed), generate(seed)
        assert first.xml == second.xml
        compile_bpmn(first.xml)
        with_events = generate(seed, Options(**EVENTS))
        assert with_events.xml == generate(seed, Options(**EVENTS)).xml
        compile_bpmn(with_events.xml)


@pytest.mark.parametrize("options", [
    Options(**EVENTS),
    Options(max_depth=2, max_blocks=3, loops=False, boundary_on_subprocess=True, **EVENTS),
], ids=["events", "events-no-loops"])
def test_random_models_with_events_run_alike_in_both_engines(options: Options) -> None:
    """Multi-instance sub-processes, event sub-processes, message and signal catches,
    boundaries and event-based gateways, escalations and terminate end events."""
    kinds: Counter[str] = Counter()
    unexplained = []
    for seed in EVENT_SEEDS:
        outcome = drive(generate(seed, options))
        if outcome.problem is None:
            kinds["clean"] += 1
            continue
        kind = spiff_fault(outcome)
        if kind is None:
            unexplained.append(f"seed {seed}: {outcome.problem}")
        else:
            kinds[kind] += 1
    assert not unexplained, "\n".join(unexplained)
    assert kinds["clean"] >= len(EVENT_SEEDS) // 3, kinds


@pytest.mark.parametrize("options", [
    Options(),
    Options(max_depth=2, max_blocks=3, loops=False, boundary_on_multi_instance=True,
            boundary_on_subprocess=True, overlapping_exclusive=True),
], ids=["all", "no-loops"])
def test_random_models_run_alike_in_both_engines(options: Options) -> None:
    kinds: Counter[str] = Counter()
    unexplained = []
    for seed in SEEDS[: len(SEEDS) // 2] if options.loops else SEEDS[len(SEEDS) // 2:]:
        outcome = drive(generate(seed, options))
        if outcome.problem is None:
            kinds["clean"] += 1
            continue
        kind = spiff_fault(outcome)
        if kind is None:
            unexplained.append(f"seed {seed}: {outcome.problem}")
        else:
            kinds[kind] += 1
    assert not unexplained, "\n".join(unexplained)
    # most models must agree outright, or the classification hides too much
    assert kinds["clean"] >= 160, kinds


def _model(body: str) -> Model:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" '
           f'targetNamespace="t"><bpmn:process id="p" isExecutable="true">{body}'
           "</bpmn:process></bpmn:definitions>")
    return Model(0, xml.encode(), {})


def test_task_steps_name_the_instance_of_a_multi_instance_subprocess():
    """Seed 193 of ``events``, shrunk: a sequential multi-instance task in each of two
    parallel instances of a sub-process. Ours keeps its open tasks in creation order, so
    "the first open task at ``mi``" alternates between the instances (A1, B1, A2, ...);
    Spiff's is the first instance's until it is done (A1, A2: ``mi`` twice, the task and
    its body, at step 2). Both are right, the user picks; the steps now name the
    instance ours completed and Spiff completes the task in the same one."""
    model = _model(
        '<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />'
        '<bpmn:subProcess id="sub"><bpmn:multiInstanceLoopCharacteristics>'
        "<bpmn:loopCardinality>2</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics>"
        '<bpmn:startEvent id="ss" /><bpmn:userTask id="mi">'
        '<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        "<bpmn:loopCardinality>2</bpmn:loopCardinality>"
        '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:endEvent id="se" />'
        '<bpmn:sequenceFlow id="g1" sourceRef="ss" targetRef="mi" />'
        '<bpmn:sequenceFlow id="g2" sourceRef="mi" targetRef="se" /></bpmn:subProcess>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />')
    outcome = drive(model)
    assert outcome.problem is None
    assert [step[3] for step in outcome.steps] == [(0,), (1,), (0,), (1,)]
    assert outcome.ours is not None and outcome.ours.status == "completed"
    # without the instance, Spiff completes the first instance's second task at step 2
    unnamed, error = run_spiff(model, [step[:3] for step in outcome.steps], [])
    assert error is None
    assert unnamed.chunks[2]["mi"] == 2 and outcome.ours.chunks[2]["mi"] == 1


def test_keeps_scope_open_needs_every_token_of_the_scope_ended():
    """The rule accepts ours completing ``sub3`` (its error event sub-process never
    ran, its last token ended at ``se5``) and Spiff not; not if a token of ``sub3``
    still waited, nor if the event sub-process had run in that instance."""
    outcome = drive(generate(6, Options(**EVENTS)))
    assert spiff_fault(outcome) == "event-subprocess-keeps-scope-open"
    assert outcome.ours is not None and outcome.spiff is not None
    index = next(i for i, mine, theirs in pairs(outcome.ours, outcome.spiff)
                 if mine != theirs)
    before = outcome.states[index - 1]
    instance = next(r for r in before.scopes if r.node == "sub3")
    states = list(outcome.states)
    states[index - 1] = before._replace(
        tokens=(*before.tokens, Token("x1", "t10", instance.id, task="x2")))
    assert spiff_fault(replace(outcome, states=states)) is None
    states = list(outcome.states)
    states[index - 1] = before._replace(
        scopes=(*before.scopes, Scope("x3", "esp11", instance.id, "", "event")))
    assert spiff_fault(replace(outcome, states=states)) is None
