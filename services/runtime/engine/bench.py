"""In-process engine benchmark: how many instances per second one core runs through.

Each instance is started and then every open task is completed (with no variables, so
conditions on missing variables are false and gateways take their default flows) until
the instance has ended. The graph is compiled once, as the runtime does.

Run ``python -m services.runtime.engine.bench`` for the demo expense model; with
``--with-json`` each step also writes the state to JSON text and reads it back, as the
runtime does around every command.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from services.runtime.engine.compiler import compile_bpmn
from services.runtime.engine.execution import Result, complete_task, start
from services.runtime.engine.graph import ProcessGraph
from services.runtime.engine.state import ACTIVE, InstanceState

__all__ = ["bench_instances_per_second", "demo_model", "run_instance"]

_NOW = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def demo_model() -> bytes:
    """The BPMN bytes of the expense-reimbursement demo process."""
    return (
        resources.files("services.runtime.engine")
        .joinpath("models/expense-reimbursement.bpmn")
        .read_bytes()
    )


def run_instance(
    graph: ProcessGraph,
    new_id: Any,
    *,
    variables: Mapping[str, Any] | None = None,
    with_json: bool = False,
) -> Result:
    """Start one instance and complete its tasks, first open task first, until it
    ends. Returns the last result."""
    result = start(graph, variables, initiator="alice", now=_NOW, new_id=new_id)
    while result.status == ACTIVE:
        state = result.state
        if with_json:
            state = InstanceState.from_json(json.loads(json.dumps(state.to_json())))
        tasks = state.open_tasks()
        if not tasks:
            break
        task_id = next(iter(tasks))
        result = complete_task(graph, state, task_id, actor="bob", now=_NOW, new_id=new_id)
    return result


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

    for _ in range(200):  # warm caches before measuring
        run_instance(graph, new_id, variables=variables, with_json=with_json)

    instances = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            run_instance(graph, new_id, variables=variables, with_json=with_json)
        instances += 100
        now = time.perf_counter()
        if now >= deadline:
            return instances / (now - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--with-json", action="store_true",
                        help="also round-trip the state through JSON text on every step")
    arguments = parser.parse_args()
    figure = bench_instances_per_second(
        demo_model(), seconds=arguments.seconds, with_json=arguments.with_json
    )
    mode = " (state JSON round trip on every step)" if arguments.with_json else ""
    print(f"expense-reimbursement: {figure:,.0f} instances/second{mode}")


if __name__ == "__main__":
    main()
