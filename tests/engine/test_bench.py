"""The benchmark helper runs and the engine is far faster than the 10 000/s target
would need on any reasonable machine (a loose bound, to catch pathological slowdowns)."""

from __future__ import annotations

from services.runtime.engine.bench import bench_instances_per_second, demo_model


def test_bench_runs_the_demo_model():
    figure = bench_instances_per_second(demo_model(), seconds=0.2)
    assert figure > 1000
