"""Commands: start an instance, complete a user task.

A command takes the compiled graph, the instance state and its arguments and returns a
:class:`Result`: the new state, the events in order, jobs to schedule and
subscriptions to index. It never changes its inputs (the input state stays valid if
the command is refused), never reads the clock (``now`` is an argument) and never
makes up ids (``new_id`` is an argument), so the same inputs always give the same
result. The token rules live in :mod:`bpm_process.engine.run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bpm_process.engine.errors import (
    InstanceNotActive,
    InvalidCommand,
    InvalidState,
    TaskNotActive,
)
from bpm_process.engine.events import TaskCompleted
from bpm_process.engine.graph import USER_TASK, Node, ProcessGraph
from bpm_process.engine.run import (
    APPROVE,
    APPROVED,
    MAX_STEPS,
    OUTCOME_VARIABLE,
    REJECT,
    NewId,
    Result,
    Run,
    begin,
    check_value_size,
    count_instance,
    finish_body,
    pass_on,
    scope_index,
)
from bpm_process.engine.state import (
    ACTIVE,
    REJECTED,
    ROOT_SCOPE,
    InstanceState,
    Token,
    copy_variables,
)

__all__ = ["MAX_STEPS", "NewId", "Result", "complete_task", "start"]

_new = tuple.__new__
_OUTCOMES = (APPROVE, REJECT)


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
    stored in the variable named by the start event's ``initiator`` attribute. For a
    message, signal or timer start event pass its id (see
    :func:`~bpm_process.engine.commands.message_start_events`) and the payload as
    ``variables``.
    """
    check_now(now)
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
    for name, value in values.items():
        check_value_size(name, value)
    if node.initiator_variable is not None and initiator is not None:
        values[node.initiator_variable] = initiator
    if not (graph.armed_event_subprocesses or graph.inclusive_upstream):
        # Nothing else to set up: a shortcut may make the state a run would.
        begun = begin(graph, node, values, initiator, now, new_id)
        if begun is not None:
            return begun
    run = Run(graph, None, now, new_id, values, initiator)
    run.variables_changed = bool(values)
    run.live[ROOT_SCOPE] = 1
    if graph.armed_event_subprocesses:
        run.arm_scope(ROOT_SCOPE, graph.id)
    run.agenda.append((run.next_id(), ROOT_SCOPE, node, None))
    run.work()
    return run.result()


def complete_task(
    graph: ProcessGraph,
    state: InstanceState,
    task_id: str,
    *,
    variables: Mapping[str, Any] | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Complete an open user task: store ``variables`` (through the task's output
    mappings, if any), then move the token on.

    ``outcome`` (``approve`` or ``reject``) is required for, and only allowed on,
    approval tasks (``bpm:approval="true"``). Raises :class:`InstanceNotActive` for a
    finished instance and :class:`TaskNotActive` for a task that is not open in this
    instance.
    """
    # check_now and check_state, with the checks that pass almost always made first
    if not (_checked_now and _checked_now[0] is now):
        check_now(now)
    if type(state) is not InstanceState:
        check_state(graph, state)
    (process_id, status, _, _, tokens, records, jobs, subscriptions, _, signers, _,
     _) = state
    if process_id != graph.id or status != ACTIVE:
        check_state(graph, state)
    token = None
    for candidate in tokens:
        if candidate.task == task_id:
            token = candidate
            break
    if token is None:
        raise TaskNotActive(f"the task {task_id!r} is not open in this instance")
    node = graph.nodes.get(token.node)
    if node is None or node.behavior != USER_TASK:
        raise InvalidState(f"the task {task_id!r} waits at {token.node!r}, which is not a "
                           "user task of this process version")
    if (outcome is not None) if node.approval is None else (outcome not in _OUTCOMES):
        check_outcome(node, outcome)  # raises the error
    values = copy_variables(variables) if variables is not None else None
    scopes = None
    completes = None
    outputs = node.io is not None and bool(node.io.outputs)
    if not (values or token.group is not None or signers or jobs or subscriptions
            or graph.inclusive_upstream or outputs):
        # Nothing else to keep track of: a shortcut may make the state a run would.
        if node.loop is None:
            if node.approval is None and not records:
                passed = pass_on(graph, state, token, node, task_id, actor, outcome, now,
                                 new_id)
                if passed is not None:
                    return passed
        else:
            scopes = scope_index(records)
            counted = count_instance(graph, state, scopes, token, node, task_id, actor,
                                     outcome)
            if type(counted) is Result:
                return counted
            completes = counted  # BodyCompletes: the body completes
            if completes is not None:
                finished = finish_body(graph, state, scopes, completes, token, node,
                                       task_id, actor, outcome, now, new_id)
                if finished is not None:
                    return finished

    run = Run(graph, state, now, new_id, None, None, scopes)
    scope = token.scope
    node_id = node.id
    run.tokens.remove(token)
    events = run.events
    events.append(_new(TaskCompleted, (task_id, node_id, actor, outcome)))
    if values or outputs:  # output mappings run whenever the task completes (as in Camunda)
        run.set_outputs(node, scope, values or {})
    completed = run.completed
    if node_id in completed:
        completed.remove(node_id)
    completed.append(node_id)
    instance = completes is not None or (node.loop is not None and run.is_instance(scope, node))
    if (run.signers or token.group is not None) and not continue_signers(
            run, token, node, task_id, outcome):
        if outcome is not None and instance:
            run.put(scope, OUTCOME_VARIABLE, outcome, checked=False)
        run.work()
        return run.result()
    if outcome is not None and instance:
        # The instance ends now: its outcome is counted without storing it first.
        run.outcomes = {scope: outcome}
    if run.jobs or run.subs:
        run.disarm(token.id, scope)
    # The node's activity_completed record; copies are sent once the whole
    # multi-instance node completes, not for each instance.
    events.append(node.completed)
    if node.copies and not instance:
        events.extend(node.copies)
    if completes is not None:
        run.finish_multi_instance(*completes)  # the instance was counted, the body completes
    elif instance:
        run.token_ended(scope)  # one instance of a multi-instance activity is done
    elif node.approval is not None and outcome is not None:
        decided = APPROVED if outcome == APPROVE else REJECTED
        run.decided(node, scope, decided, {
            "nrOfApproved": int(outcome == APPROVE), "nrOfRejected": int(outcome == REJECT),
            "nrOfInstances": 1,
        })
        run.after_decision(token, node, decided)
    else:
        run.leave(token.id, scope, node)
    if run.agenda or graph.inclusive_upstream:  # else there is nothing to move
        run.work()
    return run.result()


def continue_signers(run: Run, token: Token, node: Node, task_id: str,
                     outcome: str | None) -> bool:
    """Apply added signers when a task completes. Returns True when the token leaves
    the node now, False when it goes on waiting (another signer's task is open)."""
    scope = token.scope
    own = next((s for s in run.signers if s.task == task_id), None)
    if own is not None:
        run.signers.remove(own)
        if own.mode == "before":
            # The signer asked to sign first is done: the original assignee's turn.
            run.create_task(token.id, scope, node, None, assignee=own.assignee, arm=False)
            return False
    group = token.group or token.id
    others = [t for t in run.tokens if t.id != token.id and (t.group == group or t.id == group)
              and t.node == node.id and t.scope == scope]
    if others:
        if outcome != REJECT:
            run.live[scope] -= 1
            # signers asked to sign after this task sign after the group: they wait on
            # a task of the group that is still open
            heir = others[0].id
            kept = []
            for signer in run.signers:
                if signer.token != token.id:
                    kept.append(signer)
                elif signer.mode == "after" and signer.task is None:
                    kept.append(signer._replace(token=heir))
            run.signers = kept
            return False
        for other in others:
            run.cancel_token(other, "rejected")
    pending = [s for s in run.signers if s.token == token.id and s.mode == "after"
               and s.task is None]
    if pending and outcome != REJECT:
        signer = pending[0]
        new_task = run.create_task(token.id, scope, node, None, assignee=signer.user,
                                   signer=True, arm=False)
        run.signers[run.signers.index(signer)] = signer._replace(task=new_task)
        return False
    run.signers = [s for s in run.signers if s.token != token.id]
    return True


def check_outcome(node: Node, outcome: str | None) -> None:
    if node.approval is None:
        if outcome is not None:
            raise InvalidCommand(f"{node.id!r} is not an approval task; complete it without "
                                 "an outcome", element_id=node.id, field="outcome")
        return
    if outcome not in _OUTCOMES:
        raise InvalidCommand(f"the approval task {node.id!r} needs the outcome 'approve' or "
                             "'reject'", element_id=node.id, field="outcome")


_checked_now: list[datetime] = []


def check_now(now: datetime) -> None:
    if _checked_now and _checked_now[0] is now:
        return  # the same (immutable) moment as the last command
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidCommand("now must be a timezone-aware datetime")
    _checked_now[:] = [now]


def check_state(graph: ProcessGraph, state: InstanceState, *, active: bool = True) -> None:
    """The state belongs to the graph (and, with ``active``, the instance runs)."""
    if not isinstance(state, InstanceState):
        raise InvalidCommand("state must be an InstanceState")
    if state.process_id != graph.id:
        raise InvalidState(
            f"the instance belongs to the process {state.process_id!r}, not {graph.id!r}"
        )
    if active and state.status != ACTIVE:
        raise InstanceNotActive(f"the instance is {state.status}")

