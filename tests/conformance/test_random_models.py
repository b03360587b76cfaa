"""Differential fuzzing: random block-structured models (``generator.py``) run with the
same seeded decisions through our engine and SpiffWorkflow 3.2.

Every difference must be one the README accepts (the comparison is the conformance
suite's) or a SpiffWorkflow defect (``spiff_fault``, each explained there). The defect
of ours it found is in ``test_found_by_fuzzing.py``.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bpm_process.engine import compile_bpmn
from tests.conformance.random_models import Options, drive, generate, spiff_fault

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
