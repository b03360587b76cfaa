"""The flow of a BPMN process as the simulation walks it, and changes made to it.

Built from `bpm_process.bpmn` records: activities (user tasks and every other
task, call activities) take time, intermediate timer events wait their
`timeDuration`, sub-processes run their own flow, gateways split and join.
Boundary events and event sub-processes are not walked (they are exceptions to
the normal flow, which is what a cycle-time estimate is about).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bpm_process.bpmn import FlowNode, Process, SequenceFlow
from bpm_process.isotime import parse_duration

ACTIVITY_KINDS = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "scriptTask",
        "businessRuleTask",
        "callActivity",
    }
)
SPLIT_ONE = frozenset(
    {"exclusiveGateway", "eventBasedGateway", "complexGateway", "inclusiveGateway"}
)
MONTH_SECONDS = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    """activity, start, end, event, xor (one branch), and (all branches), sub."""
    name: str | None = None
    wait_seconds: float = 0.0
    """A timer event's fixed wait."""
    sub: Flow | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    nodes: Mapping[str, Node]
    outgoing: Mapping[str, tuple[str, ...]]
    """Targets of each node's sequence flows, in document order."""
    starts: tuple[str, ...]
    notes: tuple[str, ...] = ()
    incoming: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for targets in self.outgoing.values():
            for target in targets:
                counts[target] = counts.get(target, 0) + 1
        object.__setattr__(self, "incoming", counts)

    def activities(self) -> Iterable[Node]:
        for node in self.nodes.values():
            if node.kind == "activity":
                yield node
            if node.sub is not None:
                yield from node.sub.activities()


class ModelError(ValueError):
    """The model cannot be simulated, or a change cannot be applied to it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def flow_of(process: Process) -> Flow:
    return _flow(process.flow_nodes, process.sequence_flows)


def _flow(nodes: Sequence[FlowNode], flows: Sequence[SequenceFlow]) -> Flow:
    notes: list[str] = []
    walked: dict[str, Node] = {}
    for node in nodes:
        converted = _node(node, notes)
        if converted is not None:
            walked[node.id] = converted
    outgoing: dict[str, list[str]] = {}
    for flow in flows:
        if flow.source in walked and flow.target in walked:
            outgoing.setdefault(flow.source, []).append(flow.target)
    targets = {t for ts in outgoing.values() for t in ts}
    starts = tuple(n for n, node in walked.items() if node.kind == "start" and n not in targets)
    if not starts:
        raise ModelError("the process has no start event to simulate from")
    return Flow(walked, {k: tuple(v) for k, v in outgoing.items()}, starts, tuple(notes))


def _node(node: FlowNode, notes: list[str]) -> Node | None:
    kind = node.kind
    if kind == "boundaryEvent" or node.triggered_by_event:
        return None
    if kind in ACTIVITY_KINDS:
        return Node(node.id, "activity", node.name)
    if kind == "startEvent":
        return Node(node.id, "start", node.name)
    if kind == "endEvent":
        return Node(node.id, "end", node.name)
    if kind == "parallelGateway":
        return Node(node.id, "and", node.name)
    if kind in SPLIT_ONE:
        if kind == "inclusiveGateway":
            notes.append(f"inclusive gateway {node.id!r} is simulated as taking one branch")
        return Node(node.id, "xor", node.name)
    if kind in ("subProcess", "transaction", "adHocSubProcess"):
        return Node(node.id, "sub", node.name, sub=_flow(node.flow_nodes, node.sequence_flows))
    return Node(node.id, "event", node.name, wait_seconds=_timer_wait(node, notes))


def _timer_wait(node: FlowNode, notes: list[str]) -> float:
    if node.kind != "intermediateCatchEvent" or "timer" not in node.event_definitions:
        return 0.0
    for definition in node.event_definition_elements:
        for child in definition:
            if isinstance(child.tag, str) and child.tag.endswith("}timeDuration"):
                try:
                    d = parse_duration("".join(child.itertext()))
                except ValueError:
                    break
                months = d.years * 12 + d.months
                return months * MONTH_SECONDS + d.span.total_seconds()
    notes.append(f"timer {node.id!r} has no fixed duration; it is taken as no wait")
    return 0.0


def parallelize(flow: Flow, groups: Sequence[Sequence[str]]) -> Flow:
    """Make each group of nodes that follow one another directly run side by side.

    The first node's incoming flows go to a new parallel split, every node of the
    group goes from the split to a new parallel join, and the join continues where
    the last node went. Raises `ModelError` naming the group at fault.
    """
    nodes, outgoing = dict(flow.nodes), {k: list(v) for k, v in flow.outgoing.items()}
    for index, group in enumerate(groups):
        try:
            _parallelize_one(nodes, outgoing, list(group), index)
        except ModelError as exc:
            raise ModelError(str(exc), field=f"parallelize.{index}") from exc
    return Flow(nodes, {k: tuple(v) for k, v in outgoing.items()}, flow.starts, flow.notes)


def _parallelize_one(
    nodes: dict[str, Node], outgoing: dict[str, list[str]], group: list[str], index: int
) -> None:
    unknown = [n for n in group if n not in nodes]
    if unknown:
        raise ModelError(f"no node {unknown[0]!r} in the model")
    if len(set(group)) != len(group):
        raise ModelError("a node is named twice")
    incoming: dict[str, int] = {}
    for targets in outgoing.values():
        for target in targets:
            incoming[target] = incoming.get(target, 0) + 1
    for a, b in zip(group, group[1:], strict=False):
        if outgoing.get(a) != [b] or incoming.get(b) != 1:
            raise ModelError(f"{b!r} does not directly and only follow {a!r}")
    first, last = group[0], group[-1]
    split, join = f"__parallel_split_{index}", f"__parallel_join_{index}"
    nodes[split] = Node(split, "and")
    nodes[join] = Node(join, "and")
    for source, targets in outgoing.items():
        outgoing[source] = [split if t == first else t for t in targets]
    after_last = outgoing.get(last, [])
    for member in group:
        outgoing[member] = [join]
    outgoing[split] = list(group)
    outgoing[join] = after_last
