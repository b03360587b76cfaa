"""The pure process engine: parse -> compile -> execute. No I/O, no clock, no randomness.

Design note
===========

Compile once, execute many times
    :func:`compile_bpmn` / :func:`compile_process` turn a BPMN process into an
    immutable :class:`ProcessGraph` (nodes with their behaviour, compiled conditions,
    assignment, timer, mapping and multi-instance expressions, boundary events per
    activity, event sub-processes per scope, the upstream sets of inclusive joins, the
    single exit of nodes that need no decision, and the activity event records). The
    runtime caches one graph per definition version.

Commands
    Every command takes ``(graph, state, arguments, now, new_id)`` and returns a
    :class:`Result`: the new state, the records in order (``Result.events``), timer
    jobs to schedule and to drop (``jobs``, ``cancelled_jobs``), and message/signal
    subscriptions to index and to drop (``subscriptions_opened``/``_closed``). They
    never change their input: the state is immutable and a command builds a new one, so
    a refused command (a typed :class:`EngineError` carrying an HTTP status and the
    element id) leaves nothing to roll back. The same inputs always give the same
    result.

    * users: :func:`start`, :func:`complete_task` (with ``outcome`` for approvals);
    * the world outside: :func:`fire_timer`, :func:`correlate_message`,
      :func:`receive_signal`, :func:`complete_work`, :func:`fail_work`,
      :func:`retry_work`, :func:`throw_work_error`, :func:`complete_call_activity`,
      :func:`fail_call_activity`, :func:`escalate_call_activity`;
    * approvals and administrators: :func:`move_token`, :func:`cancel_token`,
      :func:`skip_node`, :func:`return_to` (with :func:`earlier_nodes`),
      :func:`add_signer`, :func:`remove_signer`, :func:`withdraw`, :func:`terminate`,
      :func:`set_variables`, :func:`migrate` (with :func:`migration_plan`);
    * queries: :func:`message_start_events`, :func:`signal_start_events`,
      ``graph.timer_starts`` with :func:`next_fire`.

    Commands about something the instance no longer waits for raise
    :class:`JobNotFound`, :class:`SubscriptionNotFound` or :class:`WorkNotActive`,
    which the runtime may ignore.

State: tokens, scopes, and what they wait for
    :class:`InstanceState` holds the variables and where the instance waits: tokens at
    nodes, in scopes. A token waits at a user task (it carries the task id), at work or
    a call activity (the work id), at a join (the flow it came by), at a catch event,
    receive task or event-based gateway (with subscriptions and jobs it owns), or at a
    sub-process or multi-instance activity (the parent of a scope). Scopes form a tree
    under the implicit root scope ``""``: ``sub`` (an embedded sub-process), ``event``
    (an event sub-process instance), ``mi`` (a multi-instance body with its counters and
    collection) and ``inst`` (one instance, with ``loopCounter`` and the element
    variable). Scopes carry local variables: a variable set inside a scope is local to
    it unless an enclosing scope already has it; output mappings export values. Jobs
    and subscriptions belong to a token (boundary events, catch events) or, with an
    empty token, to a scope (event sub-process starts). ``works`` are the external
    jobs and called instances waited for, ``signers`` the signers added to tasks, and
    ``completed`` the wait-state nodes completed so far (return targets). The JSON
    form (:meth:`InstanceState.to_json`) stores only this, never the graph.

Inside a command (:mod:`~bpm_process.engine.run`)
    An agenda of arriving tokens is worked off until every token waits or has ended;
    then inclusive joins that no token of their scope can still reach fire, and the
    agenda runs again. A lazily counted number of live tokens per scope tells when a
    scope completes. Errors and escalations climb the scope tree to the innermost
    catching boundary event or event sub-process; an uncaught error terminates the
    instance with an ``error_unhandled`` record. Interrupting events cancel through one
    path (``cancel_token``/``cancel_scope_tree``), which also closes jobs,
    subscriptions, work and called instances. Returns, rejected approvals and jumps use
    one ``jump`` that cancels the target's downstream region (stopping at joins that
    also wait for branches not starting at the target) and puts one token there.

Extensions
    The ``bpm`` namespace (:data:`bpm_process.namespaces.BPM_NS`) configures approvals,
    the HTTP connector, correlation keys, retries, people and time limits of user tasks
    (``bpm:assignment``, ``bpm:timeLimit`` ... carried in the :class:`TaskSpec` for the
    runtime to resolve) and copies (``bpm:copyTo``, RACI ``informed``: a
    :class:`CopyRequested` record after the node completes); the reference is in
    :mod:`bpm_process.engine.extensions`, the checks shared with the designer's
    lint in :mod:`bpm_process.platform`. Camunda 7, Flowable/Activiti and
    Camunda 8 (Zeebe) attributes and extension elements are read as well.
"""

from bpm_process.engine import events
from bpm_process.engine.commands import (
    complete_call_activity,
    complete_work,
    correlate_message,
    escalate_call_activity,
    fail_call_activity,
    fail_work,
    fire_timer,
    message_start_events,
    receive_signal,
    retry_work,
    signal_start_events,
    throw_work_error,
)
from bpm_process.engine.compiler import compile_bpmn, compile_process, select_process
from bpm_process.engine.errors import (
    EngineError,
    ExpressionFailed,
    InstanceNotActive,
    InvalidCommand,
    InvalidState,
    JobNotFound,
    NoPathFound,
    NotAllowed,
    StepLimitExceeded,
    SubscriptionNotFound,
    TaskNotActive,
    WorkNotActive,
)
from bpm_process.engine.events import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityStarted,
    CopyRequested,
    Event,
    InstanceCompleted,
    InstanceTerminated,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskSpec,
)
from bpm_process.engine.execution import MAX_STEPS, NewId, Result, complete_task, start
from bpm_process.engine.graph import Flow, Node, ProcessGraph
from bpm_process.engine.migration import duplicate_targets, migrate, migration_plan
from bpm_process.engine.operations import (
    add_signer,
    cancel_token,
    earlier_nodes,
    move_token,
    remove_signer,
    return_to,
    set_variables,
    skip_node,
    terminate,
    withdraw,
)
from bpm_process.engine.run import MAX_VALUE_BYTES, MAX_VARIABLES_BYTES
from bpm_process.engine.state import (
    ACTIVE,
    COMPLETED,
    REJECTED,
    TERMINATED,
    InstanceState,
    Job,
    Scope,
    Signer,
    Subscription,
    Token,
    Work,
)
from bpm_process.engine.timers import TimerDefinition, next_fire

__all__ = [
    "ACTIVE",
    "COMPLETED",
    "MAX_STEPS",
    "MAX_VALUE_BYTES",
    "MAX_VARIABLES_BYTES",
    "REJECTED",
    "TERMINATED",
    "ActivityCancelled",
    "ActivityCompleted",
    "ActivityStarted",
    "CopyRequested",
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
    "JobNotFound",
    "NewId",
    "NoPathFound",
    "Node",
    "NotAllowed",
    "ProcessGraph",
    "Result",
    "Scope",
    "Signer",
    "StepLimitExceeded",
    "Subscription",
    "SubscriptionNotFound",
    "TaskCancelled",
    "TaskCompleted",
    "TaskCreated",
    "TaskNotActive",
    "TaskSpec",
    "TimerDefinition",
    "Token",
    "Work",
    "WorkNotActive",
    "add_signer",
    "cancel_token",
    "compile_bpmn",
    "compile_process",
    "complete_call_activity",
    "complete_task",
    "complete_work",
    "correlate_message",
    "earlier_nodes",
    "events",
    "escalate_call_activity",
    "fail_call_activity",
    "fail_work",
    "fire_timer",
    "message_start_events",
    "migrate",
    "migration_plan",
    "duplicate_targets",
    "move_token",
    "next_fire",
    "receive_signal",
    "remove_signer",
    "retry_work",
    "return_to",
    "select_process",
    "set_variables",
    "signal_start_events",
    "skip_node",
    "start",
    "terminate",
    "throw_work_error",
    "withdraw",
]
