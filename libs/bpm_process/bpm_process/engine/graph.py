"""The compiled, immutable process graph that commands execute.

A graph is built once per definition version by
:func:`bpm_process.engine.compiler.compile_process` and shared by every command
on every instance of that version. Everything a command needs is precomputed here:
compiled conditions and expressions, the single exit of nodes that need no decision,
boundary events per activity, event sub-processes per scope, the upstream sets of
inclusive joins, and the activity event records (identical for every instance, so
they are created once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bpm_process.engine.events import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityStarted,
    CopyRequested,
)
from bpm_process.engine.quick import QuickTest
from bpm_process.engine.tasks import UserTaskDefinition
from bpm_process.engine.timers import TimerDefinition
from bpm_process.expressions import Expression

__all__ = [
    "BOUNDARY_EVENT",
    "CALL_ACTIVITY",
    "CATCH_EVENT",
    "END_EVENT",
    "EVENT_GATEWAY",
    "EVENT_SUB_PROCESS",
    "EXCLUSIVE_GATEWAY",
    "FLOW_THROUGH",
    "INCLUSIVE_GATEWAY",
    "PARALLEL_GATEWAY",
    "RECEIVE_TASK",
    "START_EVENT",
    "SUB_PROCESS",
    "TERMINATE_END_EVENT",
    "THROW_EVENT",
    "USER_TASK",
    "WORK_TASK",
    "ApprovalDefinition",
    "CallDefinition",
    "EventTrigger",
    "Flow",
    "HttpRequestDefinition",
    "IoMappings",
    "LoopDefinition",
    "Node",
    "ProcessGraph",
    "VariableMapping",
    "WorkDefinition",
]

# How a node behaves when a token arrives. Several BPMN kinds share a behaviour
# (``task``, ``manualTask`` and a none intermediate throw event all pass through).
START_EVENT = "start_event"
END_EVENT = "end_event"
TERMINATE_END_EVENT = "terminate_end_event"
USER_TASK = "user_task"
FLOW_THROUGH = "flow_through"
EXCLUSIVE_GATEWAY = "exclusive_gateway"
PARALLEL_GATEWAY = "parallel_gateway"
INCLUSIVE_GATEWAY = "inclusive_gateway"
EVENT_GATEWAY = "event_gateway"
SUB_PROCESS = "sub_process"
EVENT_SUB_PROCESS = "event_sub_process"
CATCH_EVENT = "catch_event"
"""An intermediate message, signal or timer catch event: the token waits."""
THROW_EVENT = "throw_event"
"""An intermediate message, signal or escalation throw event."""
BOUNDARY_EVENT = "boundary_event"
RECEIVE_TASK = "receive_task"
WORK_TASK = "work_task"
"""A service, send or business rule task done by an external worker or the HTTP
connector: the token waits for ``complete_work``."""
CALL_ACTIVITY = "call_activity"

# Trigger kinds of events.
MESSAGE = "message"
SIGNAL = "signal"
TIMER = "timer"
ERROR = "error"
ESCALATION = "escalation"


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """A sequence flow. ``condition`` is ``None`` for an unconditional flow (and for
    flows whose condition BPMN ignores: out of parallel gateways, default flows)."""

    id: str
    name: str | None
    source: str
    target: str
    condition: Expression | None
    quick: QuickTest | None = None
    """The condition's quick form when it compares one variable with a literal."""


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """What an event catches or throws."""

    kind: str
    """``message``, ``signal``, ``timer``, ``error`` or ``escalation``."""
    name: Expression | None = None
    """Message or signal name (it may be an expression)."""
    correlation_key: Expression | None = None
    timer: TimerDefinition | None = None
    code: str | None = None
    """Error or escalation code; ``None`` on a catching event catches every code."""
    code_variable: str | None = None
    """Catching error/escalation events: the variable that receives the code."""
    message_variable: str | None = None
    """Catching error events: the variable that receives the error message."""


@dataclass(frozen=True, slots=True)
class VariableMapping:
    """``target`` receives the value of ``source`` (an expression)."""

    target: str
    source: Expression


@dataclass(frozen=True, slots=True)
class IoMappings:
    """Input and output mappings of an activity (``camunda:inputOutput``,
    ``zeebe:ioMapping``, ``bpm:input``/``bpm:output``)."""

    inputs: tuple[VariableMapping, ...] = ()
    outputs: tuple[VariableMapping, ...] = ()


@dataclass(frozen=True, slots=True)
class LoopDefinition:
    """Multi-instance characteristics."""

    sequential: bool
    cardinality: Expression | None
    collection: Expression | None
    element_variable: str | None
    completion: Expression | None
    output_collection: str | None = None
    output_element: Expression | None = None
    collection_variable: str | None = None
    """The variable the collection expression reads when it is just ``${name}``."""
    counts_only: bool = field(init=False, repr=False, compare=False)
    """Parallel, without a completion condition or output collection: the end of an
    instance that does not complete the body only counts it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts_only", not self.sequential and self.completion is None
                           and not (self.output_collection and self.output_element is not None))


@dataclass(frozen=True, slots=True)
class ApprovalDefinition:
    """Approval semantics of a user task (attributes of the ``bpm`` namespace)."""

    sign_mode: str
    """``all``, ``any``, ``ratio`` or ``votes``."""
    pass_ratio: float | None
    pass_votes: int | None
    reject_ends: bool
    reject_action: str | None
    """``end``, ``initiator``, ``previous``, ``node:<id>``; ``None`` = follow the flows."""


@dataclass(frozen=True, slots=True)
class HttpRequestDefinition:
    """The ``bpm:http`` connector of a task."""

    method: Expression
    url: Expression
    headers: tuple[tuple[str, Expression], ...]
    body: Expression | None
    result_variable: str | None
    outputs: tuple[VariableMapping, ...]
    timeout: str | None
    responses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``<bpm:response variable="x" path="data.id"/>``: the variable receives the
    value at that path of the response body (the whole body without a path)."""


@dataclass(frozen=True, slots=True)
class WorkDefinition:
    """Work done outside the engine: an external worker's topic or an HTTP request."""

    kind: str
    """``external`` or ``http``."""
    topic: Expression | None
    http: HttpRequestDefinition | None
    retries: int
    retry_backoff: str | None
    timeout: str | None
    priority: Expression | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CallDefinition:
    """A call activity: the process to start and how variables cross over."""

    called_element: Expression
    binding: str
    version: Expression | None  # with binding "version": a number, or an expression giving one
    version_tag: str | None
    inputs: tuple[VariableMapping, ...]
    all_inputs: bool
    outputs: tuple[VariableMapping, ...]
    all_outputs: bool
    business_key: Expression | None = None
    inherit_business_key: bool = False
    """The child gets the calling instance's business key (Camunda Modeler's "Business Key"
    switch, ``<camunda:in businessKey="#{execution.processBusinessKey}"/>``, Flowable's
    ``inheritBusinessKey``)."""


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A flow node ready to execute.

    ``scope`` is the BPMN id of the element that contains it (the process or an
    embedded sub-process). ``exit`` is set when leaving the node needs no decision:
    exactly one outgoing flow, without a condition.
    """

    id: str
    name: str | None
    kind: str
    behavior: str
    scope: str
    incoming: tuple[str, ...]
    outgoing: tuple[Flow, ...]
    default: Flow | None
    exit: Flow | None
    joins: bool
    """A parallel or inclusive gateway with more than one incoming flow: it
    synchronises."""
    task: UserTaskDefinition | None
    start: str | None
    """For a sub-process or event sub-process: the id of its start event."""
    message: str | None
    """For a message start event: the message name."""
    initiator_variable: str | None
    """For a start event: the variable that receives the starting user."""
    started: ActivityStarted
    completed: ActivityCompleted
    cancelled: ActivityCancelled
    trigger: EventTrigger | None = None
    boundaries: tuple[str, ...] = ()
    """Boundary events attached to this activity."""
    attached_to: str | None = None
    interrupting: bool = True
    """Boundary events and event sub-processes: whether they cancel what they
    interrupt."""
    targets: tuple[str, ...] = ()
    """An event-based gateway: the catch events (or receive tasks) that follow it."""
    loop: LoopDefinition | None = None
    approval: ApprovalDefinition | None = None
    work: WorkDefinition | None = None
    call: CallDefinition | None = None
    io: IoMappings | None = None
    armed: bool = False
    """Something must be set up when a token waits here (boundary events with
    timers, messages or signals)."""
    copies: tuple[CopyRequested, ...] = ()
    """Records emitted after ``completed``: ``bpm:copyTo`` of a copy node and the RACI
    ``informed`` people (created once, like the activity records)."""


@dataclass(frozen=True, slots=True, eq=False)
class ProcessGraph:
    """One executable process: its nodes (nested ones included) by id."""

    id: str
    name: str | None
    nodes: Mapping[str, Node]
    flows: Mapping[str, Flow]
    start_events: tuple[str, ...]
    """Top-level start events, in document order."""
    none_start: str | None
    """The top-level start event without an event definition, if there is one."""
    message_starts: Mapping[str, str]
    """Message name -> id of the top-level message start event it starts."""
    signal_starts: Mapping[str, str] = field(default_factory=dict)
    """Signal name -> id of the top-level signal start event it starts."""
    timer_starts: Mapping[str, TimerDefinition] = field(default_factory=dict)
    """Id of a top-level timer start event -> its timer (see :func:`next_fire`)."""
    event_subprocesses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Container id (the process or a sub-process) -> ids of the start events of its
    event sub-processes."""
    armed_event_subprocesses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Like ``event_subprocesses``, only the starts that need a job or subscription
    (timer, message, signal)."""
    inclusive_upstream: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Inclusive join id -> nodes of its container from which one of its incoming
    flows can be reached without passing the join."""
    inclusive_flow_upstream: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Inclusive join id -> each incoming flow's id -> the nodes from which that flow can
    be reached without passing the join (``inclusive_upstream`` is their union)."""
    initiator_task: str | None = None
    """The first top-level user task assigned to the initiator, or else the first user
    task after the none start event (target of ``bpm:rejectAction="initiator"``)."""
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """Derived data computed on first use (reachability); never part of a state."""

    def node(self, node_id: str) -> Node:
        """The node with this id; ``KeyError`` if the process has none."""
        return self.nodes[node_id]

    def successors(self, node_id: str) -> frozenset[str]:
        """Nodes reachable from ``node_id`` along sequence flows (itself only through a
        loop)."""
        key = "succ:" + node_id
        found = self.cache.get(key)
        if found is None:
            seen: set[str] = set()
            stack = [flow.target for flow in self.nodes[node_id].outgoing]
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                stack.extend(flow.target for flow in self.nodes[current].outgoing)
            found = frozenset(seen)
            self.cache[key] = found
        return found  # type: ignore[no-any-return]

    def return_region(self, node_id: str) -> frozenset[str]:
        """The nodes a token put at ``node_id`` may pass before it reaches a join that
        waits for a branch that does not start at ``node_id``: tokens there are
        cancelled when an instance returns to ``node_id``."""
        key = "region:" + node_id
        found = self.cache.get(key)
        if found is None:
            nodes = self.nodes
            region = {node_id}
            changed = True
            while changed:
                changed = False
                for member in list(region):
                    for flow in nodes[member].outgoing:
                        target = nodes[flow.target]
                        if target.id in region:
                            continue
                        if target.joins and not all(
                            self.flows[incoming].source in region for incoming in target.incoming
                            if incoming in self.flows
                        ):
                            continue
                        region.add(target.id)
                        changed = True
            found = frozenset(region)
            self.cache[key] = found
        return found  # type: ignore[no-any-return]
