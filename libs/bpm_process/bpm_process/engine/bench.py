"""In-process engine benchmark: how many instances per second one core runs through,
and the same BPMN in SpiffWorkflow in the same run.

Each instance is started and then every open task is completed (approval tasks with
``approve``) until the instance has ended. The graph is compiled once, as the runtime
does. Two models:

* ``expense-reimbursement``: three user tasks in a row with an exclusive gateway;
* ``countersign``: a five-way parallel multi-instance approval (``bpm:signMode="all"``),
  a gateway on its outcome and a filing task.

:func:`bench_spiff` runs the same BPMN bytes in SpiffWorkflow 3.2 (a test and
benchmark dependency), in memory and without serialisation, with the same variables;
:func:`engine_figures` gives ours, Spiff's and the ratio for both models (what
``make bench`` prints).

Run ``python -m bpm_process.engine.bench``; with ``--with-json`` each of our
steps also writes the state to JSON text and reads it back, as the runtime does around
every command.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from bpm_process.engine.compiler import compile_bpmn
from bpm_process.engine.execution import Result, complete_task, start
from bpm_process.engine.graph import ProcessGraph
from bpm_process.engine.state import ACTIVE, InstanceState

__all__ = [
    "COUNTERSIGN_VARIABLES",
    "EXPENSE_VARIABLES",
    "SPIFF_COUNTERSIGN_VARIABLES",
    "bench_instances_per_second",
    "bench_parallel_countersign",
    "bench_spiff",
    "countersign_model",
    "demo_model",
    "engine_figures",
    "run_instance",
    "spiff_compatible",
]

_NOW = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
EXPENSE_VARIABLES: Mapping[str, Any] = {"amount": 120}
COUNTERSIGN_VARIABLES: Mapping[str, Any] = {"signers": ["ann", "ben", "cid", "dan", "eve"]}
SPIFF_COUNTERSIGN_VARIABLES: Mapping[str, Any] = {
    **COUNTERSIGN_VARIABLES,
    # SpiffWorkflow has no approval semantics: the outcome our engine computes from the
    # five approvals is given to it, so its gateway takes the same flow.
    "countersign_outcome": "approved",
}


def _model(name: str) -> bytes:
    return resources.files("bpm_process.engine").joinpath(f"models/{name}").read_bytes()


def demo_model() -> bytes:
    """The BPMN bytes of the expense-reimbursement demo process."""
    return _model("expense-reimbursement.bpmn")


def countersign_model() -> bytes:
    """The BPMN bytes of the five-way parallel countersign process."""
    return _model("countersign.bpmn")


def run_instance(
    graph: ProcessGraph,
    new_id: Any,
    *,
    variables: Mapping[str, Any] | None = None,
    with_json: bool = False,
) -> Result:
    """Start one instance and complete its tasks, first open task first (approval tasks
    with ``approve``), until it ends. Returns the last result."""
    result = start(graph, variables, initiator="alice", now=_NOW, new_id=new_id)
    nodes = graph.nodes
    while result.status == ACTIVE:
        state = result.state
        if with_json:
            state = InstanceState.from_json(json.loads(json.dumps(state.to_json())))
        for token in state.tokens:
            if token.task is not None:
                break
        else:
            break
        outcome = "approve" if nodes[token.node].approval is not None else None
        result = complete_task(graph, state, token.task, actor="bob", outcome=outcome,
                               now=_NOW, new_id=new_id)
    return result


def _measure(run_one: Callable[[], object], seconds: float, warm_up: int) -> float:
    """Instances per second of ``run_one``. Objects alive before the measurement (the
    other engine's modules and results) are frozen out of the garbage collector's
    scans, so each engine pays only for its own garbage."""
    for _ in range(warm_up):
        run_one()
    gc.collect()
    gc.freeze()
    try:
        instances = 0
        started = time.perf_counter()
        deadline = started + seconds
        while True:
            for _ in range(20):
                run_one()
            instances += 20
            now = time.perf_counter()
            if now >= deadline:
                return instances / (now - started)
    finally:
        gc.unfreeze()


def bench_instances_per_second(
    bpmn_bytes: bytes,
    *,
    seconds: float = 2.0,
    variables: Mapping[str, Any] | None = None,
    with_json: bool = False,
) -> float:
    """Run instances of the process in ``bpmn_bytes`` for about ``seconds`` and return
    the number of instances completed per second."""
    graph = compile_bpmn(bpmn_bytes)
    counter = itertools.count(1)

    def new_id() -> str:
        return str(next(counter))

    return _measure(lambda: run_instance(graph, new_id, variables=variables,
                                         with_json=with_json), seconds, 200)


def bench_parallel_countersign(*, seconds: float = 2.0, with_json: bool = False) -> float:
    """Instances per second of the five-way parallel countersign (``bpm:signMode="all"``,
    every signer approves)."""
    return bench_instances_per_second(countersign_model(), seconds=seconds,
                                      variables=COUNTERSIGN_VARIABLES, with_json=with_json)


_JUEL = re.compile(r"\$\{(.*?)\}", re.DOTALL)


def spiff_compatible(bpmn_bytes: bytes) -> bytes:
    """The same model for SpiffWorkflow, whose conditions are Python: ``${a && !b}``
    becomes ``a and not b``, timer values become string literals, collections plain
    names and service tasks user tasks (Spiff would complete them by itself)."""
    from lxml import etree

    bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    camunda = "http://camunda.org/schema/1.0/bpmn"
    root = etree.fromstring(bpmn_bytes)
    for condition in root.iter(f"{{{bpmn}}}conditionExpression", f"{{{bpmn}}}completionCondition"):
        condition.text = python_condition(condition.text or "")
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iter(f"{{{bpmn}}}{tag}"):
            timer.text = repr((timer.text or "").strip())
    for loop in root.iter(f"{{{bpmn}}}multiInstanceLoopCharacteristics"):
        collection = loop.get(f"{{{camunda}}}collection")
        if collection:
            match = _JUEL.fullmatch(collection.strip())
            loop.set(f"{{{camunda}}}collection", match.group(1) if match else collection)
    for task in list(root.iter(f"{{{bpmn}}}serviceTask")):
        task.tag = f"{{{bpmn}}}userTask"
    return bytes(etree.tostring(root))


def python_condition(text: str) -> str:
    """``${amount > 5000 && ok}`` -> ``amount > 5000 and ok`` (the JUEL subset the demo
    and conformance models use)."""
    match = _JUEL.fullmatch(text.strip())
    body = match.group(1) if match else text.strip()
    body = body.replace("&&", " and ").replace("||", " or ")
    body = re.sub(r"!(?!=)", " not ", body)
    body = re.sub(r"\btrue\b", "True", body)
    body = re.sub(r"\bfalse\b", "False", body)
    body = re.sub(r"\bnull\b", "None", body)
    return body.strip()


def bench_spiff(
    bpmn_bytes: bytes,
    *,
    seconds: float = 2.0,
    variables: Mapping[str, Any] | None = None,
    process_id: str | None = None,
) -> float:
    """Instances per second of the same BPMN in SpiffWorkflow (in memory, no
    serialisation): start, complete every ready user task until the workflow ends."""
    from lxml import etree
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
    from SpiffWorkflow.util.task import TaskState

    parser = CamundaParser()
    parser.add_bpmn_xml(etree.fromstring(spiff_compatible(bpmn_bytes)), filename="bench.bpmn")
    process = process_id or parser.get_process_ids()[0]
    spec = parser.get_spec(process)
    subprocesses = parser.get_subprocess_specs(process)
    data = dict(variables or {})

    def run_one() -> None:
        workflow = BpmnWorkflow(spec, subprocesses)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(json.loads(json.dumps(data)))
        workflow.do_engine_steps()
        while not workflow.is_completed():
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            ready[0].run()
            workflow.do_engine_steps()

    return _measure(run_one, seconds, 20)


def engine_figures(seconds: float = 2.0, rounds: int = 3) -> dict[str, float]:
    """Our instances per second, SpiffWorkflow's, and the ratio, for the expense and
    the countersign models (keys ``engine_<model>_instances_per_second``,
    ``spiff_<model>_instances_per_second``, ``engine_vs_spiff_<model>_ratio``).

    Each engine runs ``rounds`` times for ``seconds``, the two taking turns, and the
    best round of each counts (as ``timeit`` reports the best of its repeats): a round
    slowed by the machine's other work then decides neither figure nor the ratio."""
    figures: dict[str, float] = {}
    for name, model, variables, spiff_variables in (
        ("expense", demo_model(), EXPENSE_VARIABLES, EXPENSE_VARIABLES),
        ("countersign", countersign_model(), COUNTERSIGN_VARIABLES, SPIFF_COUNTERSIGN_VARIABLES),
    ):
        ours = theirs = 0.0
        for _ in range(max(rounds, 1)):
            ours = max(ours, bench_instances_per_second(model, seconds=seconds, variables=variables))
            theirs = max(theirs, bench_spiff(model, seconds=seconds, variables=spiff_variables))
        figures[f"engine_{name}_instances_per_second"] = round(ours, 1)
        figures[f"spiff_{name}_instances_per_second"] = round(theirs, 1)
        figures[f"engine_vs_spiff_{name}_ratio"] = round(ours / theirs, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--with-json", action="store_true",
                        help="also round-trip the state through JSON text on every step")
    parser.add_argument("--no-spiff", action="store_true", help="only our engine")
    arguments = parser.parse_args()
    mode = " (state JSON round trip on every step)" if arguments.with_json else ""
    if arguments.no_spiff or arguments.with_json:
        expense = bench_instances_per_second(demo_model(), seconds=arguments.seconds,
                                             variables=EXPENSE_VARIABLES,
                                             with_json=arguments.with_json)
        countersign = bench_parallel_countersign(seconds=arguments.seconds,
                                                 with_json=arguments.with_json)
        print(f"expense-reimbursement: {expense:,.0f} instances/second{mode}")
        print(f"countersign (5-way parallel, all approve): {countersign:,.0f} "
              f"instances/second{mode}")
        return
    figures = engine_figures(arguments.seconds)
    for name in ("expense", "countersign"):
        print(f"{name}: ours {figures[f'engine_{name}_instances_per_second']:,.0f}/s, "
              f"SpiffWorkflow {figures[f'spiff_{name}_instances_per_second']:,.0f}/s, "
              f"ratio {figures[f'engine_vs_spiff_{name}_ratio']:.1f}x")


if __name__ == "__main__":
    main()
