"""The compiled, immutable process graph that commands execute.

A graph is built once per definition version by
:func:`services.runtime.engine.compiler.compile_process` and shared by every command
on every instance of that version. Everything a command needs is precomputed here:
compiled conditions and assignment expressions, the single exit of nodes that need no
decision, and the activity event records (identical for every instance, so they are
created once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bpm_process.expressions import Expression

from services.runtime.engine.events import ActivityCancelled, ActivityCompleted, ActivityStarted
from services.runtime.engine.tasks import UserTaskDefinition

__all__ = [
    "END_EVENT",
    "EXCLUSIVE_GATEWAY",
    "PARALLEL_GATEWAY",
    "FLOW_THROUGH",
    "START_EVENT",
    "SUB_PROCESS",
    "TERMINATE_END_EVENT",
    "USER_TASK",
    "Flow",
    "Node",
    "ProcessGraph",
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
SUB_PROCESS = "sub_process"


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """A sequence flow. ``condition`` is ``None`` for an unconditional flow (and for
    flows whose condition BPMN ignores: out of parallel gateways, default flows)."""

    id: str
    name: str | None
    source: str
    target: str
    condition: Expression | None


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
    """A parallel gateway with more than one incoming flow: it synchronises."""
    task: UserTaskDefinition | None
    start: str | None
    """For a sub-process: the id of its start event."""
    message: str | None
    """For a message start event: the message name."""
    initiator_variable: str | None
    """For a start event: the variable that receives the starting user."""
    started: ActivityStarted
    completed: ActivityCompleted
    cancelled: ActivityCancelled


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

    def node(self, node_id: str) -> Node:
        """The node with this id; ``KeyError`` if the process has none."""
        return self.nodes[node_id]
