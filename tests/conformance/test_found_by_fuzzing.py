"""An engine defect the differential fuzzing found (``random_models.py``), as the
smallest model that shows it.

An inclusive join inside a parallel block inside a rework loop
(``merge -> fork -> (split -> a -> join | direct) -> sync -> check -> again -> merge``):
the inclusive split takes only its default flow, ``a`` completes and its token arrives
at the inclusive ``join`` while the other parallel branch waits at the parallel
``sync``. Held back by plain reachability (the token at ``sync`` reaches the join's
empty flow ``skip`` round the loop), the join waited for ``sync`` and ``sync`` for the
join: the instance stayed active with nothing that could move.

BPMN 2.0 (13.4.3) holds the join back only for a token that can reach an incoming flow
without a token and none with one; the token at ``sync`` reaches ``f3``, which has one,
so the join fires (``Run.held_back``); SpiffWorkflow fires it too.
"""

from __future__ import annotations

from tests.conformance.harness import CLOCK
from tests.conformance.random_models import Model, run_spiff
from tests.engine.support import Instance, model


def _flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<conditionExpression>{condition}</conditionExpression></sequenceFlow>")


def _loop_with_inclusive_join(side_task: bool) -> str:
    side = '<userTask id="side"/>' if side_task else ""
    other = (_flow("f5", "fork", "side") + _flow("f5b", "side", "sync")) if side_task \
        else _flow("f5", "fork", "sync")
    return (
        '<startEvent id="start"/><exclusiveGateway id="merge"/>'
        '<parallelGateway id="fork"/><parallelGateway id="sync"/>'
        '<inclusiveGateway id="split" default="to_a"/><userTask id="a"/>'
        '<inclusiveGateway id="join"/><userTask id="check"/>'
        f'<exclusiveGateway id="again" default="out"/><endEvent id="end"/>{side}'
        + _flow("f0", "start", "merge") + _flow("f1", "merge", "fork")
        + _flow("f2", "fork", "split") + _flow("to_a", "split", "a")
        + _flow("skip", "split", "join", "${x}") + _flow("f3", "a", "join")
        + _flow("f4", "join", "sync") + other + _flow("f6", "sync", "check")
        + _flow("f7", "check", "again") + _flow("out", "again", "end")
        + _flow("back", "again", "merge", "${loop}")
    )


def test_inclusive_join_in_a_loop_fires_when_the_other_branch_waits_at_the_parallel_join():
    instance = Instance(model(_loop_with_inclusive_join(side_task=False)))
    instance.start({"x": False, "loop": False})
    instance.complete("a")
    assert sorted(instance.open_tasks().values()) == ["check"]


def test_inclusive_join_in_a_loop_fires_when_the_other_branch_is_still_open():
    instance = Instance(model(_loop_with_inclusive_join(side_task=True)))
    instance.start({"x": False, "loop": False})
    instance.complete("a")
    instance.complete("side")
    assert sorted(instance.open_tasks().values()) == ["check"]
    instance.complete("check", {"loop": False})
    assert instance.result.status == "completed"


def test_spiffworkflow_fires_that_join():
    """The same model and decisions in SpiffWorkflow 3.2 reach ``check``."""
    body = _loop_with_inclusive_join(side_task=False)
    xml = (
        '<?xml version="1.0"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'id="d" targetNamespace="t"><process id="p" isExecutable="true">'
        f"{body}</process></definitions>"
    ).encode()
    found = Model(0, xml, {"x": False, "loop": False})
    trace, error = run_spiff(found, [("task", "a", {}), ("task", "check", {})], [CLOCK])
    assert error is None
    assert trace.status == "completed"
