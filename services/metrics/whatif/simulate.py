"""Monte Carlo simulation of cycle times over a `Flow` (pure; a seeded RNG makes it
reproducible).

A run puts a token on each start event and walks the flow: an activity takes a
duration drawn from its recorded durations (none recorded: no time), a timer
waits its duration, an exclusive split takes one branch with the recorded
frequency, a parallel split takes every branch and a parallel join waits for
all its incoming branches and goes on at the latest arrival. The run's cycle
time is when its last token ends.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.metrics.whatif.model import Flow, Node

MAX_STEPS_PER_RUN = 10_000


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the event history says about each node."""

    durations: Mapping[str, Sequence[float]]
    """Seconds from offered to done, per node id."""
    instances: Mapping[str, int]
    """Instances in which the node ran, per node id."""
    runs: Mapping[str, int]
    """Times the node ran, per node id (more than `instances` when there was rework)."""
    completed_instances: int


@dataclass
class Outcome:
    cycle_seconds: list[float] = field(default_factory=list)
    truncated_runs: int = 0
    """Runs stopped after too many steps (a loop taken over and over)."""
    unbalanced_joins: int = 0
    """Parallel joins that went on without all their branches."""


def simulate(flow: Flow, recorded: Recorded, runs: int, seed: int) -> Outcome:
    rng = random.Random(seed)  # noqa: S311 - a simulation, reproducible by its seed
    weights = branch_weights(flow, recorded)
    outcome = Outcome()
    for _ in range(runs):
        walk = _Walk(recorded, weights, rng, outcome)
        outcome.cycle_seconds.append(walk.run(flow))
        if walk.steps > MAX_STEPS_PER_RUN:
            outcome.truncated_runs += 1
    return outcome


class _Walk:
    def __init__(
        self,
        recorded: Recorded,
        weights: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]],
        rng: random.Random,
        outcome: Outcome,
    ) -> None:
        self.recorded, self.weights, self.rng, self.outcome = recorded, weights, rng, outcome
        self.steps = 0

    def run(self, flow: Flow, at: float = 0.0) -> float:
        waiting: dict[str, list[float]] = {}
        stack = [(start, at) for start in flow.starts]
        end = at
        while stack or waiting:
            if stack:
                node_id, t = stack.pop()
                self.steps += 1
                if self.steps > MAX_STEPS_PER_RUN:
                    return max(end, t)
                node = flow.nodes[node_id]
                if node.kind == "and" and flow.incoming.get(node_id, 0) > 1:
                    arrivals = waiting.setdefault(node_id, [])
                    arrivals.append(t)
                    if len(arrivals) < flow.incoming[node_id]:
                        continue
                    del waiting[node_id]
                    t = max(arrivals)
            else:  # a join that some branch never reached goes on with what arrived
                node_id, arrivals = waiting.popitem()
                self.outcome.unbalanced_joins += 1
                node, t = flow.nodes[node_id], max(arrivals)
            t = self._through(node, t)
            if flow.outgoing.get(node_id):
                self._after(flow, node, t, stack)
            else:
                end = max(end, t)
        return end

    def _through(self, node: Node, t: float) -> float:
        if node.kind == "activity":
            samples = self.recorded.durations.get(node.id)
            return t + (self.rng.choice(samples) if samples else 0.0)
        if node.kind == "sub" and node.sub is not None:
            return self.run(node.sub, t)
        return t + node.wait_seconds

    def _after(self, flow: Flow, node: Node, t: float, stack: list[tuple[str, float]]) -> None:
        targets = flow.outgoing.get(node.id, ())
        if node.kind == "xor" and len(targets) > 1:
            options, weights = self.weights[node.id]
            stack.append((self.rng.choices(options, weights)[0], t))
        else:
            stack.extend((target, t) for target in targets)


def branch_weights(
    flow: Flow, recorded: Recorded
) -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    """For each exclusive split, its branches and how often each was taken.

    A branch counts the runs of its first activity, less those that came there
    through another branch of the split (branches that merge); a branch back to
    an activity that ran before the split (a loop) counts the repeated runs of that
    activity; a branch with no activity on it (straight to the end) gets what is
    left of the times the split was reached (the runs of the activity before it).
    """
    result: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {}
    for node in flow.nodes.values():
        if node.sub is not None:
            result.update(branch_weights(node.sub, recorded))
        targets = flow.outgoing.get(node.id, ())
        if node.kind == "xor" and len(targets) > 1:
            result[node.id] = (tuple(targets), tuple(_split_weights(flow, node.id, recorded)))
    return result


def _split_weights(flow: Flow, split: str, recorded: Recorded) -> list[float]:
    targets = flow.outgoing[split]
    before = _activities_before(flow, split)
    firsts = [_first_activities(flow, t) for t in targets]
    raw: list[float | None] = []
    for activities in firsts:
        counts = [
            recorded.runs.get(a, 0) - recorded.instances.get(a, 0)
            if a in before
            else recorded.runs.get(a, 0)
            for a in activities
        ]
        raw.append(float(max(counts)) if counts else None)
    known: list[float | None] = []
    for i, own in enumerate(firsts):
        if raw[i] is None:
            known.append(None)
            continue
        through_others = sum(
            raw[j] or 0.0
            for j, other in enumerate(firsts)
            if j != i and other and _reaches(flow, other, own) and not _reaches(flow, own, other)
        )
        known.append(max((raw[i] or 0.0) - through_others, 0.0))
    reached = max(
        [recorded.runs.get(a, 0) for a in _last_activities(flow, split)]
        or [recorded.completed_instances]
    )
    left = max(reached - sum(k for k in known if k is not None), 0.0)
    blanks = sum(1 for k in known if k is None)
    weights = [k if k is not None else left / blanks for k in known]
    return weights if sum(weights) > 0 else [1.0] * len(targets)


def _reaches(flow: Flow, sources: set[str], goals: set[str]) -> bool:
    """Whether going forward from any of `sources` (not counting themselves) meets a goal."""
    seen: set[str] = set()
    stack = [t for s in sources for t in flow.outgoing.get(s, ())]
    while stack:
        node_id = stack.pop()
        if node_id in goals:
            return True
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(flow.outgoing.get(node_id, ()))
    return False


def _first_activities(flow: Flow, start: str) -> set[str]:
    """The activities first met going forward from `start` (through events and gateways)."""
    found, seen, stack = set(), set(), [start]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        if flow.nodes[node_id].kind in ("activity", "sub"):
            found.add(node_id)
            continue
        stack.extend(flow.outgoing.get(node_id, ()))
    return found


def _last_activities(flow: Flow, node_id: str) -> set[str]:
    """The activities met first going backward from a node."""
    sources: dict[str, list[str]] = {}
    for source, targets in flow.outgoing.items():
        for target in targets:
            sources.setdefault(target, []).append(source)
    found, seen, stack = set(), {node_id}, list(sources.get(node_id, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if flow.nodes[current].kind in ("activity", "sub"):
            found.add(current)
            continue
        stack.extend(sources.get(current, ()))
    return found


def _activities_before(flow: Flow, node_id: str) -> set[str]:
    """Activities from which the node can be reached (ancestors): a branch to one is a loop."""
    sources: dict[str, list[str]] = {}
    for source, targets in flow.outgoing.items():
        for target in targets:
            sources.setdefault(target, []).append(source)
    seen, stack = set(), list(sources.get(node_id, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(sources.get(current, ()))
    return {n for n in seen if flow.nodes[n].kind in ("activity", "sub")}
