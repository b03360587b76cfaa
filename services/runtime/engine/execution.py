"""Commands: start an instance, complete a user task.

A command takes the compiled graph, the instance state and its arguments and returns a
:class:`Result`: the new state, the events in order, and jobs to schedule. It never
changes its inputs (the input state stays valid if the command is refused), never
reads the clock (``now`` is an argument) and never makes up ids (``new_id`` is an
argument), so the same inputs always give the same result.

Inside a command an *agenda* of arriving tokens is worked off until every token waits
(at a user task, a join, a sub-process) or has ended. Nodes are handled by their
behaviour; leaving a node follows BPMN's rules for conditional and default flows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from bpm_process.expressions import ExpressionError, as_bool

from services.runtime.engine.errors import (
    ExpressionFailed,
    InstanceNotActive,
    InvalidCommand,
    InvalidState,
    NoPathFound,
    StepLimitExceeded,
    TaskNotActive,
)
from services.runtime.engine.events import (
    Event,
    InstanceCompleted,
    InstanceTerminated,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
)
from services.runtime.engine.graph import (
    END_EVENT,
    EXCLUSIVE_GATEWAY,
    FLOW_THROUGH,
    PARALLEL_GATEWAY,
    START_EVENT,
    SUB_PROCESS,
    TERMINATE_END_EVENT,
    USER_TASK,
    Flow,
    Node,
    ProcessGraph,
)
from services.runtime.engine.state import (
    ACTIVE,
    COMPLETED,
    ROOT_SCOPE,
    TERMINATED,
    InstanceState,
    Job,
    Scope,
    Token,
    clone_variables,
    copy_variables,
)

__all__ = ["MAX_STEPS", "NewId", "Result", "complete_task", "start"]

NewId = Callable[[], object]
"""Makes a new unique id (uuid7 in production, a counter in tests); ``str()`` of its
result is used."""

MAX_STEPS = 10_000
"""Most node visits one command may make; more means a loop without a wait state."""

_INSTANCE_COMPLETED = InstanceCompleted()
_TERMINATED_REASON = "terminated"


@dataclass(frozen=True, slots=True)
class Result:
    """What a command produced."""

    state: InstanceState
    variables: dict[str, Any]
    """All variables after the command (a copy; changing it changes nothing)."""
    status: str
    """``active``, ``completed`` or ``terminated``."""
    active_nodes: tuple[str, ...]
    """BPMN ids of the elements where tokens wait."""
    events: tuple[Event, ...]
    jobs: tuple[Job, ...] = ()
    """Jobs to schedule (timers, from the next phase)."""
    cancelled_jobs: tuple[str, ...] = ()
    """Ids of previously scheduled jobs that are no longer wanted."""


def start(
    graph: ProcessGraph,
    variables: Mapping[str, Any] | None = None,
    *,
    initiator: str | None,
    now: datetime,
    new_id: NewId,
    start_event_id: str | None = None,
) -> Result:
    """Start an instance at ``start_event_id``, or at the process's none start event
    (or its only start event).

    ``initiator`` is the starting user: available to expressions as ``initiator`` and
    stored in the variable named by the start event's ``initiator`` attribute.
    """
    _check_now(now)
    node_id = start_event_id
    if node_id is None:
        node_id = graph.none_start
        if node_id is None:
            if len(graph.start_events) != 1:
                raise InvalidCommand(
                    "the process has several start events and none without an event "
                    "definition; name the one to start at"
                )
            node_id = graph.start_events[0]
    if node_id not in graph.start_events:
        raise InvalidCommand(f"{node_id!r} is not a start event of the process {graph.id!r}",
                             element_id=node_id)
    node = graph.nodes[node_id]
    values = copy_variables(variables)
    if node.initiator_variable is not None and initiator is not None:
        values[node.initiator_variable] = initiator
    run = _Run(graph, [], [], values, initiator, now, new_id)
    run.live[ROOT_SCOPE] = 1
    run.agenda.append((run.next_id(), ROOT_SCOPE, node, None))
    run.work()
    return run.result(variables_changed=True)


def complete_task(
    graph: ProcessGraph,
    state: InstanceState,
    task_id: str,
    *,
    variables: Mapping[str, Any] | None = None,
    actor: str | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Complete an open user task: merge ``variables`` into the instance variables,
    then move the token on.

    Raises :class:`InstanceNotActive` for a finished instance and
    :class:`TaskNotActive` for a task that is not open in this instance.
    """
    _check_now(now)
    _check_state(graph, state)
    if state.status != ACTIVE:
        raise InstanceNotActive(f"the instance is {state.status}")
    token = None
    for candidate in state.tokens:
        if candidate.task == task_id:
            token = candidate
            break
    if token is None:
        raise TaskNotActive(f"the task {task_id!r} is not open in this instance")
    node = graph.nodes.get(token.node)
    if node is None or node.behavior != USER_TASK:
        raise InvalidState(f"the task {task_id!r} waits at {token.node!r}, which is not a "
                           "user task of this process version")

    values: Mapping[str, Any]
    changed = bool(variables)
    if changed:
        merged = dict(state.variables)
        merged.update(copy_variables(variables))
        values = merged
    else:
        values = state.variables

    tokens = list(state.tokens)
    tokens.remove(token)
    run = _Run(graph, tokens, list(state.scopes), values, state.initiator, now, new_id)
    run.live[token.scope] = run.live.get(token.scope, 0) + 1
    run.events.append(TaskCompleted(task_id, node.id, actor))
    run.events.append(node.completed)
    run.leave(token.id, token.scope, node)
    run.work()
    return run.result(variables_changed=changed)


def _check_now(now: datetime) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidCommand("now must be a timezone-aware datetime")


def _check_state(graph: ProcessGraph, state: InstanceState) -> None:
    if not isinstance(state, InstanceState):
        raise InvalidCommand("state must be an InstanceState")
    if state.process_id != graph.id:
        raise InvalidState(
            f"the instance belongs to the process {state.process_id!r}, not {graph.id!r}"
        )


_Arrival = tuple[str, str, Node, "str | None"]
"""A token on its way into a node: (token id, scope id, node, incoming flow id)."""


class _Run:
    """The working copy of one command. Only this object is mutated; the input state is
    read once at the start and a new state is built at the end."""

    __slots__ = (
        "_context",
        "agenda",
        "events",
        "graph",
        "initiator",
        "live",
        "new_id",
        "nodes",
        "now",
        "scopes",
        "status",
        "steps",
        "tokens",
        "variables",
    )

    def __init__(
        self,
        graph: ProcessGraph,
        tokens: list[Token],
        scopes: list[Scope],
        variables: Mapping[str, Any],
        initiator: str | None,
        now: datetime,
        new_id: NewId,
    ) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.tokens = tokens
        self.scopes = scopes
        self.variables = variables
        self.initiator = initiator
        self.now = now
        self.new_id = new_id
        self.events: list[Event] = []
        self.agenda: list[_Arrival] = []
        self.status = ACTIVE
        self.steps = 0
        self._context: dict[str, Any] | None = None
        live: dict[str, int] = {}
        for token in tokens:
            live[token.scope] = live.get(token.scope, 0) + 1
        self.live = live

    # -- helpers ---------------------------------------------------------------------

    def next_id(self) -> str:
        value = self.new_id()
        return value if type(value) is str else str(value)

    def context(self) -> Mapping[str, Any]:
        """Variables as expressions see them: the instance variables plus
        ``initiator`` (unless a variable of that name exists)."""
        context = self._context
        if context is None:
            context = {"initiator": self.initiator, **self.variables}
            self._context = context
        return context

    def result(self, *, variables_changed: bool) -> Result:
        variables = self.variables
        # A changed variable dict was built by this command and is referenced by
        # nothing else, so a read-only view of it is enough.
        frozen = MappingProxyType(variables) if variables_changed else variables
        tokens = tuple(self.tokens)
        state = InstanceState(
            self.graph.id, self.status, frozen, self.initiator, tokens, tuple(self.scopes)
        )
        return Result(
            state=state,
            variables=clone_variables(variables),
            status=self.status,
            active_nodes=tuple(dict.fromkeys(token.node for token in tokens)),
            events=tuple(self.events),
        )

    # -- the agenda ------------------------------------------------------------------

    def work(self) -> None:
        """Move every token on the agenda until it waits or ends."""
        agenda = self.agenda
        events = self.events
        nodes = self.nodes
        while agenda:
            token_id, scope, node, via = agenda.pop()
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise StepLimitExceeded(
                    f"more than {MAX_STEPS} steps without reaching a wait state; the model "
                    f"loops through {node.id!r} without a wait state",
                    element_id=node.id,
                )
            behavior = node.behavior
            if behavior == USER_TASK:
                self.create_task(token_id, scope, node)
            elif behavior == FLOW_THROUGH or behavior == START_EVENT:
                events.append(node.started)
                events.append(node.completed)
                self.leave(token_id, scope, node)
            elif behavior == EXCLUSIVE_GATEWAY:
                events.append(node.started)
                flow = self.choose(node)
                events.append(node.completed)
                agenda.append((token_id, scope, nodes[flow.target], flow.id))
            elif behavior == PARALLEL_GATEWAY:
                if node.joins and not self.join(token_id, scope, node, via):
                    continue
                events.append(node.started)
                events.append(node.completed)
                self.leave(token_id, scope, node)
            elif behavior == END_EVENT:
                events.append(node.started)
                events.append(node.completed)
                self.token_ended(scope)
            elif behavior == TERMINATE_END_EVENT:
                self.terminate(scope, node)
            elif behavior == SUB_PROCESS:
                self.enter_sub_process(token_id, scope, node)
            else:  # pragma: no cover - the compiler only produces the behaviours above
                raise InvalidState(f"unknown behaviour {behavior!r} of {node.id!r}")

    def create_task(self, token_id: str, scope: str, node: Node) -> None:
        definition = node.task
        if definition is None:  # pragma: no cover - the compiler always sets it
            raise InvalidState(f"the user task {node.id!r} has no definition")
        self.events.append(node.started)
        task_id = self.next_id()
        spec = definition.create(
            task_id, node.id, node.name, self.now,
            None if definition.constant else self.context(),
        )
        self.tokens.append(Token(token_id, node.id, scope, task_id, None))
        self.events.append(TaskCreated(spec))

    def enter_sub_process(self, token_id: str, scope: str, node: Node) -> None:
        self.events.append(node.started)
        child = self.next_id()
        self.scopes.append(Scope(child, node.id, scope, token_id))
        self.tokens.append(Token(token_id, node.id, scope))
        self.live[child] = 1
        start_node = self.nodes[node.start or ""]
        self.agenda.append((self.next_id(), child, start_node, None))

    # -- leaving nodes ---------------------------------------------------------------

    def leave(self, token_id: str, scope: str, node: Node) -> None:
        """Send the token out of ``node`` along the flows BPMN says to take."""
        flow = node.exit
        if flow is not None:
            self.agenda.append((token_id, scope, self.nodes[flow.target], flow.id))
            return
        outgoing = node.outgoing
        if not outgoing:
            self.token_ended(scope)  # an activity without outgoing flows ends its token
            return
        if node.behavior == PARALLEL_GATEWAY:
            self.split(token_id, scope, outgoing)
            return
        default = node.default
        taken = [
            flow for flow in outgoing
            if flow is not default and (flow.condition is None or self.test(flow))
        ]
        if not taken:
            if default is None:
                raise NoPathFound(
                    f"no outgoing sequence flow of {node.id!r} can be taken: no condition "
                    "is true and there is no default flow",
                    element_id=node.id,
                )
            taken = [default]
        self.split(token_id, scope, taken)

    def split(self, token_id: str, scope: str, flows: tuple[Flow, ...] | list[Flow]) -> None:
        """One token per flow; the first keeps the arriving token's id. Tokens are put
        on the agenda so that the first flow is followed first."""
        nodes = self.nodes
        arrivals: list[_Arrival] = []
        for index, flow in enumerate(flows):
            arrivals.append(
                (token_id if index == 0 else self.next_id(), scope, nodes[flow.target], flow.id)
            )
        self.live[scope] += len(arrivals) - 1
        arrivals.reverse()
        self.agenda.extend(arrivals)

    def choose(self, node: Node) -> Flow:
        """The flow an exclusive gateway takes: the first true condition in document
        order (a flow without condition counts as true), else the default flow."""
        default = node.default
        for flow in node.outgoing:
            if flow is default:
                continue
            if flow.condition is None or self.test(flow):
                return flow
        if default is not None:
            return default
        raise NoPathFound(
            f"no outgoing sequence flow of the gateway {node.id!r} matched and it has no "
            "default flow",
            element_id=node.id,
        )

    def test(self, flow: Flow) -> bool:
        condition = flow.condition
        if condition is None:
            return True
        try:
            return as_bool(condition.evaluate(self.context()))
        except ExpressionError as exc:
            raise ExpressionFailed(
                f"the condition of the sequence flow {flow.id!r} failed: {exc}",
                element_id=flow.id,
            ) from None

    def join(self, token_id: str, scope: str, node: Node, via: str | None) -> bool:
        """A token arrives at a synchronising parallel gateway. Returns True when the
        gateway fires (one token has arrived on every incoming flow); the other
        arrived tokens are consumed and the arriving token goes on."""
        waiting = [t for t in self.tokens if t.node == node.id and t.scope == scope]
        arrived = {t.via for t in waiting}
        arrived.add(via)
        for flow_id in node.incoming:
            if flow_id not in arrived:
                self.tokens.append(Token(token_id, node.id, scope, None, via))
                return False
        used = {via}
        for token in waiting:
            if token.via not in used:
                used.add(token.via)
                self.tokens.remove(token)
                self.live[scope] -= 1
        return True

    # -- ending ----------------------------------------------------------------------

    def token_ended(self, scope: str) -> None:
        remaining = self.live[scope] - 1
        self.live[scope] = remaining
        if remaining == 0:
            self.scope_completed(scope)

    def scope_completed(self, scope: str) -> None:
        """The last token of a scope ended: the instance completes, or the
        sub-process's waiting token goes on in the parent scope."""
        if scope == ROOT_SCOPE:
            self.status = COMPLETED
            self.events.append(_INSTANCE_COMPLETED)
            return
        record = self.scope_record(scope)
        self.scopes.remove(record)
        del self.live[scope]
        parent_token = next(t for t in self.tokens if t.id == record.token
                            and t.scope == record.parent)
        self.tokens.remove(parent_token)
        node = self.nodes[record.node]
        self.events.append(node.completed)
        self.leave(parent_token.id, record.parent, node)

    def terminate(self, scope: str, node: Node) -> None:
        """A terminate end event: cancel everything else in its scope. In the root
        scope that terminates the instance; in a sub-process, the sub-process ends
        normally."""
        self.events.append(node.started)
        removed = self.cancel_scope(scope, _TERMINATED_REASON)
        self.events.append(node.completed)
        if scope == ROOT_SCOPE:
            self.status = TERMINATED
            self.agenda.clear()
            self.live.clear()
            self.events.append(InstanceTerminated(node.id))
            return
        self.agenda[:] = [entry for entry in self.agenda if entry[1] not in removed]
        self.live[scope] = 0
        self.scope_completed(scope)

    def cancel_scope(self, scope: str, reason: str) -> set[str]:
        """Cancel every waiting token of ``scope`` and everything nested in it; return
        the ids of the scopes emptied (``scope`` itself and the removed children)."""
        removed = {scope}
        for token in [t for t in self.tokens if t.scope == scope]:
            removed |= self.cancel_token(token, reason)
        return removed

    def cancel_token(self, token: Token, reason: str) -> set[str]:
        """Remove one waiting token, cancelling its task or sub-process."""
        node = self.nodes[token.node]
        removed: set[str] = set()
        if node.behavior == SUB_PROCESS:
            for record in [s for s in self.scopes if s.token == token.id
                           and s.parent == token.scope]:
                removed |= self.cancel_scope(record.id, reason)
                self.scopes.remove(record)
                self.live.pop(record.id, None)
            self.events.append(node.cancelled)
        elif token.task is not None:
            self.events.append(TaskCancelled(token.task, node.id, reason))
            self.events.append(node.cancelled)
        self.tokens.remove(token)
        self.live[token.scope] = self.live.get(token.scope, 1) - 1
        return removed

    def scope_record(self, scope: str) -> Scope:
        for record in self.scopes:
            if record.id == scope:
                return record
        raise InvalidState(f"the instance has no scope {scope!r}")
