"""The pure process engine: parse → compile → execute. No I/O, no clock, no randomness.

Design note
===========

Compile once, execute many times
    :func:`compile_bpmn` / :func:`compile_process` turn a BPMN process into an
    immutable :class:`ProcessGraph` (nodes with their behaviour, compiled conditions and
    assignment expressions, the single exit of nodes that need no decision, and the
    activity event records). The runtime caches one graph per definition version.

Commands
    :func:`start` and :func:`complete_task` take ``(graph, state, arguments, now,
    new_id)`` and return a :class:`Result` (new state, events in order, jobs). They
    never change their input: the state is immutable and a command builds a new one,
    so a refused command (a typed :class:`EngineError` carrying an HTTP status) leaves
    nothing to roll back. The same inputs always give the same result.

State: tokens and scopes
    :class:`InstanceState` holds the variables and where the instance *waits*: a
    list of tokens, each at a node, in a scope. A token waits at a user task (it
    carries the task id), at a synchronising gateway (it carries the flow it came by),
    or at a sub-process. Scopes form a tree: the root scope is the process itself
    (implicit, id ``""``); an embedded sub-process that a token enters gets a child
    scope whose record names its node, its parent scope and the token waiting for it
    in the parent. A scope completes when its last token ends; a terminate end event
    cancels everything in its scope. The JSON form (:meth:`InstanceState.to_json`)
    stores only this, never the graph, so it stays small enough to write on every step.

Inside a command
    An agenda of arriving tokens is worked off until every token waits or has ended.
    Tokens moving through pass-through nodes keep their id; splits make new ids for
    the extra branches. A per-scope count of live tokens tells when a scope is done.

How the next features plug in
    * Event sub-processes and multi-instance bodies are further scope kinds: a scope
      record per instance (multi-instance keeps its loop counter and completion count
      with the scope); completion of a child scope already resumes the parent token.
    * Boundary events: when a token enters an activity with boundary events, the
      command emits a :class:`Job` (timer) in ``Result.jobs`` or records a
      :class:`Subscription` (message, signal) in the state, keyed by that token. A later
      ``fire_timer``/``correlate_message`` command finds the token, cancels it with the
      same ``cancel_token`` path the terminate end event uses (interrupting) or adds a
      token at the boundary event (non-interrupting), and lists obsolete jobs in
      ``Result.cancelled_jobs``. Timer start and intermediate timer events are jobs
      owned by a scope instead of a token.
    * Call activities: the token waits at the call activity like at a sub-process, and
      the result asks the runtime to start the child instance; the child's completion
      is a command on the parent.
    * Inclusive gateway join: tokens record their node and scope, so at arrival (and
      whenever a token ends or moves) the join fires once no other token of the scope
      stands on a node from which the gateway can be reached; the compiler
      precomputes those upstream sets per inclusive gateway.
    * Approval operations move tokens: return to an earlier node from inside parallel
      branches (cancel the tokens of the branches and the waiting join tokens, put one
      token at the target), add a signer (a further task token at the same node),
      withdraw, and admin jump/skip/cancel are all "remove these tokens, add tokens
      here" on the same state, with the same events.
"""

from services.runtime.engine.compiler import compile_bpmn, compile_process, select_process
from services.runtime.engine.errors import (
    EngineError,
    ExpressionFailed,
    InstanceNotActive,
    InvalidCommand,
    InvalidState,
    NoPathFound,
    StepLimitExceeded,
    TaskNotActive,
)
from services.runtime.engine.events import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityStarted,
    Event,
    InstanceCompleted,
    InstanceTerminated,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskSpec,
)
from services.runtime.engine.execution import MAX_STEPS, NewId, Result, complete_task, start
from services.runtime.engine.graph import Flow, Node, ProcessGraph
from services.runtime.engine.state import (
    ACTIVE,
    COMPLETED,
    TERMINATED,
    InstanceState,
    Job,
    Scope,
    Subscription,
    Token,
)

__all__ = [
    "ACTIVE",
    "COMPLETED",
    "MAX_STEPS",
    "TERMINATED",
    "ActivityCancelled",
    "ActivityCompleted",
    "ActivityStarted",
    "EngineError",
    "Event",
    "ExpressionFailed",
    "Flow",
    "InstanceCompleted",
    "InstanceNotActive",
    "InstanceState",
    "InstanceTerminated",
    "InvalidCommand",
    "InvalidState",
    "Job",
    "NewId",
    "NoPathFound",
    "Node",
    "ProcessGraph",
    "Result",
    "Scope",
    "StepLimitExceeded",
    "Subscription",
    "TaskCancelled",
    "TaskCompleted",
    "TaskCreated",
    "TaskNotActive",
    "TaskSpec",
    "Token",
    "compile_bpmn",
    "compile_process",
    "complete_task",
    "select_process",
    "start",
]
