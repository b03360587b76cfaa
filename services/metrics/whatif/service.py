"""Rules of a what-if analysis: which model, which change, which history; the answer."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from bpm_process.bpmn import Process, read_definitions
from bpm_process.errors import BpmnError
from services.metrics.whatif import repository
from services.metrics.whatif.model import Flow, ModelError, flow_of, parallelize
from services.metrics.whatif.repository import History
from services.metrics.whatif.schemas import (
    Bin,
    Branch,
    Change,
    Distribution,
    WhatIfRequest,
    WhatIfResult,
)
from services.metrics.whatif.simulate import Outcome, Recorded, branch_weights, simulate

BINS = 20


async def what_if(session: AsyncSession, body: WhatIfRequest, *, max_runs: int) -> WhatIfResult:
    _check_request(body, max_runs)
    stored = await repository.model(session, body.key, body.version)
    current = _stored_flow(stored[1], body.key) if stored else None
    if body.parallelize is not None:
        if current is None:
            raise Unprocessable(
                "no published model of this process is known",
                errors=[
                    field_error(
                        "parallelize",
                        "no published model of this version is known to the metrics service; "
                        "send the changed model as `bpmn`",
                    )
                ],
            )
        changed = _changed(current, body.parallelize)
    else:
        assert body.bpmn is not None
        changed = _flow_from(body.bpmn.encode("utf-8"), body.key, "bpmn")
    version = body.version if body.version is not None else (stored[0] if stored else None)
    history = History(body.key, version, body.include_trial)
    recorded = await repository.recorded(session, history)
    cycles = await repository.cycle_times(session, history)
    simulated, baseline = await asyncio.to_thread(
        _simulate_both, changed, current, recorded, body.runs, body.seed
    )
    return _result(body, version, stored, changed, recorded, cycles, simulated, baseline)


def _check_request(body: WhatIfRequest, max_runs: int) -> None:
    if (body.bpmn is None) == (body.parallelize is None):
        raise Unprocessable(
            "say what changes",
            errors=[field_error("bpmn", "give either the changed model or `parallelize`")],
        )
    if body.runs > max_runs:
        raise Unprocessable(
            "too many runs", errors=[field_error("runs", f"at most {max_runs} runs")]
        )
    for i, group in enumerate(body.parallelize or ()):
        if len(group) < 2:
            raise Unprocessable(
                "nothing to parallelize",
                errors=[field_error(f"parallelize.{i}", "name at least two nodes")],
            )


def _stored_flow(bpmn: bytes, key: str) -> Flow | None:
    try:
        return _flow_from(bpmn, key, "version")
    except Unprocessable:
        return None


def _flow_from(bpmn: bytes, key: str, field: str) -> Flow:
    try:
        definitions = read_definitions(bpmn)
    except BpmnError as exc:
        raise Unprocessable(
            "the model cannot be read", errors=[field_error(field, str(exc))]
        ) from exc
    process = _process(definitions.processes, key)
    if process is None:
        raise Unprocessable(
            "no process to simulate",
            errors=[field_error(field, f"the model has no process {key!r}")],
        )
    try:
        return flow_of(process)
    except ModelError as exc:
        raise Unprocessable(str(exc), errors=[field_error(field, str(exc))]) from exc


def _process(processes: Sequence[Process], key: str) -> Process | None:
    for process in processes:
        if process.id == key:
            return process
    executable = [p for p in processes if p.is_executable] or list(processes)
    return executable[0] if len(executable) == 1 else None


def _changed(current: Flow, groups: list[list[str]]) -> Flow:
    try:
        return parallelize(current, groups)
    except ModelError as exc:
        raise Unprocessable(
            "the change does not fit the model",
            errors=[field_error(exc.field or "parallelize", str(exc))],
        ) from exc


def _simulate_both(
    changed: Flow, current: Flow | None, recorded: Recorded, runs: int, seed: int
) -> tuple[Outcome, Outcome | None]:
    baseline = simulate(current, recorded, runs, seed) if current is not None else None
    return simulate(changed, recorded, runs, seed), baseline


def _result(
    body: WhatIfRequest,
    version: int | None,
    stored: tuple[int, bytes] | None,
    changed: Flow,
    recorded: Recorded,
    cycles: list[float],
    simulated: Outcome,
    baseline: Outcome | None,
) -> WhatIfResult:
    samples = [cycles, simulated.cycle_seconds] + ([baseline.cycle_seconds] if baseline else [])
    edges = _edges([v for s in samples for v in s])
    changed_dist = _distribution(simulated.cycle_seconds, edges)
    current_dist = _distribution(baseline.cycle_seconds, edges) if baseline else None
    unmeasured = sorted({a.id for a in changed.activities() if not recorded.durations.get(a.id)})
    branches = [
        Branch(gateway=g, target=t, probability=w / sum(weights))
        for g, (targets, weights) in sorted(branch_weights(changed, recorded).items())
        for t, w in zip(targets, weights, strict=True)
    ]
    notes = list(changed.notes)
    if simulated.truncated_runs:
        notes.append(f"{simulated.truncated_runs} runs looped too long and were cut short")
    if simulated.unbalanced_joins:
        notes.append("some parallel joins went on without all their branches")
    if not cycles:
        notes.append("no completed instances recorded yet: nothing to compare with")
    return WhatIfResult(
        key=body.key,
        version=version,
        model_version=stored[0] if stored else None,
        runs=body.runs,
        seed=body.seed,
        recorded=_distribution(cycles, edges),
        simulated_current=current_dist,
        simulated=changed_dist,
        expected_change=_change(current_dist, changed_dist),
        unmeasured_nodes=unmeasured,
        branches=branches,
        notes=notes,
    )


def _change(before: Distribution | None, after: Distribution) -> Change | None:
    if before is None:
        return None

    def minus(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    return Change(
        mean=minus(after.mean, before.mean),
        median=minus(after.median, before.median),
        p90=minus(after.p90, before.p90),
    )


def _edges(values: list[float]) -> list[float]:
    if not values:
        return []
    low, high = min(values), max(values)
    if high <= low:
        return [low, low + 1.0]
    step = (high - low) / BINS
    return [low + i * step for i in range(BINS)] + [high]


def _distribution(values: list[float], edges: list[float]) -> Distribution:
    ordered = sorted(values)
    counts = [0] * max(len(edges) - 1, 0)
    for v in ordered:
        if counts:
            i = min(int((v - edges[0]) / (edges[-1] - edges[0]) * len(counts)), len(counts) - 1)
            counts[max(i, 0)] += 1
    return Distribution(
        count=len(ordered),
        mean=statistics.fmean(ordered) if ordered else None,
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
        histogram=[Bin(lower=edges[i], upper=edges[i + 1], count=c) for i, c in enumerate(counts)],
    )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
