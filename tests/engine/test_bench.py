"""The benchmark helpers run, and the engine is far faster than the 10 000/s target
would need on any reasonable machine (loose bounds, to catch pathological slowdowns;
the real figures come from ``make bench``)."""

from __future__ import annotations

from bpm_process.engine.bench import (
    COUNTERSIGN_VARIABLES,
    SPIFF_COUNTERSIGN_VARIABLES,
    bench_instances_per_second,
    bench_parallel_countersign,
    bench_spiff,
    countersign_model,
    demo_model,
    run_instance,
)
from bpm_process.engine.compiler import compile_bpmn

from .support import Ids


def test_bench_runs_the_demo_model():
    figure = bench_instances_per_second(demo_model(), seconds=0.2)
    assert figure > 1000


def test_countersign_instances_complete_with_five_approvals():
    graph = compile_bpmn(countersign_model())
    result = run_instance(graph, Ids(), variables=COUNTERSIGN_VARIABLES)
    assert result.status == "completed"
    assert result.variables["countersign_outcome"] == "approved"
    assert bench_parallel_countersign(seconds=0.1) > 500


def test_the_same_models_run_in_spiffworkflow():
    assert bench_spiff(demo_model(), seconds=0.05, variables={"amount": 120}) > 10
    assert bench_spiff(countersign_model(), seconds=0.05,
                       variables=SPIFF_COUNTERSIGN_VARIABLES) > 10
