"""The working copy of one command: the agenda and every rule of token movement.

Commands (:mod:`~bpm_process.engine.execution`,
:mod:`~bpm_process.engine.commands`, :mod:`~bpm_process.engine.operations`)
build a :class:`Run` from the input state, change it, call :meth:`Run.work` and then
:meth:`Run.result`. Only the run is mutated; the input state stays valid, so a refused
command leaves nothing to roll back.

Inside a run an *agenda* of arriving tokens is worked off until every token waits (at
a user task, a join, a sub-process, a catch event, work ...) or has ended. Tokens
moving through pass-through nodes keep their id; splits make new ids. A per-scope count
of live tokens (waiting or on the agenda) tells when a scope is done. Once the agenda
is empty the inclusive joins that no token can reach any more fire.

Shortcuts: ``start`` and ``complete_task`` hand the most common commands to functions
that make the new state directly, exactly as a run would leave it, and fall back to a
run (returning ``None`` before anything is made) in every other case: starting an
instance whose token comes to rest at a user task or opens the tasks of a parallel
multi-instance user task (:func:`begin`), counting one instance of a parallel
multi-instance task (:func:`count_instance`), completing its body
(:func:`finish_body`) and passing a token on to the next task or end event
(:func:`pass_on`). ``tests/engine/test_shortcuts.py`` compares them with the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from bpm_process.engine.errors import (
    ExpressionFailed,
    InvalidCommand,
    InvalidState,
    NoPathFound,
    StepLimitExceeded,
)
from bpm_process.engine.events import (
    CallActivityCancelled,
    CallActivityStarted,
    ErrorUnhandled,
    EscalationUnhandled,
    Event,
    EventTriggered,
    InstanceCompleted,
    InstanceRejected,
    InstanceTerminated,
    MessageThrown,
    SignalThrown,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskSpec,
    TokenMoved,
    WorkCancelled,
    WorkCreated,
    approval_decided,
)
from bpm_process.engine.graph import (
    BOUNDARY_EVENT,
    CALL_ACTIVITY,
    CATCH_EVENT,
    END_EVENT,
    ERROR,
    ESCALATION,
    EVENT_GATEWAY,
    EVENT_SUB_PROCESS,
    EXCLUSIVE_GATEWAY,
    FLOW_THROUGH,
    INCLUSIVE_GATEWAY,
    MESSAGE,
    PARALLEL_GATEWAY,
    RECEIVE_TASK,
    SIGNAL,
    START_EVENT,
    SUB_PROCESS,
    TERMINATE_END_EVENT,
    THROW_EVENT,
    TIMER,
    USER_TASK,
    WORK_TASK,
    Flow,
    Node,
    ProcessGraph,
    VariableMapping,
)
from bpm_process.engine.state import (
    ACTIVE,
    COMPLETED,
    EVENT_SCOPE,
    INSTANCE_SCOPE,
    MI_SCOPE,
    REJECTED,
    ROOT_SCOPE,
    SUB_SCOPE,
    TERMINATED,
    InstanceState,
    Job,
    Scope,
    Signer,
    Subscription,
    Token,
    Work,
    clone_variables,
    copy_dict,
    encode_value,
)
from bpm_process.expressions import Expression, ExpressionError, as_bool, to_text

__all__ = [
    "MAX_STEPS",
    "MAX_VALUE_BYTES",
    "MAX_VARIABLES_BYTES",
    "OUTCOME_VARIABLE",
    "NewId",
    "Result",
    "Run",
]

NewId = Callable[[], object]
"""Makes a new unique id (uuid7 in production, a counter in tests); ``str()`` of its
result is used."""

MAX_STEPS = 10_000
"""Most node visits one command may make; more means a loop without a wait state."""
#: the longest topic, process key or business key, and message or signal name or
#: correlation key, that an expression may give (what the runtime stores)
MAX_KEY_CHARS = 255
MAX_NAME_CHARS = 500
MAX_VALUE_BYTES = 256 * 1024
"""Largest serialised size of one variable value."""
MAX_VARIABLES_BYTES = 1024 * 1024
"""Largest serialised size of all variables of an instance (every scope)."""
OUTCOME_VARIABLE = "outcome"
"""Task-local variable of a multi-instance approval instance: ``approve``/``reject``."""

APPROVE = "approve"
REJECT = "reject"
APPROVED = "approved"
NO_VOTE = "no_vote"
"""The outcome of a multi-instance approval's instance that an administrator skipped or
cancelled, or whose added signer was removed: it is not a vote, and the approval is
decided among the other instances (counted in ``nrOfSkipped``)."""

_INSTANCE_COMPLETED = InstanceCompleted()
_new = tuple.__new__
"""Builds the named tuples made on every command from all their fields
(``_new(Token, (...))``): it skips the generated ``__new__``, the slow part of
constructing a named tuple."""
_NO_VARIABLES: Mapping[str, Any] = MappingProxyType({})
_COUNTED = frozenset({SUB_SCOPE, EVENT_SCOPE})
_NO_OUTCOMES: Mapping[str, str] = MappingProxyType({})
INNER = "\x00inner"
"""Marker (``via``) of a token that runs one instance of a multi-instance activity."""
TRIGGERED = "\x00triggered"
"""Marker (``via``) of a token entering a catch event that already fired."""
PARKED = "\x00parked"
"""Marker (``via``) of a token that already left its node and is about to be moved."""
_WAITING_BEHAVIORS = frozenset(
    {CATCH_EVENT, EVENT_GATEWAY, RECEIVE_TASK, SUB_PROCESS, EVENT_SUB_PROCESS, WORK_TASK,
     CALL_ACTIVITY, USER_TASK}
)


class Result(NamedTuple):
    """What a command produced. (A named tuple: cheap to build on every command; the
    derived views below are computed when asked for.)"""

    state: InstanceState
    events: tuple[Event, ...]
    jobs: tuple[Job, ...] = ()
    """Jobs (timers) to schedule."""
    cancelled_jobs: tuple[str, ...] = ()
    """Ids of previously scheduled jobs that are no longer wanted."""
    subscriptions_opened: tuple[Subscription, ...] = ()
    """Message and signal subscriptions the runtime should index."""
    subscriptions_closed: tuple[str, ...] = ()
    """Ids of subscriptions that no longer exist."""

    @property
    def variables(self) -> dict[str, Any]:
        """All instance (root scope) variables after the command (a fresh copy)."""
        return clone_variables(self.state.variables)

    # Read after every command: a getter in C runs without a Python frame.
    status = property(attrgetter("state.status"),
                      doc="``active``, ``completed`` or ``terminated``.")

    @property
    def active_nodes(self) -> tuple[str, ...]:
        """BPMN ids of the elements where tokens wait."""
        return self.state.active_nodes

    @property
    def result(self) -> str | None:
        """``rejected`` when a rejected approval ended the instance."""
        return self.state.result


class _Live(dict[str, int]):
    """Live tokens (waiting or on the agenda) per scope. A scope's count is taken from
    the input state's tokens the first time it is needed; every change after that is
    relative, so counting lazily gives the same numbers as counting up front. (Made
    empty, then ``source`` is set: cheaper than an ``__init__`` of its own.)"""

    __slots__ = ("source",)
    source: tuple[Token, ...]

    def __missing__(self, scope: str) -> int:
        count = 0
        for token in self.source:
            if token.scope == scope:
                count += 1
        self[scope] = count
        return count


class Changes:
    """The jobs and subscriptions a command scheduled and dropped; most commands have
    none, so a run makes this only when the first one comes."""

    __slots__ = ("closed_subs", "new_jobs", "opened_subs", "removed_jobs")

    def __init__(self) -> None:
        self.new_jobs: list[Job] = []
        self.removed_jobs: list[str] = []
        self.opened_subs: list[Subscription] = []
        self.closed_subs: list[str] = []

    def net(self) -> tuple[tuple[Job, ...], tuple[str, ...], tuple[Subscription, ...],
                           tuple[str, ...]]:
        """Jobs to schedule, jobs to drop, subscriptions opened and closed: what was
        both made and dropped in the same command is left out of both."""
        closed_ids = set(self.closed_subs)
        opened = tuple(sub for sub in self.opened_subs if sub.id not in closed_ids)
        opened_ids = {sub.id for sub in self.opened_subs}
        closed = tuple(sub_id for sub_id in self.closed_subs if sub_id not in opened_ids)
        new_job_ids = {job.id for job in self.new_jobs}
        removed_ids = set(self.removed_jobs)
        jobs = tuple(job for job in self.new_jobs if job.id not in removed_ids)
        cancelled = tuple(job_id for job_id in self.removed_jobs if job_id not in new_job_ids)
        return jobs, cancelled, opened, closed


class Run:
    """The mutable working copy of one command."""

    __slots__ = (
        "_contexts", "agenda", "changes", "completed", "events", "graph", "initiator",
        "jobs", "live", "new_id", "nodes", "now", "outcomes", "own_variables",
        "result_value", "scopes", "signers", "status", "steps", "sub_scopes", "subs",
        "tokens", "variables", "variables_changed", "works",
    )

    def __init__(self, graph: ProcessGraph, state: InstanceState | None, now: datetime,
                 new_id: NewId, variables: Mapping[str, Any] | None = None,
                 initiator: str | None = None, scopes: dict[str, Scope] | None = None) -> None:
        """A working copy of ``state`` (``None`` for a new instance with ``variables``
        and ``initiator``); ``scopes`` is the state's scopes by id when the caller has
        already indexed them (:func:`scope_index`), the run then owns that dict.
        Commands pass the arguments by position: a class called with keywords is
        noticeably slower to make."""
        self.graph = graph
        self.nodes = graph.nodes
        self.now = now
        self.new_id = new_id
        self.events: list[Event] = []
        self.agenda: list[tuple[str, str, Node, str | None]] = []
        self.steps = 0
        self._contexts: dict[str, dict[str, Any]] | None = None
        """Contexts of the scopes expressions were evaluated in (made on first use)."""
        self.changes: Changes | None = None
        self.outcomes: dict[str, str] | None = None
        """Outcomes of multi-instance instances that end in this command."""
        self.variables_changed = False
        live = self.live = _Live()
        if state is None:
            self.status = ACTIVE
            self.tokens: list[Token] = []
            self.scopes: dict[str, Scope] = {}
            self.variables: Mapping[str, Any] = variables if variables is not None else {}
            self.own_variables = True
            self.initiator = initiator
            self.jobs: list[Job] = []
            self.subs: list[Subscription] = []
            self.works: list[Work] = []
            self.signers: list[Signer] = []
            self.completed: list[str] = []
            self.result_value: str | None = None
            self.sub_scopes = False
            """Sub-process (or event sub-process) scopes may exist: their variables
            count against the size limit."""
            live.source = ()
            return
        (_, self.status, self.variables, self.initiator, tokens, records, jobs, subs, works,
         signers, completed, self.result_value) = state
        self.tokens = list(tokens)
        self.scopes = scopes if scopes is not None else scope_index(records) if records else {}
        self.sub_scopes = bool(records)
        self.own_variables = False
        self.jobs = list(jobs) if jobs else []
        self.subs = list(subs) if subs else []
        self.works = list(works) if works else []
        self.signers = list(signers) if signers else []
        self.completed = list(completed)
        live.source = tokens

    # -- ids, variables and expressions ---------------------------------------------------

    def next_id(self) -> str:
        """A new id: ``str()`` of what ``new_id`` gives (a string stays the same
        object)."""
        return str(self.new_id())

    def context(self, scope: str = ROOT_SCOPE) -> Mapping[str, Any]:
        """Variables as expressions in ``scope`` see them: the instance variables plus
        ``initiator`` (unless a variable of that name exists), overlaid by the local
        variables of the enclosing scopes."""
        contexts = self._contexts
        if contexts is None:
            contexts = self._contexts = {}
        context = contexts.get(scope)
        if context is None:
            if scope == ROOT_SCOPE:
                variables = self.variables
                context = {"initiator": self.initiator,
                           **(variables if type(variables) is dict else copy_dict(variables))}
            else:
                record = self.scope_record(scope)
                parent = self.context(record.parent)
                local = record.variables
                context = {**parent, **copy_dict(local)} if local else dict(parent)
            contexts[scope] = context
        return context

    def lookup(self, scope: str, name: str) -> Any:
        """The value of the variable ``name`` as expressions in ``scope`` see it (``None``
        when there is none): ``context(scope).get(name)`` without building the context."""
        while scope != ROOT_SCOPE:
            record = self.scope_record(scope)
            local = record.variables
            if name in local:
                return local[name]
            scope = record.parent
        variables = self.variables
        if name in variables:
            return variables[name]
        return self.initiator if name == "initiator" else None

    def visible(self, scope: str) -> dict[str, Any]:
        """The variables visible in ``scope`` (a copy without the ``initiator`` extra)."""
        values = copy_dict(self.context(scope))
        if "initiator" not in self.variables and not any(
            "initiator" in record.variables for record in self.chain(scope)
        ):
            values.pop("initiator", None)
        return clone_variables(values)

    def chain(self, scope: str) -> Iterable[Scope]:
        while scope != ROOT_SCOPE:
            record = self.scope_record(scope)
            yield record
            scope = record.parent

    def evaluate(self, expression: Expression, scope: str, element_id: str, what: str,
                 extra: Mapping[str, Any] | None = None) -> Any:
        context = self.context(scope)
        if extra:
            context = {**context, **extra}
        try:
            return expression.evaluate(context)
        except ExpressionError as exc:
            raise ExpressionFailed(f"the {what} of {element_id!r} failed: {exc}",
                                   element_id=element_id) from None

    def text(self, expression: Expression, scope: str, element_id: str, what: str,
             extra: Mapping[str, Any] | None = None, *, limit: int | None = None) -> str | None:
        """The expression's value as text; at most ``limit`` characters (what the runtime
        can store for a topic, a message name or key, a business key)."""
        value = self.evaluate(expression, scope, element_id, what, extra)
        if value is None:
            return None
        try:
            text = value if isinstance(value, str) else to_text(value)
        except ExpressionError as exc:
            raise ExpressionFailed(f"the {what} of {element_id!r} failed: {exc}",
                                   element_id=element_id) from None
        if limit is not None and len(text) > limit:
            raise ExpressionFailed(
                f"the {what} of {element_id!r} is {len(text)} characters long; at most {limit} "
                "are allowed", element_id=element_id)
        return text

    def assign(self, scope: str, values: Mapping[str, Any], *, checked: bool = True) -> None:
        """Set variables from ``scope``: a name that exists in an enclosing scope is set
        there; a new name becomes local to ``scope`` (the instance for the root).

        ``checked`` values (anything that comes from outside or from the model's
        expressions) count against the size limits; the engine's own small values
        (outcomes) do not."""
        for name, value in values.items():
            if checked:
                check_value_size(name, value)
            target = self.owner_scope(scope, name)
            self.put(target, name, value, checked=checked)

    def owner_scope(self, scope: str, name: str) -> str:
        current = scope
        while current != ROOT_SCOPE:
            record = self.scope_record(current)
            # a body's counters are the engine's: a value of the same name (a called
            # process handing all its variables back) never overwrites them
            if name in record.variables and record.kind != MI_SCOPE:
                return current
            current = record.parent
        if name in self.variables:
            return ROOT_SCOPE
        # Multi-instance bodies hold only the engine's counters: a new variable of an
        # instance is local to the instance, never to the body.
        return scope

    def put(self, scope: str, name: str, value: Any, *, checked: bool = True) -> None:
        if checked:
            self.variables_changed = True
        if self._contexts:
            self._contexts.clear()
        if scope == ROOT_SCOPE:
            if not self.own_variables:
                self.variables = copy_dict(self.variables)
                self.own_variables = True
            self.variables[name] = value  # type: ignore[index]
            return
        record = self.scope_record(scope)
        local = copy_dict(record.variables)
        local[name] = value
        self.scopes[scope] = record._replace(variables=MappingProxyType(local))

    def mapped(self, mappings: tuple[VariableMapping, ...], scope: str, element_id: str,
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Evaluate variable mappings; ``extra`` (results, payloads) overlays the
        variables of ``scope``."""
        result: dict[str, Any] = {}
        for mapping in mappings:
            result[mapping.target] = plain(self.evaluate(
                mapping.source, scope, element_id, f"mapping to {mapping.target!r}", extra))
        return result

    def set_outputs(self, node: Node, scope: str, values: Mapping[str, Any]) -> None:
        """Store what a task returned: through its output mappings if it has any,
        otherwise as they are."""
        io = node.io
        if io is not None and io.outputs:
            self.assign(scope, self.mapped(io.outputs, scope, node.id, values))
        elif values:
            self.assign(scope, values)

    def input_context(self, node: Node, scope: str) -> Mapping[str, Any] | None:
        io = node.io
        if io is None or not io.inputs:
            return None
        return {**self.context(scope), **self.mapped(io.inputs, scope, node.id)}

    # -- results ---------------------------------------------------------------------------

    def result(self) -> Result:
        """The new state and what the command produced."""
        variables = self.variables
        scopes = self.scopes
        if self.variables_changed:
            check_total_size(variables, scopes.values() if self.sub_scopes else ())
        state = _new(InstanceState, (
            self.graph.id, self.status,
            MappingProxyType(variables) if self.own_variables else variables, self.initiator,
            tuple(self.tokens), tuple(scopes.values()) if scopes else (),
            tuple(self.jobs) if self.jobs else (), tuple(self.subs) if self.subs else (),
            tuple(self.works) if self.works else (),
            tuple(self.signers) if self.signers else (), tuple(self.completed),
            self.result_value,
        ))
        changes = self.changes
        if changes is None:
            return _new(Result, (state, tuple(self.events), (), (), (), ()))  # type: ignore[no-any-return]
        return Result(state, tuple(self.events), *changes.net())

    def changed(self) -> Changes:
        """The jobs and subscriptions scheduled and dropped so far (made on first use)."""
        changes = self.changes
        if changes is None:
            changes = self.changes = Changes()
        return changes

    # -- lookups ---------------------------------------------------------------------------

    def scope_record(self, scope: str) -> Scope:
        record = self.scopes.get(scope)
        if record is None:
            raise InvalidState(f"the instance has no scope {scope!r}")
        return record

    def token(self, token_id: str, scope: str) -> Token:
        for token in self.tokens:
            if token.id == token_id and token.scope == scope:
                return token
        raise InvalidState(f"the instance has no token {token_id!r} in scope {scope!r}")

    def container(self, scope: str) -> str | None:
        """The BPMN id of the process or sub-process whose nodes tokens of ``scope``
        stand on (``None`` for a multi-instance body, which has no tokens)."""
        if scope == ROOT_SCOPE:
            return self.graph.id
        record = self.scope_record(scope)
        if record.kind in (SUB_SCOPE, EVENT_SCOPE):
            return record.node
        if record.kind == INSTANCE_SCOPE:
            return self.container(self.scope_record(record.parent).parent)
        return None

    def is_instance(self, scope: str, node: Node) -> bool:
        """True when ``scope`` is one instance of the multi-instance ``node``."""
        record = self.scopes.get(scope)
        return record is not None and record.kind == INSTANCE_SCOPE and record.node == node.id

    def record_completed(self, node: Node, scope: str) -> None:
        """A token left ``node`` normally: its ``activity_completed`` record, then the
        copies the node sends (``bpm:copyTo``, RACI informed). A multi-instance node
        sends them once, when the whole node completes, not for each instance."""
        self.events.append(node.completed)
        if node.copies:
            self.send_copies(node, scope)

    def send_copies(self, node: Node, scope: str) -> None:
        """The copy records of ``node`` after its ``activity_completed`` (not for one
        instance of a multi-instance node)."""
        if not (node.loop is not None and self.is_instance(scope, node)):
            self.events.extend(node.copies)

    def mark_completed(self, node_id: str) -> None:
        completed = self.completed
        if node_id in completed:
            completed.remove(node_id)
        completed.append(node_id)

    # -- the agenda ------------------------------------------------------------------------

    def work(self) -> None:
        """Move every token on the agenda until it waits or ends; then fire inclusive
        joins that no other token can reach, and go on until nothing moves."""
        while True:
            self.drain()
            if self.status != ACTIVE or not self.graph.inclusive_upstream \
                    or not self.fire_inclusive_join():
                return

    def drain(self) -> None:
        agenda = self.agenda
        events = self.events
        nodes = self.nodes
        while agenda:
            token_id, scope, node, via = agenda.pop()
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise too_many_steps(node)
            behavior = node.behavior
            if node.loop is not None and via != INNER:
                self.enter_multi_instance(token_id, scope, node)
            elif behavior == USER_TASK:
                self.create_task(token_id, scope, node, via)
            elif behavior == EXCLUSIVE_GATEWAY:
                events.append(node.started)
                flow = self.choose(node, scope)
                events.append(node.completed)  # record_completed, inlined
                if node.copies:
                    self.send_copies(node, scope)
                agenda.append((token_id, scope, nodes[flow.target], flow.id))
            elif behavior == FLOW_THROUGH or behavior == START_EVENT \
                    or behavior == BOUNDARY_EVENT:
                events.append(node.started)
                events.append(node.completed)  # record_completed, inlined
                if node.copies:
                    self.send_copies(node, scope)
                flow = node.exit
                if flow is not None and node.loop is None:  # leave, inlined
                    agenda.append((token_id, scope, nodes[flow.target], flow.id))
                else:
                    self.leave(token_id, scope, node)
            elif behavior == PARALLEL_GATEWAY:
                if node.joins and not self.join(token_id, scope, node, via):
                    continue
                events.append(node.started)
                self.record_completed(node, scope)
                self.leave(token_id, scope, node)
            elif behavior == END_EVENT:
                if node.trigger is None:  # end_event, inlined
                    events.append(node.started)
                    events.append(node.completed)
                    if node.copies:
                        self.send_copies(node, scope)
                    self.token_ended(scope)
                else:
                    self.end_event(token_id, scope, node)
            elif behavior == INCLUSIVE_GATEWAY:
                if node.joins:
                    self.tokens.append(_new(Token, (token_id, node.id, scope, None, via, None, None)))
                    continue
                events.append(node.started)
                self.record_completed(node, scope)
                self.leave(token_id, scope, node)
            elif behavior == SUB_PROCESS:
                self.enter_sub_process(token_id, scope, node, via)
            elif behavior == WORK_TASK:
                self.create_work(token_id, scope, node, via)
            elif behavior == CATCH_EVENT or behavior == RECEIVE_TASK:
                self.catch(token_id, scope, node, via)
            elif behavior == THROW_EVENT:
                self.throw_event(token_id, scope, node)
            elif behavior == EVENT_GATEWAY:
                events.append(node.started)
                self.tokens.append(_new(Token, (token_id, node.id, scope, None, None, None, None)))
                for target in node.targets:
                    self.arm(nodes[target], token_id, scope)
            elif behavior == CALL_ACTIVITY:
                self.start_call(token_id, scope, node, via)
            elif behavior == TERMINATE_END_EVENT:
                self.terminate(scope, node)
            else:  # pragma: no cover - the compiler only produces the behaviours above
                raise InvalidState(f"unknown behaviour {behavior!r} of {node.id!r}")
            if self.status != ACTIVE:
                agenda.clear()

    # -- waiting ---------------------------------------------------------------------------

    def create_task(self, token_id: str, scope: str, node: Node, via: str | None,
                    *, assignee: str | None = None, signer: bool = False,
                    group: str | None = None, arm: bool = True) -> str:
        definition = node.task
        if definition is None:  # pragma: no cover - the compiler always sets it
            raise InvalidState(f"the user task {node.id!r} has no definition")
        events = self.events
        events.append(node.started)
        task_id = str(self.new_id())
        if definition.constant:
            spec = definition.create(task_id, node.id, node.name, self.now, None)
        elif definition.assignee_variable is not None and (node.io is None or not node.io.inputs):
            spec = definition.create_assigned(task_id, node.id, node.name, self.now,
                                              self.lookup(scope, definition.assignee_variable))
        else:
            context = self.input_context(node, scope) or self.context(scope)
            spec = definition.create(task_id, node.id, node.name, self.now, context)
        if signer or assignee is not None:
            # a named signer (or the original assignee after a "before" signer) is the
            # assignee: the node's bpm:assignment rules do not apply to their task
            spec = spec._replace(assignee=assignee,
                                 candidate_users=() if signer else spec.candidate_users,
                                 candidate_groups=() if signer else spec.candidate_groups,
                                 assignment_rules=())
        self.tokens.append(_new(Token, (token_id, node.id, scope, task_id, None, None, group)))
        events.append(_new(TaskCreated, (spec,)))
        if arm and node.armed and via != INNER:
            self.arm_boundaries(token_id, scope, node)
        return task_id

    def enter_sub_process(self, token_id: str, scope: str, node: Node, via: str | None) -> None:
        self.events.append(node.started)
        child = self.next_id()
        io = node.io
        local: dict[str, Any] = {}
        if io is not None and io.inputs:
            local = self.mapped(io.inputs, scope, node.id)
        self.sub_scopes = True
        self.scopes[child] = Scope(child, node.id, scope, token_id, SUB_SCOPE,
                                   MappingProxyType(local) if local else _NO_VARIABLES)
        self.tokens.append(Token(token_id, node.id, scope))
        self.live[child] = 1
        if node.armed and via != INNER:
            self.arm_boundaries(token_id, scope, node)
        self.arm_scope(child, node.id)
        start_node = self.nodes[node.start or ""]
        self.agenda.append((self.next_id(), child, start_node, None))

    def catch(self, token_id: str, scope: str, node: Node, via: str | None) -> None:
        """An intermediate catch event or receive task: wait for the trigger (or go on
        when it already fired behind an event-based gateway)."""
        self.events.append(node.started)
        if via == TRIGGERED:
            if node.behavior == RECEIVE_TASK:
                self.mark_completed(node.id)
            self.record_completed(node, scope)
            self.leave(token_id, scope, node)
            return
        self.tokens.append(Token(token_id, node.id, scope))
        self.arm(node, token_id, scope)
        if node.armed and via != INNER:
            self.arm_boundaries(token_id, scope, node)

    def create_work(self, token_id: str, scope: str, node: Node, via: str | None,
                    *, work_id: str | None = None, retries: int | None = None) -> None:
        definition = node.work
        if definition is None:  # pragma: no cover - the compiler always sets it
            raise InvalidState(f"the task {node.id!r} has no work definition")
        if work_id is None:
            self.events.append(node.started)
            work_id = self.next_id()
            self.tokens.append(Token(token_id, node.id, scope, None, None, work_id))
            self.works.append(Work(work_id, definition.kind, node.id, token_id, scope,
                                   definition.retries))
            if node.armed and via != INNER:
                self.arm_boundaries(token_id, scope, node)
        io = node.io
        variables = self.mapped(io.inputs, scope, node.id) if io is not None and io.inputs \
            else self.visible(scope)
        topic = None
        request = None
        if definition.topic is not None:
            topic = self.text(definition.topic, scope, node.id, "topic", limit=MAX_KEY_CHARS)
        http = definition.http
        if http is not None:
            body = None
            if http.body is not None:
                body = plain(self.evaluate(http.body, scope, node.id, "body"))
            request = {
                "method": (self.text(http.method, scope, node.id, "method") or "GET").upper(),
                "url": self.text(http.url, scope, node.id, "url"),
                "headers": {name: self.text(value, scope, node.id, f"header {name!r}") or ""
                            for name, value in http.headers},
                "body": body,
            }
        priority = None
        if definition.priority is not None:
            value = self.evaluate(definition.priority, scope, node.id, "priority")
            priority = whole_number(value, node.id, "priority") if value is not None else None
        timeout = definition.timeout or (http.timeout if http is not None else None)
        self.events.append(WorkCreated(
            work_id, node.id, node.name, definition.kind, topic, request, variables,
            definition.retries if retries is None else retries, definition.retry_backoff,
            timeout, priority, dict(definition.headers),
        ))

    def start_call(self, token_id: str, scope: str, node: Node, via: str | None) -> None:
        call = node.call
        if call is None:  # pragma: no cover - the compiler always sets it
            raise InvalidState(f"the call activity {node.id!r} has no definition")
        self.events.append(node.started)
        call_id = self.next_id()
        called = self.text(call.called_element, scope, node.id, "called element", limit=MAX_KEY_CHARS)
        if not called:
            raise ExpressionFailed(f"the called element of {node.id!r} is empty",
                                   element_id=node.id)
        variables = self.visible(scope) if call.all_inputs else {}
        variables.update(self.mapped(call.inputs, scope, node.id))
        business_key = None
        if call.business_key is not None:
            business_key = self.text(call.business_key, scope, node.id, "business key",
                                     limit=MAX_KEY_CHARS)
        self.tokens.append(Token(token_id, node.id, scope, None, None, call_id))
        self.works.append(Work(call_id, "call", node.id, token_id, scope))
        version = self.text(call.version, scope, node.id, "called version", limit=MAX_KEY_CHARS) \
            if call.version is not None else None
        self.events.append(CallActivityStarted(call_id, node.id, called, call.binding,
                                               version, call.version_tag, variables,
                                               business_key, call.inherit_business_key))
        if node.armed and via != INNER:
            self.arm_boundaries(token_id, scope, node)

    # -- jobs and subscriptions ------------------------------------------------------------

    def arm_boundaries(self, token_id: str, scope: str, node: Node) -> None:
        nodes = self.nodes
        for boundary_id in node.boundaries:
            boundary = nodes[boundary_id]
            trigger = boundary.trigger
            if trigger is not None and trigger.kind in (TIMER, MESSAGE, SIGNAL):
                self.arm(boundary, token_id, scope)

    def arm_scope(self, scope: str, container: str) -> None:
        """Open the subscriptions and timers of the event sub-processes of a scope."""
        starts = self.graph.armed_event_subprocesses.get(container)
        if starts:
            for start_id in starts:
                self.arm(self.nodes[start_id], "", scope)

    def arm(self, event: Node, token_id: str, scope: str) -> None:
        """A job or subscription for the trigger of ``event``, owned by a token (or, with
        an empty ``token_id``, by the scope)."""
        trigger = event.trigger
        if trigger is None:  # pragma: no cover - the compiler guarantees a trigger
            return
        if trigger.kind == TIMER and trigger.timer is not None:
            definition = trigger.timer.resolve(self.context(scope), event.id)
            due = definition.first_due(self.now)
            if due is None:
                return
            cycle = definition.text if definition.cycle is not None else None
            job = Job(self.next_id(), TIMER, event.id, token_id, scope, due, cycle, 0)
            self.jobs.append(job)
            self.changed().new_jobs.append(job)
            return
        name = self.text(trigger.name, scope, event.id, f"{trigger.kind} name",
                         limit=MAX_NAME_CHARS) if trigger.name is not None else None
        if not name:
            raise ExpressionFailed(f"the {trigger.kind} name of {event.id!r} is empty",
                                   element_id=event.id)
        key = None
        if trigger.correlation_key is not None:
            key = self.text(trigger.correlation_key, scope, event.id, "correlation key",
                            limit=MAX_NAME_CHARS)
        sub = Subscription(self.next_id(), trigger.kind, name, event.id, token_id, scope, key)
        self.subs.append(sub)
        self.changed().opened_subs.append(sub)

    def disarm(self, token_id: str, scope: str) -> None:
        """Remove the jobs and subscriptions owned by a token (or, with an empty
        ``token_id``, by a scope)."""
        if self.jobs:
            kept = []
            for job in self.jobs:
                if job.token == token_id and job.scope == scope:
                    self.changed().removed_jobs.append(job.id)
                else:
                    kept.append(job)
            self.jobs = kept
        if self.subs:
            kept_subs = []
            for sub in self.subs:
                if sub.token == token_id and sub.scope == scope:
                    self.changed().closed_subs.append(sub.id)
                else:
                    kept_subs.append(sub)
            self.subs = kept_subs

    def release(self, token: Token) -> None:
        """A waiting token goes on (or ends): remove it and what it owned."""
        self.tokens.remove(token)
        if self.jobs or self.subs:
            self.disarm(token.id, token.scope)

    # -- triggers ----------------------------------------------------------------------------

    def fire(self, event: Node, token_id: str, scope: str, trigger: str, name: str | None,
             variables: Mapping[str, Any]) -> None:
        """A timer, message or signal arrived for ``event`` (owned by ``token_id`` in
        ``scope``; an empty token id means an event sub-process start)."""
        if token_id == "":
            self.trigger_event_sub_process(scope, event, trigger, name, variables)
            return
        token = self.token(token_id, scope)
        host = self.nodes[token.node]
        if event.behavior == BOUNDARY_EVENT:
            self.events.append(EventTriggered(event.id, trigger, name))
            if variables:
                self.assign(scope, variables)
            self.boundary(token, event)
            return
        self.release(token)
        if variables:
            self.set_outputs(event, scope, variables)
        self.events.append(EventTriggered(event.id, trigger, name))
        if host.behavior == EVENT_GATEWAY:
            self.record_completed(host, scope)
            self.agenda.append((token.id, scope, event, TRIGGERED))
            return
        if event.behavior == RECEIVE_TASK:
            self.mark_completed(event.id)
        self.record_completed(event, scope)
        self.leave(token.id, scope, event)

    def boundary(self, host: Token, event: Node) -> None:
        """Take the boundary ``event`` of the activity where ``host`` waits."""
        scope = host.scope
        if event.interrupting:
            removed = self.cancel_token(host, "interrupted")
            self.drop_agenda(removed)
        self.live[scope] += 1
        self.agenda.append((self.next_id(), scope, event, None))

    def trigger_event_sub_process(self, scope: str, start: Node, trigger: str,
                                  name: str | None, variables: Mapping[str, Any]) -> None:
        """Start an instance of the event sub-process whose start event is ``start`` in
        ``scope``; an interrupting one first cancels everything else in the scope."""
        esp = self.nodes[start.scope]
        if start.interrupting:
            removed = self.cancel_scope_contents(scope, "interrupted")
            self.drop_agenda(removed)
            self.disarm("", scope)
        self.events.append(EventTriggered(start.id, trigger, name))
        if variables:
            self.assign(scope, variables)
        host_id = self.next_id()
        self.tokens.append(Token(host_id, esp.id, scope))
        self.live[scope] += 1
        self.events.append(esp.started)
        child = self.next_id()
        self.sub_scopes = True
        self.scopes[child] = Scope(child, esp.id, scope, host_id, EVENT_SCOPE)
        self.live[child] = 1
        self.arm_scope(child, esp.id)
        self.agenda.append((self.next_id(), child, start, None))

    # -- errors and escalations ------------------------------------------------------------

    def throw_error(self, scope: str, code: str | None, message: str | None, origin: Node,
                    waiting: Token | None = None) -> None:
        """Route a BPMN error thrown in ``scope`` (by an end event) or by the activity
        where ``waiting`` waits, to the innermost catching boundary event or event
        sub-process; uncaught, it terminates the instance."""
        variables_for = _error_variables
        if waiting is not None and not self.is_instance(waiting.scope, origin):
            boundary = self.find_boundary(origin, ERROR, code)
            if boundary is not None:
                self.events.append(EventTriggered(boundary.id, ERROR, code))
                self.assign(waiting.scope, variables_for(boundary, code, message))
                self.boundary(waiting, boundary)
                return
        current = scope
        left: str | None = None  # the event sub-process the error climbed out of
        while True:
            record = self.scopes.get(current)
            if record is None or record.kind in (SUB_SCOPE, EVENT_SCOPE):
                container = self.graph.id if record is None else record.node
                start = self.find_event_start(container, ERROR, code, left)
                if start is not None:
                    self.trigger_event_sub_process(current, start, ERROR, code,
                                                   variables_for(start, code, message))
                    return
            if record is None:
                self.unhandled_error(origin, code, message)
                return
            if self.catches_at(record):
                boundary = self.find_boundary(self.nodes[record.node], ERROR, code)
                if boundary is not None:
                    host = self.token(record.token, record.parent)
                    self.events.append(EventTriggered(boundary.id, ERROR, code))
                    self.assign(record.parent, variables_for(boundary, code, message))
                    self.boundary(host, boundary)
                    return
            left = record.node if record.kind == EVENT_SCOPE else None
            current = record.parent

    def escalate_from(self, waiting: Token, origin: Node, code: str | None) -> bool:
        """Route an escalation raised by the activity ``origin`` where ``waiting`` waits (a
        call activity whose called instance escalated): its own boundary events first, then
        as thrown in its scope. True when the activity was interrupted."""
        if not self.is_instance(waiting.scope, origin):
            boundary = self.find_boundary(origin, ESCALATION, code)
            if boundary is not None:
                self.events.append(EventTriggered(boundary.id, ESCALATION, code))
                variables = _error_variables(boundary, code, None)
                if variables:
                    self.assign(waiting.scope, variables)
                self.boundary(waiting, boundary)
                return boundary.interrupting
        return self.throw_escalation(waiting.scope, code, origin)

    def throw_escalation(self, scope: str, code: str | None, origin: Node) -> bool:
        """Route an escalation thrown by ``origin``; True when the thrower was interrupted
        (its scope or an enclosing one was cancelled). An uncaught escalation changes
        nothing but is recorded (a calling instance may catch it)."""
        current = scope
        left: str | None = None  # the event sub-process the escalation climbed out of
        while True:
            record = self.scopes.get(current)
            if record is None or record.kind in (SUB_SCOPE, EVENT_SCOPE):
                container = self.graph.id if record is None else record.node
                start = self.find_event_start(container, ESCALATION, code, left)
                if start is not None:
                    variables = _error_variables(start, code, None)
                    self.trigger_event_sub_process(current, start, ESCALATION, code, variables)
                    return start.interrupting
            if record is None:
                self.events.append(EscalationUnhandled(origin.id, code))
                return False
            if self.catches_at(record):
                boundary = self.find_boundary(self.nodes[record.node], ESCALATION, code)
                if boundary is not None:
                    host = self.token(record.token, record.parent)
                    self.events.append(EventTriggered(boundary.id, ESCALATION, code))
                    variables = _error_variables(boundary, code, None)
                    if variables:
                        self.assign(record.parent, variables)
                    self.boundary(host, boundary)
                    return boundary.interrupting
            left = record.node if record.kind == EVENT_SCOPE else None
            current = record.parent

    def catches_at(self, record: Scope) -> bool:
        """Boundary events of the activity hosting ``record`` apply (not for the
        sub-process of one multi-instance instance: they belong to the whole body)."""
        if record.kind == MI_SCOPE:
            return True
        if record.kind != SUB_SCOPE:
            return False
        parent = self.scopes.get(record.parent)
        return parent is None or parent.kind != INSTANCE_SCOPE or parent.node != record.node

    def find_boundary(self, host: Node, kind: str, code: str | None) -> Node | None:
        catch_all = None
        for boundary_id in host.boundaries:
            boundary = self.nodes[boundary_id]
            trigger = boundary.trigger
            if trigger is None or trigger.kind != kind:
                continue
            if trigger.code is None:
                catch_all = catch_all or boundary
            elif trigger.code == code:
                return boundary
        return catch_all

    def find_event_start(self, container: str, kind: str, code: str | None,
                         exclude: str | None = None) -> Node | None:
        """The start event of the event sub-process of ``container`` that catches ``kind``
        with ``code`` (one for the code before a catch-all), other than ``exclude``'s: an
        event sub-process does not catch what it throws itself."""
        catch_all = None
        for start_id in self.graph.event_subprocesses.get(container, ()):
            start = self.nodes[start_id]
            trigger = start.trigger
            if trigger is None or trigger.kind != kind or start.scope == exclude:
                continue
            if trigger.code is None:
                catch_all = catch_all or start
            elif trigger.code == code:
                return start
        return catch_all

    def unhandled_error(self, origin: Node, code: str | None, message: str | None) -> None:
        self.events.append(ErrorUnhandled(origin.id, code, message))
        self.end_instance(TERMINATED, "error")
        self.events.append(InstanceTerminated(origin.id, "error_unhandled"))

    # -- events that throw ---------------------------------------------------------------------

    def end_event(self, token_id: str, scope: str, node: Node) -> None:
        events = self.events
        events.append(node.started)
        trigger = node.trigger
        if trigger is not None:
            kind = trigger.kind
            if kind == ERROR:
                self.record_completed(node, scope)
                self.throw_error(scope, trigger.code, None, node)
                return
            if kind == ESCALATION:
                self.record_completed(node, scope)
                if not self.throw_escalation(scope, trigger.code, node):
                    self.token_ended(scope)
                return
            self.send(node, scope, kind)
        self.record_completed(node, scope)
        self.token_ended(scope)

    def throw_event(self, token_id: str, scope: str, node: Node) -> None:
        self.events.append(node.started)
        trigger = node.trigger
        if trigger is not None and trigger.kind == ESCALATION:
            self.record_completed(node, scope)
            if not self.throw_escalation(scope, trigger.code, node):
                self.leave(token_id, scope, node)
            return
        if trigger is not None:
            self.send(node, scope, trigger.kind)
        self.record_completed(node, scope)
        self.leave(token_id, scope, node)

    def send(self, node: Node, scope: str, kind: str) -> None:
        trigger = node.trigger
        if trigger is None or trigger.name is None:  # pragma: no cover
            return
        name = self.text(trigger.name, scope, node.id, f"{kind} name", limit=MAX_NAME_CHARS) or ""
        io = node.io
        payload = self.mapped(io.inputs, scope, node.id) if io is not None and io.inputs \
            else self.visible(scope)
        if kind == MESSAGE:
            key = None
            if trigger.correlation_key is not None:
                key = self.text(trigger.correlation_key, scope, node.id, "correlation key",
                                limit=MAX_NAME_CHARS)
            self.events.append(MessageThrown(node.id, name, key, payload))
        elif kind == SIGNAL:
            self.events.append(SignalThrown(node.id, name, payload))

    # -- multi-instance ----------------------------------------------------------------------

    def enter_multi_instance(self, token_id: str, scope: str, node: Node) -> None:
        loop = node.loop
        if loop is None:  # pragma: no cover
            return
        self.events.append(node.started)
        items: list[Any] | None = None
        if loop.collection is not None:
            value = None
            if loop.collection_variable is not None:
                value = self.lookup(scope, loop.collection_variable)
            if type(value) is not list:  # anything else as the expression language sees it
                value = self.evaluate(loop.collection, scope, node.id, "collection")
            if value is None:
                items = []
            elif isinstance(value, (list, tuple)):
                items = list(value)
            else:
                raise ExpressionFailed(f"the collection of {node.id!r} is not a list",
                                       element_id=node.id)
            count = len(items)
        else:
            value = self.evaluate(loop.cardinality, scope, node.id, "loopCardinality") \
                if loop.cardinality is not None else 0
            count = whole_number(value, node.id, "loopCardinality")
        sequential = loop.sequential
        counters: dict[str, Any] = {
            "nrOfInstances": count,
            "nrOfCompletedInstances": 0,
            "nrOfActiveInstances": 0 if count == 0 else (1 if sequential else count),
        }
        if node.approval is not None:
            counters["nrOfApproved"] = 0
            counters["nrOfRejected"] = 0
        body = self.next_id()
        first_batch = 0 if count == 0 else (1 if sequential else count)
        data: dict[str, Any] = {"next": first_batch}
        if items is not None:
            data["items"] = items
        if loop.output_collection:
            data["results"] = [None] * count
        self.tokens.append(_new(Token, (token_id, node.id, scope, None, None, None, None)))
        self.scopes[body] = _new(Scope, (body, node.id, scope, token_id, MI_SCOPE,
                                         MappingProxyType(counters), MappingProxyType(data)))
        if node.armed:
            self.arm_boundaries(token_id, scope, node)
        if count == 0:
            self.finish_multi_instance(self.scopes[body], None)
            return
        self.start_instances(body, node, 0, first_batch, items, at_once=True)

    def start_instances(self, body: str, node: Node, first: int, stop: int,
                        items: list[Any] | None, *, at_once: bool = False) -> None:
        """A scope for each instance from ``first`` to ``stop`` (exclusive) and a token
        that runs it, on the agenda so that the first instance goes first.

        With ``at_once`` (the body was just entered from the agenda, so these tokens
        would be the next ones taken from it) the tasks of a user task are created
        right away, each counted as a step as the agenda counts it."""
        made = make_instances(body, node, first, stop, items, self.new_id, self.scopes,
                              self.live)
        if not (at_once and node.behavior == USER_TASK):
            agenda = self.agenda
            for token_id, instance, _ in reversed(made):
                agenda.append((token_id, instance, node, INNER))
            return
        if not task_without_context(node) or self.steps + len(made) > MAX_STEPS:
            for token_id, instance, _ in made:
                self.steps += 1
                if self.steps > MAX_STEPS:
                    raise too_many_steps(node)
                self.create_task(token_id, instance, node, INNER)
            return
        self.steps += len(made)  # every task is a step, all within the limit
        open_instance_tasks(made, body, node, self.now, self.new_id, self.events, self.tokens,
                            self.lookup)

    def next_instance(self, body: str, index: int) -> None:
        """Start the next instance of a sequential body."""
        record = self.scopes[body]
        node = self.nodes[record.node]
        data = copy_dict(record.data or {})
        data["next"] = index + 1
        counters = copy_dict(record.variables)
        counters["nrOfActiveInstances"] = counters.get("nrOfActiveInstances", 0) + 1
        self.scopes[body] = Scope(record.id, record.node, record.parent, record.token,
                                  MI_SCOPE, MappingProxyType(counters), MappingProxyType(data))
        if self._contexts:
            self._contexts.pop(body, None)
        self.start_instances(body, node, index, index + 1, data.get("items"))

    def add_instance(self, body: str, user: str) -> tuple[str, str]:
        """One more instance of the running parallel multi-instance user task ``body``,
        its task assigned to ``user`` (a signer added in parallel: a vote of its own).
        The collection, when there is one, gets ``user`` as its new element; returns
        the new token's id and its task's id."""
        record = self.scopes[body]
        node = self.nodes[record.node]
        counters = copy_dict(record.variables)
        index = counters["nrOfInstances"]
        counters["nrOfInstances"] = index + 1
        counters["nrOfActiveInstances"] = counters.get("nrOfActiveInstances", 0) + 1
        data = copy_dict(record.data or {})
        local: dict[str, Any] = {"loopCounter": index}
        if data.get("items") is not None:
            data["items"] = [*data["items"], user]
            if node.loop is not None and node.loop.element_variable:
                local[node.loop.element_variable] = user
        if data.get("results") is not None:
            data["results"] = [*data["results"], None]
        data["next"] = index + 1
        self.scopes[body] = Scope(record.id, record.node, record.parent, record.token, MI_SCOPE,
                                  MappingProxyType(counters), MappingProxyType(data))
        instance = self.next_id()
        self.scopes[instance] = Scope(instance, node.id, body, "", INSTANCE_SCOPE,
                                      MappingProxyType(local), None)
        self.live[instance] = 1
        if self._contexts:
            self._contexts.clear()
        token_id = self.next_id()
        task_id = self.create_task(token_id, instance, node, INNER, assignee=user, signer=True,
                                   arm=False)
        return token_id, task_id

    def without_vote(self, token: Token) -> None:
        """When ``token`` runs one instance of a multi-instance approval, that instance
        will end without a vote (an administrator skips or cancels it, or the signer
        added as it is removed)."""
        node = self.nodes.get(token.node)
        if node is not None and node.approval is not None and self.is_instance(token.scope, node):
            self.outcomes = {**(self.outcomes or {}), token.scope: NO_VOTE}

    def instance_completed(self, record: Scope) -> None:
        """One instance ended (its scope is still there): count it, then complete the
        body, start the next sequential instance, or wait."""
        node = self.nodes[record.node]
        loop = node.loop
        body = self.scope_record(record.parent)
        counters = counted(body.variables, node,
                           (self.outcomes or _NO_OUTCOMES).get(record.id)
                           or record.variables.get(OUTCOME_VARIABLE))
        data = body.data or {}
        if loop is not None and loop.output_collection and loop.output_element is not None:
            results = list(data.get("results") or [])
            index = record.variables.get("loopCounter", 0)
            if isinstance(index, int) and 0 <= index < len(results):
                results[index] = plain(self.evaluate(loop.output_element, record.id, node.id,
                                                     "outputElement"))
                data = {**copy_dict(data), "results": results}
        self.scopes[body.id] = _new(Scope, (
            body.id, body.node, body.parent, body.token, MI_SCOPE, MappingProxyType(counters),
            data if type(data) is MappingProxyType else MappingProxyType(copy_dict(data))))
        if self._contexts:
            self._contexts.clear()
        done, decided = self.multi_instance_decision(node, record, counters)
        del self.scopes[record.id]
        self.live.pop(record.id, None)
        if self.jobs or self.subs:
            self.disarm("", record.id)
        body = self.scopes[body.id]
        if done:
            self.finish_multi_instance(body, decided)
            return
        if loop is not None and loop.sequential:
            following = data.get("next", 0)
            if following < counters["nrOfInstances"]:
                self.next_instance(body.id, following)

    def multi_instance_decision(self, node: Node, instance: Scope,
                                counters: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Whether the body completes now, and with which approval outcome."""
        total = counters["nrOfInstances"]
        finished = counters["nrOfCompletedInstances"]
        decided = approval_decision(node, counters)
        if decided is not None:
            return True, decided
        loop = node.loop
        if loop is not None and loop.completion is not None:
            extra = copy_dict(counters)
            if as_bool(self.evaluate(loop.completion, instance.id, node.id,
                                     "completionCondition", extra)):
                return True, self.final_outcome(node, counters)
        if finished >= total:
            return True, self.final_outcome(node, counters)
        return False, None

    @staticmethod
    def final_outcome(node: Node, counters: Mapping[str, Any]) -> str | None:
        approval = node.approval
        if approval is None:
            return None
        total = voters(counters)
        if total <= 0:
            return APPROVED  # every signer was skipped: the node passes, as a skipped node does
        passed = _passes(approval.sign_mode, approval.pass_ratio, approval.pass_votes,
                         counters.get("nrOfApproved", 0), total)
        return APPROVED if passed else REJECTED

    def finish_multi_instance(self, body: Scope, outcome: str | None) -> None:
        """Complete a multi-instance body: cancel instances still running, publish the
        outcome and results, and move the waiting token on."""
        node = self.nodes[body.node]
        reason = "rejected" if outcome == REJECTED else "completed"
        removed: set[str] = set()
        body_id = body.id
        children: list[str] = []
        for child in self.scopes.values():
            if child.parent == body_id:
                children.append(child.id)
        for child_id in children:
            removed |= self.cancel_scope_tree(child_id, reason)
        self.drop_agenda(removed)
        del self.scopes[body.id]
        self.live.pop(body.id, None)
        host = self.token(body.token, body.parent)
        self.release(host)
        loop = node.loop
        data = body.data or {}
        if loop is not None and loop.output_collection:
            self.assign(body.parent, {loop.output_collection: list(data.get("results") or [])})
        if outcome is not None:
            self.decided(node, body.parent, outcome, body.variables)
        self.record_completed(node, body.parent)
        self.after_decision(host, node, outcome)

    def decided(self, node: Node, scope: str, outcome: str,
                counters: Mapping[str, Any]) -> None:
        name = f"{node.id}_outcome"
        self.put(self.owner_scope(scope, name), name, outcome, checked=False)  # assign
        self.events.append(approval_decided(
            node.id, outcome, counters.get("nrOfApproved", 0), counters.get("nrOfRejected", 0),
            voters(counters)))

    def after_decision(self, token: Token, node: Node, outcome: str | None) -> None:
        """Leave an approval node, or carry out its reject action."""
        approval = node.approval
        if outcome != REJECTED or approval is None or approval.reject_action is None:
            self.leave(token.id, token.scope, node)
            return
        action = approval.reject_action
        target: str | None = None
        if action == "previous":
            target = self.previous_task(node, token)
            action = "initiator" if target is None else action
        if action == "initiator":
            target = self.graph.initiator_task
        elif action.startswith("node:"):
            target = action[5:]
        if target is None:
            self.reject_end(node)
            return
        parked = Token(token.id, node.id, token.scope, None, PARKED)
        self.tokens.append(parked)
        self.jump(parked, self.nodes[target], "rejected", cancel_reason="rejected")

    def reject_end(self, node: Node) -> None:
        self.end_instance(COMPLETED, "rejected")
        self.result_value = REJECTED
        self.events.append(InstanceRejected(node.id))
        self.events.append(_INSTANCE_COMPLETED)

    def previous_task(self, node: Node, token: Token) -> str | None:
        """The user task completed most recently before ``node`` on a path that leads
        to it."""
        levels = self.levels(token)
        for candidate in reversed(self.completed):
            if candidate == node.id:
                continue
            found = self.nodes.get(candidate)
            if found is None or found.behavior != USER_TASK:
                continue
            for container, host in levels:
                if found.scope == container and host.node in self.graph.successors(candidate):
                    return candidate
        return None

    def levels(self, token: Token) -> list[tuple[str, Token]]:
        """(container, token standing for ``token`` there) from the token's own
        container out to the process."""
        result: list[tuple[str, Token]] = []
        current = token
        scope = token.scope
        while True:
            record = self.scopes.get(scope)
            if record is None or record.kind in (SUB_SCOPE, EVENT_SCOPE):
                result.append((self.graph.id if record is None else record.node, current))
            if record is None:
                return result
            if record.kind in (SUB_SCOPE, EVENT_SCOPE, MI_SCOPE):
                current = self.token(record.token, record.parent)
            scope = record.parent

    # -- moving tokens back and forth ----------------------------------------------------------

    def jump(self, token: Token, target: Node, reason: str | None, *,
             cancel_reason: str = "returned", via: str | None = None) -> None:
        """Cancel ``token`` and everything between ``target`` and it that would run twice
        or wait for ever, then put one token at ``target``.

        ``target`` may be in the token's container or an enclosing one (then the
        sub-processes and multi-instance bodies in between are cancelled). ``via``: the
        flow the new token arrives by (for a joining gateway)."""
        host = token
        scope = token.scope
        while True:
            record_ = self.scopes.get(scope)
            kind = record_.kind if record_ is not None else None
            container = self.graph.id if record_ is None else (
                record_.node if kind in (SUB_SCOPE, EVENT_SCOPE) else None)
            if container == target.scope:
                break
            if record_ is None:
                raise InvalidCommand(
                    f"{target.id!r} is not in the scope of {token.node!r} or around it",
                    element_id=target.id)
            if kind in (SUB_SCOPE, EVENT_SCOPE, MI_SCOPE):
                host = self.token(record_.token, record_.parent)
            scope = record_.parent
        region = self.graph.return_region(target.id)
        flows = self.graph.flows
        removed = self.cancel_token(host, cancel_reason)
        for other in [t for t in self.tokens if t.scope == scope]:
            if other.node in region or (
                other.via is not None and other.via in flows
                and flows[other.via].source in region
            ):
                if other in self.tokens:
                    removed |= self.cancel_token(other, cancel_reason)
        self.drop_agenda(removed)
        if host.node not in region:
            self.stand_in_arrivals(region, scope, host.node)
        # the nodes run again from ``target`` are no longer done: a later return offers
        # only what this round has passed
        self.completed = [node_id for node_id in self.completed if node_id not in region]
        self.events.append(TokenMoved(token.node, target.id, reason))
        self.live[scope] += 1
        self.agenda.append((self.next_id(), scope, target, via))

    def stand_in_arrivals(self, region: frozenset[str], scope: str, past: str) -> None:
        """A token at ``past`` goes back into one branch of a parallel block it had left
        through the block's join (``region``: what the branch runs before that join). The
        other branches were done and stay done: their arrivals at the join are put back,
        so that the join fires again once the branch redone arrives, instead of waiting
        for ever for branches nobody runs again."""
        nodes, flows = self.graph.nodes, self.graph.flows
        for member in region:
            for out in nodes[member].outgoing:
                join = nodes[out.target]
                if join.id in region or join.behavior != PARALLEL_GATEWAY or len(join.incoming) < 2:
                    continue
                if past != join.id and past not in self.graph.successors(join.id):
                    continue  # a join the token had not passed
                present = {t.via for t in self.tokens if t.node == join.id and t.scope == scope}
                for incoming in join.incoming:
                    if incoming in flows and flows[incoming].source not in region \
                            and incoming not in present:
                        self.tokens.append(_new(Token, (self.next_id(), join.id, scope, None,
                                                        incoming, None, None)))
                        self.live[scope] += 1
                        present.add(incoming)

    # -- leaving nodes ---------------------------------------------------------------------

    def leave(self, token_id: str, scope: str, node: Node) -> None:
        """Send the token out of ``node`` along the flows BPMN says to take."""
        if node.loop is not None and self.is_instance(scope, node):
            self.token_ended(scope)  # one instance of a multi-instance activity is done
            return
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
        taken: list[Flow] = []
        for flow in outgoing:
            if flow is not default and (flow.condition is None or self.test(flow, scope)):
                taken.append(flow)
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
        arrivals: list[tuple[str, str, Node, str | None]] = []
        for index, flow in enumerate(flows):
            arrivals.append(
                (token_id if index == 0 else self.next_id(), scope, nodes[flow.target], flow.id)
            )
        self.live[scope] += len(arrivals) - 1
        arrivals.reverse()
        self.agenda.extend(arrivals)

    def choose(self, node: Node, scope: str) -> Flow:
        """The flow an exclusive gateway takes: the first true condition in document
        order (a flow without condition counts as true), else the default flow."""
        default = node.default
        for flow in node.outgoing:
            if flow is default:
                continue
            if flow.condition is None or self.test(flow, scope):
                return flow
        if default is not None:
            return default
        raise NoPathFound(
            f"no outgoing sequence flow of the gateway {node.id!r} matched and it has no "
            "default flow",
            element_id=node.id,
        )

    def test(self, flow: Flow, scope: str) -> bool:
        condition = flow.condition
        if condition is None:
            return True
        quick = flow.quick
        if quick is not None:
            decided = quick.decide(self.lookup(scope, quick.variable))
            if decided is not None:
                return decided
        try:
            return as_bool(condition.evaluate(self.context(scope)))
        except ExpressionError as exc:
            raise ExpressionFailed(
                f"the condition of the sequence flow {flow.id!r} failed: {exc}",
                element_id=flow.id,
            ) from None

    def join(self, token_id: str, scope: str, node: Node, via: str | None) -> bool:
        """A token arrives at a synchronising parallel gateway. Returns True when the
        gateway fires (one token has arrived on every incoming flow); the other
        arrived tokens are consumed and the arriving token goes on."""
        node_id = node.id
        waiting: list[Token] = []
        arrived = {via}
        for token in self.tokens:
            if token.node == node_id and token.scope == scope:
                waiting.append(token)
                arrived.add(token.via)
        for flow_id in node.incoming:
            if flow_id not in arrived:
                self.tokens.append(_new(Token, (token_id, node.id, scope, None, via, None, None)))
                return False
        used = {via}
        for token in waiting:
            if token.via not in used:
                used.add(token.via)
                self.tokens.remove(token)
                self.live[scope] -= 1
        return True

    def fire_inclusive_join(self) -> bool:
        """Fire one inclusive join that has arrivals and that no other token of its
        scope can still reach; True when one fired."""
        upstream = self.graph.inclusive_upstream
        waiting: dict[tuple[str, str], list[Token]] = {}
        for token in self.tokens:
            if token.via is not None and token.node in upstream:
                waiting.setdefault((token.scope, token.node), []).append(token)
        for (scope, node_id), arrived in waiting.items():
            reach = upstream[node_id]
            if any(t.scope == scope and t.node != node_id and t.node in reach
                   for t in self.tokens) and self.held_back(scope, node_id, arrived):
                continue
            keep = arrived[0]
            used: set[str | None] = set()
            for token in arrived:
                if token.via in used:
                    continue
                used.add(token.via)
                self.tokens.remove(token)
                if token is not keep:
                    self.live[scope] -= 1
            node = self.nodes[node_id]
            self.events.append(node.started)
            self.record_completed(node, scope)
            self.leave(keep.id, scope, node)
            return True
        return False

    def held_back(self, scope: str, node_id: str, arrived: list[Token]) -> bool:
        """Whether a token of ``scope`` holds the inclusive join ``node_id`` back (BPMN
        13.4.3): one that can reach an incoming flow holding no token, and none holding
        one, without passing the join.

        Plain reachability (Camunda 7's rule) waits also for a token that can reach an
        empty flow only round a loop that also leads to a filled one: a token waiting at a
        parallel join after the inclusive join, or an outer join that the inner one's
        loop leads back to, waits for this join while it waits for them, for ever. A
        join whose every incoming flow holds a token is never held back."""
        filled = {token.via for token in arrived}
        by_flow = self.graph.inclusive_flow_upstream[node_id]
        empty = [nodes for flow, nodes in by_flow.items() if flow not in filled]
        if not empty:
            return False
        full = [nodes for flow, nodes in by_flow.items() if flow in filled]
        for token in self.tokens:
            if token.scope != scope or token.node == node_id:
                continue
            where = token.node
            if any(where in nodes for nodes in empty) and not any(where in nodes for nodes in full):
                return True
        return False

    # -- ending ------------------------------------------------------------------------------

    def token_ended(self, scope: str) -> None:
        remaining = self.live[scope] - 1
        self.live[scope] = remaining
        if remaining == 0:
            self.scope_completed(scope)

    def scope_completed(self, scope: str) -> None:
        """The last token of a scope ended: the instance completes, a multi-instance
        instance is counted, or the sub-process's waiting token goes on."""
        if scope == ROOT_SCOPE:
            self.end_instance(COMPLETED, "completed")
            self.events.append(_INSTANCE_COMPLETED)
            return
        record = self.scope_record(scope)
        if record.kind == INSTANCE_SCOPE:
            self.instance_completed(record)
            return
        node = self.nodes[record.node]
        outputs: dict[str, Any] | None = None
        if record.kind == SUB_SCOPE and node.io is not None and node.io.outputs:
            outputs = self.mapped(node.io.outputs, scope, node.id)
        del self.scopes[scope]
        del self.live[scope]
        if self.jobs or self.subs:
            self.disarm("", scope)
        if self._contexts:
            self._contexts.clear()
        parent_token = self.token(record.token, record.parent)
        self.release(parent_token)
        if outputs:
            self.assign(record.parent, outputs)
        self.record_completed(node, record.parent)
        self.leave(parent_token.id, record.parent, node)

    def end_instance(self, status: str, reason: str) -> None:
        """The instance is over: cancel what still waits, drop jobs and subscriptions."""
        if self.tokens or self.scopes:
            self.cancel_scope_contents(ROOT_SCOPE, reason)
        if self.jobs or self.subs:
            self.disarm("", ROOT_SCOPE)
            for job in self.jobs:
                self.changed().removed_jobs.append(job.id)
            for sub in self.subs:
                self.changed().closed_subs.append(sub.id)
            self.jobs = []
            self.subs = []
        if self.works:
            self.works = []
        if self.signers:
            self.signers = []
        self.status = status
        self.agenda.clear()
        self.live.clear()

    def terminate(self, scope: str, node: Node) -> None:
        """A terminate end event: cancel everything else in its scope. In the root
        scope that terminates the instance; in a sub-process, the sub-process ends
        normally."""
        self.events.append(node.started)
        if scope == ROOT_SCOPE:
            self.end_instance(TERMINATED, "terminated")
            self.record_completed(node, scope)
            self.events.append(InstanceTerminated(node.id))
            return
        removed = self.cancel_scope_contents(scope, "terminated")
        self.record_completed(node, scope)
        self.drop_agenda(removed)
        self.live[scope] = 0
        self.scope_completed(scope)

    # -- cancelling ----------------------------------------------------------------------------

    def drop_agenda(self, removed: set[str]) -> None:
        if removed and self.agenda:
            self.agenda[:] = [entry for entry in self.agenda if entry[1] not in removed]

    def cancel_scope_contents(self, scope: str, reason: str) -> set[str]:
        """Cancel every token of ``scope`` and everything nested in it; the scope
        itself stays. Returns ``scope`` and the ids of the scopes removed."""
        removed = {scope}
        for token in [t for t in self.tokens if t.scope == scope]:
            if token in self.tokens:
                removed |= self.cancel_token(token, reason)
        for child in [s for s in self.scopes.values() if s.parent == scope]:
            if child.id in self.scopes:
                removed |= self.cancel_scope_tree(child.id, reason)
        self.live[scope] = 0
        return removed

    def cancel_scope_tree(self, scope: str, reason: str) -> set[str]:
        """Cancel a scope and everything in it, and remove it."""
        removed = self.cancel_scope_contents(scope, reason)
        self.scopes.pop(scope, None)
        self.live.pop(scope, None)
        if self.jobs or self.subs:
            self.disarm("", scope)
        if self._contexts:
            self._contexts.clear()
        return removed

    def cancel_token(self, token: Token, reason: str, *, node_record: bool = True) -> set[str]:
        """Remove one waiting token, cancelling its task, work, called instance,
        sub-process or multi-instance body, timers and subscriptions. Without
        ``node_record`` no ``activity_cancelled`` is emitted for its node (the caller
        completes the node instead)."""
        node = self.nodes[token.node]
        removed: set[str] = set()
        events = self.events
        hosted = [s for s in self.scopes.values()
                  if s.token == token.id and s.parent == token.scope and s.token]
        for record in hosted:
            if record.id in self.scopes:
                removed |= self.cancel_scope_tree(record.id, reason)
        if token.task is not None:
            events.append(TaskCancelled(token.task, node.id, reason))
            if node_record:
                events.append(node.cancelled)
        elif token.work is not None:
            work = next((w for w in self.works if w.id == token.work), None)
            if work is not None:
                self.works.remove(work)
                if work.kind == "call":
                    events.append(CallActivityCancelled(work.id, node.id, reason))
                else:
                    events.append(WorkCancelled(work.id, node.id, reason))
            if node_record:
                events.append(node.cancelled)
        elif node_record and token.via is None and (
            node.behavior in _WAITING_BEHAVIORS or hosted
        ):
            events.append(node.cancelled)
        self.tokens.remove(token)
        self.live[token.scope] -= 1
        if self.jobs or self.subs:
            self.disarm(token.id, token.scope)
        if self.signers:
            self.signers = [s for s in self.signers if s.token != token.id]
        return removed


# -- helpers ---------------------------------------------------------------------------------


def counted(body_counters: Mapping[str, Any], node: Node, outcome: Any) -> dict[str, Any]:
    """The counters of a multi-instance body of ``node`` (``body_counters``, its
    variables) once one more instance has ended (an approval instance with
    ``outcome``)."""
    counters = body_counters.copy() if type(body_counters) is MappingProxyType \
        else copy_dict(body_counters)
    counters["nrOfCompletedInstances"] = counters.get("nrOfCompletedInstances", 0) + 1
    active = counters.get("nrOfActiveInstances", 1) - 1
    counters["nrOfActiveInstances"] = active if active > 0 else 0
    if node.approval is not None:
        if outcome == APPROVE:
            counters["nrOfApproved"] = counters.get("nrOfApproved", 0) + 1
        elif outcome == REJECT:
            counters["nrOfRejected"] = counters.get("nrOfRejected", 0) + 1
        elif outcome == NO_VOTE:
            counters["nrOfSkipped"] = counters.get("nrOfSkipped", 0) + 1
    return counters


def voters(counters: Mapping[str, Any]) -> int:
    """How many instances of a multi-instance approval vote: all but those skipped."""
    return counters["nrOfInstances"] - counters.get("nrOfSkipped", 0)  # type: ignore[no-any-return]


def approval_decision(node: Node, counters: Mapping[str, Any]) -> str | None:
    """``rejected`` or ``approved`` when the votes counted so far decide the approval
    ``node`` (a rejection that ends it, or enough approvals), else ``None``."""
    approval = node.approval
    if approval is None:
        return None
    total = voters(counters)
    approved = counters.get("nrOfApproved", 0)
    if counters.get("nrOfRejected", 0) and approval.reject_ends:
        return REJECTED
    if total <= 0:
        return None  # nobody left to vote: decided when the last instance ends
    if approved >= total if approval.sign_mode == "all" else _passes(
            approval.sign_mode, approval.pass_ratio, approval.pass_votes, approved, total):
        return APPROVED
    return None


def task_without_context(node: Node) -> bool:
    """The user task ``node``'s task is made without the variables' context: its
    definition is constant, or only its assignee is read, from one variable (and it
    has no input mappings). The cases ``Run.create_task`` makes directly."""
    definition = node.task
    return definition is not None and (definition.constant or (
        definition.assignee_variable is not None and (node.io is None or not node.io.inputs)))


def scope_index(scopes: tuple[Scope, ...]) -> dict[str, Scope]:
    """Scopes by id, in their order (a later one of the same id replaces the first).
    (A loop: a comprehension would make and call a function each time.)"""
    index: dict[str, Scope] = {}
    for scope in scopes:
        index[scope[0]] = scope  # Scope.id
    return index


def make_instances(body: str, node: Node, first: int, stop: int, items: list[Any] | None,
                   new_id: NewId, scopes: dict[str, Scope], live: dict[str, int] | None
                   ) -> list[tuple[str, str, dict[str, Any]]]:
    """The scopes of the instances ``first`` to ``stop`` (exclusive) of the
    multi-instance ``node`` in its body ``body``, added to ``scopes`` (and one live
    token each to ``live``). Returns the id of the token that runs each instance (drawn
    right after the scope's), the scope's id and its local variables."""
    loop = node.loop
    element = loop.element_variable if loop is not None and items is not None else None
    node_id = node.id
    made: list[tuple[str, str, dict[str, Any]]] = []
    for index in range(first, stop):
        local: dict[str, Any] = {"loopCounter": index}
        if element:
            local[element] = items[index]  # type: ignore[index]
        instance = str(new_id())
        scopes[instance] = _new(Scope, (instance, node_id, body, "", INSTANCE_SCOPE,
                                        MappingProxyType(local), None))
        if live is not None:
            live[instance] = 1
        made.append((str(new_id()), instance, local))
    return made


def open_instance_tasks(made: list[tuple[str, str, dict[str, Any]]], body: str, node: Node,
                        now: datetime, new_id: NewId, events: list[Any], tokens: list[Token],
                        lookup: Callable[[str, str], Any]) -> None:
    """The tasks of new instances (``made`` by :func:`make_instances`) of the user task
    ``node``, whose tasks are made without a context (:func:`task_without_context`):
    what ``Run.create_task`` does for each (an instance's token never arms the node's
    boundary events), with the assignee read from the instance's own variables when it
    is one of them, else ``lookup(body, name)`` (``Run.lookup``)."""
    definition = node.task
    if definition is None:  # pragma: no cover - the callers check task_without_context
        return
    node_id = node.id
    started = node.started
    name = node.name
    # create_assigned of a string assignee without a due date, written out
    variable = definition.assignee_variable
    plain = not definition.constant and definition.due_date is None
    users = definition.fixed_candidate_users
    groups = definition.fixed_candidate_groups
    tail = definition.fixed_tail
    for token_id, instance, local in made:
        events.append(started)
        task_id = str(new_id())
        if definition.constant:
            spec = definition.create(task_id, node_id, name, now, None)
        else:
            value = local[variable] if variable in local else lookup(body, variable or "")
            if plain and type(value) is str:
                spec = _new(TaskSpec, (task_id, node_id, name, value.strip() or None, users,
                                       groups, None) + tail)
            else:
                spec = definition.create_assigned(task_id, node_id, name, now, value)
        tokens.append(_new(Token, (token_id, node_id, instance, task_id, None, None, None)))
        events.append(_new(TaskCreated, (spec,)))


class BodyCompletes(NamedTuple):
    """:func:`count_instance` counted the last instance a body waited for: the body
    (with its new counters) completes with ``outcome``."""

    body: Scope
    outcome: str | None


def count_instance(graph: ProcessGraph, state: InstanceState, records: dict[str, Scope],
                   token: Token, node: Node, task_id: str, actor: str | None,
                   outcome: str | None) -> Result | BodyCompletes | None:
    """``complete_task`` for the task of one instance of a parallel multi-instance user
    task: the instance ends and is counted, as a run counts it.

    The caller has checked the command and that the instance has no signers, jobs or
    subscriptions, the graph no inclusive joins and the command no variables.

    * When the body goes on waiting for the other instances, the result: the new
      state is made directly, as a run would leave it.
    * When the body completes now, :class:`BodyCompletes`; ``records`` (the caller's
      :func:`scope_index` of the state's scopes, for the run that goes on) then has
      the new body and no longer the instance.
    * ``None`` (``records`` left as it was) when the loop is sequential, has a
      completion condition or collects output, or the task's scope is not an
      instance of ``node`` with this one token: the run does it all."""
    loop = node.loop
    if loop is None or not loop.counts_only:
        return None
    node_id = node.id
    scope = token.scope
    record = records.get(scope)
    if record is None:
        return None
    _, instance_node, parent, _, kind, local, _ = record
    if kind != INSTANCE_SCOPE or instance_node != node_id:
        return None
    body = records.get(parent)
    if body is None:
        return None
    (_, status, variables, initiator, tokens, _, _, _, works, _, completed,
     result) = state
    live = 0
    for other in tokens:
        if other.scope == scope:
            live += 1
    if live != 1:
        return None
    body_id, body_node, body_parent, body_token, _, body_counters, data = body
    counters = counted(body_counters, node, outcome or local.get(OUTCOME_VARIABLE))
    data = data or {}
    body = records[body_id] = _new(Scope, (
        body_id, body_node, body_parent, body_token, MI_SCOPE, MappingProxyType(counters),
        data if type(data) is MappingProxyType else MappingProxyType(copy_dict(data))))
    del records[scope]
    decided = approval_decision(node, counters)  # as multi_instance_decision decides
    if decided is not None:
        return _new(BodyCompletes, (body, decided))  # type: ignore[no-any-return]
    if counters["nrOfCompletedInstances"] >= counters["nrOfInstances"]:
        return _new(BodyCompletes, (body, Run.final_outcome(node, counters)))  # type: ignore[no-any-return]
    remaining = list(tokens)
    remaining.remove(token)
    done = list(completed)
    if node_id in done:
        done.remove(node_id)
    done.append(node_id)
    new_state = _new(InstanceState, (
        graph.id, status, variables, initiator, tuple(remaining), tuple(records.values()),
        (), (), tuple(works) if works else (), (), tuple(done), result,
    ))
    events = (_new(TaskCompleted, (task_id, node_id, actor, outcome)), node.completed)
    return _new(Result, (new_state, events, (), (), (), ()))  # type: ignore[no-any-return]


_MAX_HOPS = 8
"""Most exclusive gateways a token is followed through without a run."""


def next_stop(graph: ProcessGraph, node: Node, variables: Mapping[str, Any],
              initiator: str | None) -> tuple[list[Node], Node] | None:
    """Where a token leaving ``node`` in the root scope (of an instance without
    scopes) comes to rest, when finding that needs no run: along the node's single
    exit and through exclusive gateways whose conditions their quick forms decide
    (with ``variables``), to a user task made without a context or a plain end event.
    The gateways passed and that node, or ``None``. Nothing is changed."""
    flow = node.exit
    if flow is None:
        return None
    gateways: list[Node] = []
    target = graph.nodes[flow.target]
    while target.behavior == EXCLUSIVE_GATEWAY:
        if len(gateways) == _MAX_HOPS:
            return None
        gateways.append(target)
        default = target.default
        chosen = None
        for flow in target.outgoing:  # Run.choose, with quick tests only
            if flow is default:
                continue
            if flow.condition is None:
                chosen = flow
                break
            quick = flow.quick
            if quick is None:
                return None
            name = quick.variable
            decided = quick.decide(variables[name] if name in variables
                                   else initiator if name == "initiator" else None)
            if decided is None:
                return None
            if decided:
                chosen = flow
                break
        if chosen is None:
            if default is None:
                return None  # the run raises NoPathFound
            chosen = default
        target = graph.nodes[chosen.target]
    if target.behavior == USER_TASK:
        if target.loop is not None or target.armed or not task_without_context(target):
            return None
    elif target.behavior != END_EVENT or target.trigger is not None:
        return None
    return gateways, target


def arrive(gateways: list[Node], target: Node, token_id: str, tokens: tuple[Token, ...],
           remaining: list[Token], events: list[Any], variables: Mapping[str, Any],
           initiator: str | None, now: datetime, new_id: NewId) -> bool | None:
    """The token ``token_id`` passes ``gateways`` and comes to rest at ``target`` (found
    by :func:`next_stop`), as a run's agenda moves it: their records go to
    ``events`` and a new task's token to ``remaining`` (the instance's tokens
    without the ones that left; ``tokens`` are the state's). True when the instance
    completes; ``None``, before anything is made, when the run must decide."""
    definition = target.task
    live = 0
    if definition is None:  # a plain end event: the token ends, the instance with its last
        for other in tokens:
            if other.scope == ROOT_SCOPE:
                live += 1
        if live == 1 and remaining:
            return None  # tokens outside any scope: the run cancels what it can
    for gateway in gateways:
        events.append(gateway.started)
        events.append(gateway.completed)
        if gateway.copies:
            events.extend(gateway.copies)
    if definition is None:
        events.append(target.started)
        events.append(target.completed)
        if target.copies:
            events.extend(target.copies)
        if live == 1:
            events.append(_INSTANCE_COMPLETED)
            return True
        return False
    events.append(target.started)  # create_task
    new_task = str(new_id())
    if definition.constant:
        spec = definition.create(new_task, target.id, target.name, now, None)
    else:
        name = definition.assignee_variable or ""
        spec = definition.create_assigned(
            new_task, target.id, target.name, now,
            variables[name] if name in variables
            else initiator if name == "initiator" else None)  # lookup in the root scope
    remaining.append(_new(Token, (token_id, target.id, ROOT_SCOPE, new_task, None, None, None)))
    events.append(_new(TaskCreated, (spec,)))
    return False


def pass_on(graph: ProcessGraph, state: InstanceState, token: Token, node: Node,
            task_id: str, actor: str | None, outcome: str | None, now: datetime,
            new_id: NewId) -> Result | None:
    """``complete_task`` for a task whose token goes on without needing a run (see
    :func:`next_stop`): the new state is made directly, as a run would leave it (the
    same records, ids and checks).

    The caller has checked the command and that the task is not an approval or
    multi-instance task, that the instance has no scopes, jobs, subscriptions or
    signers, the graph no inclusive joins and the command no variables. ``None``
    (before anything is made) when the token goes anywhere else."""
    if token.scope != ROOT_SCOPE:
        return None
    (_, status, variables, initiator, tokens, _, _, _, works, _, completed, result) = state
    route = next_stop(graph, node, variables, initiator)
    if route is None:
        return None
    node_id = node.id
    events: list[Any] = [_new(TaskCompleted, (task_id, node_id, actor, outcome)), node.completed]
    if node.copies:
        events.extend(node.copies)
    remaining = list(tokens)
    remaining.remove(token)
    ended = arrive(*route, token.id, tokens, remaining, events, variables, initiator, now, new_id)
    if ended is None:
        return None
    return _passed_on(graph, status, ended, variables, initiator, remaining, works, completed,
                      node_id, result, events)


def begin(graph: ProcessGraph, node: Node, values: dict[str, Any], initiator: str | None,
          now: datetime, new_id: NewId) -> Result | None:
    """``start`` at the start event ``node`` when the new token needs no run: it goes
    on as :func:`pass_on` lets it to a user task, or along the start event's exit into a
    parallel multi-instance user task whose collection is a list variable with items
    and whose tasks are made without a context (the tasks are created at once, as the
    run creates them). The new state is made as a run would leave it (the same records,
    ids and checks); ``None`` (before any id is drawn) when the token goes anywhere
    else.

    The caller has made and checked ``values`` (the new instance's variables) and
    checked that the graph has no inclusive joins and no event sub-processes to arm."""
    flow = node.exit
    if flow is None:
        return None
    target = graph.nodes[flow.target]
    loop = target.loop
    scopes: dict[str, Scope] = {}
    tokens: list[Token] = []
    if loop is None:
        route = next_stop(graph, node, values, initiator)
        if route is None or route[1].task is None:
            return None  # an end event: the run ends the instance
        events: list[Any] = [node.started, node.completed, *node.copies]
        arrive(*route, str(new_id()), (), tokens, events, values, initiator, now, new_id)
    else:
        name = loop.collection_variable
        if target.behavior != USER_TASK or target.armed or loop.sequential \
                or loop.collection is None or name is None or not task_without_context(target):
            return None
        value = values[name] if name in values \
            else initiator if name == "initiator" else None  # Run.lookup in the root scope
        if type(value) is not list or not value or len(value) + 2 > MAX_STEPS:
            return None  # the run evaluates it, ends an empty body or stops at the step limit
        token_id = str(new_id())  # the token start puts on the agenda
        body = str(new_id())
        items = list(value)
        count = len(items)
        counters: dict[str, Any] = {
            "nrOfInstances": count, "nrOfCompletedInstances": 0, "nrOfActiveInstances": count,
        }
        if target.approval is not None:
            counters["nrOfApproved"] = 0
            counters["nrOfRejected"] = 0
        data: dict[str, Any] = {"next": count, "items": items}
        if loop.output_collection:
            data["results"] = [None] * count
        events = [node.started, node.completed, *node.copies, target.started]
        tokens.append(_new(Token, (token_id, target.id, ROOT_SCOPE, None, None, None, None)))
        scopes[body] = _new(Scope, (body, target.id, ROOT_SCOPE, token_id, MI_SCOPE,
                                    MappingProxyType(counters), MappingProxyType(data)))
        made = make_instances(body, target, 0, count, items, new_id, scopes, None)

        def lookup(_: str, name: str) -> Any:  # Run.lookup from the body
            if name in counters:
                return counters[name]
            if name in values:
                return values[name]
            return initiator if name == "initiator" else None

        open_instance_tasks(made, body, target, now, new_id, events, tokens, lookup)
    if values:
        check_total_size(values, ())
    state = _new(InstanceState, (
        graph.id, ACTIVE, MappingProxyType(values), initiator, tuple(tokens),
        tuple(scopes.values()) if scopes else (), (), (), (), (), (), None,
    ))
    return _new(Result, (state, tuple(events), (), (), (), ()))  # type: ignore[no-any-return]


def finish_body(graph: ProcessGraph, state: InstanceState, records: dict[str, Scope],
                completes: BodyCompletes, token: Token, node: Node, task_id: str,
                actor: str | None, outcome: str | None, now: datetime,
                new_id: NewId) -> Result | None:
    """``complete_task`` for the task of the instance whose end completes its
    multi-instance body (``completes``, from :func:`count_instance`, which left
    ``records`` with only the body) when the rest needs no run either: the body is in
    the root scope and the only scope, it collects no output, a rejection has no
    reject action, and the token then goes on as :func:`pass_on` lets it. The new
    state is made as a run would leave it; ``None`` before anything is made
    otherwise."""
    body, decided = completes
    approval = node.approval
    loop = node.loop
    if body.parent != ROOT_SCOPE or len(records) != 1 or loop is None \
            or loop.output_collection or (decided == REJECTED and approval is not None
                                          and approval.reject_action is not None):
        return None
    (_, status, variables, initiator, tokens, _, _, _, works, _, completed, result) = state
    host = None
    for other in tokens:  # Run.token
        if other.id == body.token and other.scope == ROOT_SCOPE:
            host = other
            break
    if host is None:
        return None
    if decided is not None:  # Run.decided: the outcome in the root scope
        variables = copy_dict(variables)
        variables[f"{node.id}_outcome"] = decided
    route = next_stop(graph, node, variables, initiator)
    if route is None:
        return None
    node_id = node.id
    events: list[Any] = [_new(TaskCompleted, (task_id, node_id, actor, outcome)), node.completed]
    if decided is not None:
        counters = body.variables
        events.append(approval_decided(
            node_id, decided, counters.get("nrOfApproved", 0), counters.get("nrOfRejected", 0),
            voters(counters)))
    events.append(node.completed)
    if node.copies:
        events.extend(node.copies)
    remaining = list(tokens)
    remaining.remove(token)
    remaining.remove(host)
    ended = arrive(*route, host.id, tokens, remaining, events, variables, initiator, now, new_id)
    if ended is None:
        return None
    return _passed_on(graph, status, ended,
                      MappingProxyType(variables) if decided is not None else variables,
                      initiator, remaining, works, completed, node_id, result, events)


def _passed_on(graph: ProcessGraph, status: str, ended: bool, variables: Mapping[str, Any],
               initiator: str | None, remaining: list[Token], works: Any, completed: Any,
               node_id: str, result: Any, events: list[Any]) -> Result:
    """The result a run would leave after a shortcut passed a token on from `node_id`:
    the node counted as completed (last), no timers, subscriptions or scopes left over."""
    done = list(completed)
    if node_id in done:
        done.remove(node_id)
    done.append(node_id)
    new_state = _new(InstanceState, (
        graph.id, COMPLETED if ended else status, variables, initiator, tuple(remaining), (),
        (), (), tuple(works) if works else (), (), tuple(done), result,
    ))
    return _new(Result, (new_state, tuple(events), (), (), (), ()))  # type: ignore[no-any-return]


def too_many_steps(node: Node) -> StepLimitExceeded:
    return StepLimitExceeded(
        f"more than {MAX_STEPS} steps without reaching a wait state; the model loops "
        f"through {node.id!r} without a wait state",
        element_id=node.id,
    )


def _passes(mode: str, ratio: float | None, votes: int | None, approved: int,
            total: int) -> bool:
    if mode == "any":
        return approved >= 1
    if mode == "ratio":
        return total > 0 and Decimal(approved) >= Decimal(str(ratio or 1)) * Decimal(total)
    if mode == "votes":
        return approved >= (votes or 1)
    return approved >= total


def _error_variables(event: Node, code: str | None, message: str | None) -> dict[str, Any]:
    trigger = event.trigger
    values: dict[str, Any] = {}
    if trigger is None:
        return values
    if trigger.code_variable:
        values[trigger.code_variable] = code
    if trigger.message_variable:
        values[trigger.message_variable] = message
    return values


def whole_number(value: Any, element_id: str, what: str) -> int:
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str) and value.strip().isdigit():
        number = Decimal(value.strip())
    if number is None or not number.is_finite() or number != number.to_integral_value() \
            or number < 0 or number > 10_000:
        raise ExpressionFailed(f"the {what} of {element_id!r} must be a whole number from 0 "
                               f"to 10000, not {value!r}", element_id=element_id)
    return int(number)


def plain(value: Any) -> Any:
    """A value from an expression as a variable value: whole decimals become ``int``
    when they came from integers, lists and maps are copied."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def check_value_size(name: str, value: Any) -> None:
    if value is None or isinstance(value, (bool, int, float, Decimal, datetime)):
        return
    if _estimate(value) <= MAX_VALUE_BYTES:
        return  # an upper bound of the size is enough: most values are small
    if isinstance(value, str):
        size = len(value.encode("utf-8"))
    else:
        size = len(json.dumps(encode_value(value), separators=(",", ":"), ensure_ascii=False)
                   .encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise InvalidCommand(
            f"the variable {name!r} is {size} bytes long; a value may have at most "
            f"{MAX_VALUE_BYTES} bytes", field=f"variables.{name}")


def check_total_size(variables: Mapping[str, Any], scopes: Iterable[Scope]) -> None:
    """Refuse a state whose variables are too large. Counted: the instance's variables
    and the local variables of sub-processes (multi-instance instances hold an element
    of a collection that is counted where it lives, and the engine's counters)."""
    estimate = _estimate_map(variables)
    counted: list[Scope] = []
    for scope in scopes:
        if scope.kind in _COUNTED and scope.variables:
            counted.append(scope)
            estimate += _estimate_map(scope.variables)
    if estimate <= MAX_VARIABLES_BYTES:
        return
    total = _size(variables)
    for scope in counted:
        total += _size(scope.variables)
    if total > MAX_VARIABLES_BYTES:
        raise InvalidCommand(
            f"the instance's variables would take {total} bytes; at most "
            f"{MAX_VARIABLES_BYTES} are allowed")


def _estimate_map(value: Mapping[str, Any]) -> int:
    """:func:`_estimate` of a map."""
    total = 2
    for key, item in value.items():
        total += 6 * (len(key) + len(item)) + 6 if type(item) is str \
            else 6 * len(key) + 4 + _estimate(item)
    return total


def _joined_length(values: Any) -> int | None:
    """The characters of a list of strings together; None when an item is no string."""
    try:
        return len("".join(values))
    except TypeError:
        return None


def _estimate(value: Any) -> int:
    """An upper bound of the serialised size, cheap to compute."""
    kind = type(value)
    if kind is str:
        return 6 * len(value) + 2
    if kind is int or kind is bool or value is None or kind is float:
        return 32
    if kind is list or kind is tuple:
        # 3 per item (the separator and quotes of a string) and 6 per character, or
        # the item's own estimate and a separator
        if value and type(value[0]) is str:
            characters = _joined_length(value)
            if characters is not None:
                return 2 + 3 * len(value) + 6 * characters
        total = 2 + 3 * len(value)
        for item in value:
            total += 6 * len(item) if type(item) is str else _estimate(item) - 2
        return total
    if kind is dict or kind is MappingProxyType or isinstance(value, Mapping):
        return _estimate_map(value)
    if kind is Decimal:
        return 64 + len(str(value))
    return 64


def _size(variables: Mapping[str, Any]) -> int:
    if not variables:
        return 0
    encoded = {key: encode_value(value) for key, value in variables.items()}
    return len(json.dumps(encoded, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

