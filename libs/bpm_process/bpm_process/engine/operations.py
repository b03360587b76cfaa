"""Token operations for approvals and administrators: move, cancel, skip, return,
signers, withdraw, terminate, set variables.

All are pure commands like the others: ``(graph, state, ..., now, new_id) ->
Result``, emitting the usual records (``task_cancelled``, ``activity_completed`` ...)
plus one that names the operation (``token_moved``, ``token_cancelled``,
``node_skipped``, ``signer_added`` ...), so the runtime writes history the same way.
A refusal is a typed :class:`EngineError` carrying the element id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bpm_process.engine.errors import InvalidCommand, NotAllowed, TaskNotActive
from bpm_process.engine.events import (
    InstanceTerminated,
    InstanceWithdrawn,
    NodeSkipped,
    SignerAdded,
    SignerRemoved,
    TaskCancelled,
    TokenCancelled,
    TokenMoved,
    VariablesUpdated,
)
from bpm_process.engine.execution import check_now, check_state
from bpm_process.engine.graph import (
    BOUNDARY_EVENT,
    CALL_ACTIVITY,
    CATCH_EVENT,
    EVENT_SUB_PROCESS,
    RECEIVE_TASK,
    SUB_PROCESS,
    USER_TASK,
    WORK_TASK,
    Node,
    ProcessGraph,
)
from bpm_process.engine.run import NewId, Result, Run
from bpm_process.engine.state import (
    INSTANCE_SCOPE,
    ROOT_SCOPE,
    TERMINATED,
    InstanceState,
    Signer,
    Token,
    copy_variables,
)

__all__ = [
    "SIGNER_MODES",
    "add_signer",
    "cancel_token",
    "earlier_nodes",
    "move_token",
    "remove_signer",
    "return_to",
    "set_variables",
    "skip_node",
    "terminate",
    "withdraw",
]

SIGNER_MODES = ("before", "after", "parallel")
_SKIPPABLE = frozenset({USER_TASK, WORK_TASK, RECEIVE_TASK, CALL_ACTIVITY, CATCH_EVENT,
                        SUB_PROCESS})


def _task_token(state: InstanceState, task_id: str) -> Token:
    for token in state.tokens:
        if token.task == task_id:
            return token
    raise TaskNotActive(f"the task {task_id!r} is not open in this instance")


def _find_token(run: Run, token_id: str | None, node_id: str | None,
                task_id: str | None = None) -> Token:
    if task_id is not None:
        for token in run.tokens:
            if token.task == task_id:
                return token
        raise TaskNotActive(f"the task {task_id!r} is not open in this instance")
    if token_id is not None:
        for token in run.tokens:
            if token.id == token_id:
                return token
        raise NotAllowed(f"the instance has no token {token_id!r}")
    if node_id is None:
        raise InvalidCommand("name the token: token_id, from_node or task_id")
    found = [t for t in run.tokens if t.node == node_id]
    if len(found) > 1:
        # Prefer the token that stands for a whole multi-instance body or the node.
        outer = [t for t in found if not run.is_instance(t.scope, run.nodes[node_id])]
        found = outer if outer else found
    if not found:
        raise NotAllowed(f"no token waits at {node_id!r}", element_id=node_id)
    if len(found) > 1:
        ids = ", ".join(t.id for t in found)
        raise NotAllowed(f"several tokens wait at {node_id!r} ({ids}); name one by token_id",
                         element_id=node_id)
    return found[0]


def _node(graph: ProcessGraph, node_id: str) -> Node:
    node = graph.nodes.get(node_id)
    if node is None:
        raise InvalidCommand(f"the process has no node {node_id!r}", element_id=node_id)
    return node


def move_token(
    graph: ProcessGraph,
    state: InstanceState,
    *,
    to_node: str,
    from_node: str | None = None,
    token_id: str | None = None,
    now: datetime,
    new_id: NewId,
    reason: str | None = None,
) -> Result:
    """Jump: take the token (named by ``token_id``, or the one at ``from_node``) away
    from where it waits, cancelling its task, work, timers and subscriptions, and put
    a token at ``to_node`` (in the same sub-process or one around it)."""
    check_now(now)
    check_state(graph, state)
    target = _node(graph, to_node)
    if target.behavior in (BOUNDARY_EVENT, EVENT_SUB_PROCESS) or (
        target.scope in graph.nodes and graph.nodes[target.scope].behavior == EVENT_SUB_PROCESS
        and target.kind == "startEvent"
    ):
        raise NotAllowed(f"a token cannot be put at {to_node!r}", element_id=to_node)
    run = Run(graph, state, now, new_id)
    token = _find_token(run, token_id, from_node)
    if target.id == token.node and target.loop is not None and run.is_instance(token.scope, target):
        raise NotAllowed(
            f"moving one instance of the multi-instance node {target.id!r} to the node itself "
            "would start the whole node again and discard the votes cast; skip or cancel the "
            "instance, or move the node's token (from_node) to start it again on purpose",
            element_id=target.id)
    via = _arrival(run, token, target) if target.joins else None
    _cancel_cosigners(run, token, "moved")
    if run.container(token.scope) == target.scope and not run.is_instance(
            token.scope, run.nodes[token.node]):
        run.cancel_token(token, "moved")
        run.events.append(TokenMoved(token.node, target.id, reason))
        run.live[token.scope] += 1
        run.agenda.append((run.next_id(), token.scope, target, via))
    else:
        run.jump(token, target, reason, cancel_reason="moved", via=via)
    run.work()
    return run.result()


def _cancel_cosigners(run: Run, token: Token, reason: str) -> None:
    """Cancel the other tasks of the node ``token`` waits at that signers added in
    parallel share with it (its group), so that the node is left once, not once more
    when a co-signer completes."""
    group = token.group or token.id
    for other in [t for t in run.tokens
                  if t.id != token.id and t.task is not None and t.node == token.node
                  and t.scope == token.scope and (t.group == group or t.id == group)]:
        run.drop_agenda(run.cancel_token(other, reason, node_record=False))


def _arrival(run: Run, token: Token, join: Node) -> str:
    """The incoming flow by which a token moved to the joining gateway ``join`` arrives
    there: the one its branch leads to. A join counts arrivals by flow, so a token put
    there from anywhere else would wait for ever; that move is refused."""
    origin = next((host.node for container, host in run.levels(token) if container == join.scope),
                  None)
    flows = run.graph.flows
    found = [
        flow_id for flow_id in join.incoming
        if flow_id in flows and origin is not None and (
            flows[flow_id].source == origin or flows[flow_id].source in run.graph.successors(origin))
    ]
    if len(found) != 1:
        raise NotAllowed(
            f"a token from {token.node!r} cannot be put at the joining gateway {join.id!r}: it "
            "is not on exactly one of the gateway's incoming branches; move it to a node of "
            "its branch, or past the gateway and cancel the other branches' tokens",
            element_id=join.id)
    return found[0]


def cancel_token(
    graph: ProcessGraph,
    state: InstanceState,
    *,
    token_id: str | None = None,
    from_node: str | None = None,
    now: datetime,
    new_id: NewId,
    reason: str | None = None,
) -> Result:
    """Cancel one token (with its task, work, timers, subscriptions and everything
    nested in it). A sub-process or multi-instance instance left without tokens
    completes; an instance left without tokens is terminated."""
    check_now(now)
    check_state(graph, state)
    run = Run(graph, state, now, new_id)
    token = _find_token(run, token_id, from_node)
    run.without_vote(token)
    removed = run.cancel_token(token, "cancelled")
    run.drop_agenda(removed)
    run.events.append(TokenCancelled(token.id, token.node, reason))
    if run.live[token.scope] == 0:
        if token.scope == ROOT_SCOPE:
            run.end_instance(TERMINATED, "cancelled")
            run.events.append(InstanceTerminated(None, reason or "cancelled"))
        else:
            run.live[token.scope] = 1
            run.token_ended(token.scope)
    run.work()
    return run.result()


def skip_node(
    graph: ProcessGraph,
    state: InstanceState,
    *,
    task_id: str | None = None,
    token_id: str | None = None,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
    reason: str | None = None,
) -> Result:
    """Leave the node where the token waits as if it had completed: its task is
    cancelled (reason ``skipped``, no completion), ``variables`` are stored, and the
    token follows the outgoing flows."""
    check_now(now)
    check_state(graph, state)
    values = copy_variables(variables)
    run = Run(graph, state, now, new_id)
    token = _find_token(run, token_id, None, task_id)
    node = run.nodes[token.node]
    hosts_body = node.loop is not None and not run.is_instance(token.scope, node)
    if node.behavior not in _SKIPPABLE and not hosts_body:
        raise NotAllowed(f"a token at {node.id!r} ({node.kind}) cannot be skipped",
                         element_id=node.id)
    run.without_vote(token)
    _cancel_cosigners(run, token, "skipped")
    removed = run.cancel_token(token, "skipped", node_record=False)
    run.drop_agenda(removed)
    run.live[token.scope] += 1
    if values:
        run.assign(token.scope, values)
    run.events.append(NodeSkipped(node.id, reason))
    run.record_completed(node, token.scope)
    run.leave(token.id, token.scope, node)
    run.work()
    return run.result()


def earlier_nodes(graph: ProcessGraph, state: InstanceState, task_id: str) -> tuple[str, ...]:
    """The nodes the task's instance may return to from this task: wait-state nodes
    completed earlier that lie on a path to the task (in its sub-process or one around
    it), most recent last."""
    check_state(graph, state)
    token = _task_token(state, task_id)
    run = Run(graph, state, _EPOCH, _no_id)
    return _earlier(run, token)


def _earlier(run: Run, token: Token) -> tuple[str, ...]:
    levels = run.levels(token)
    result = []
    for candidate in run.completed:
        if candidate == token.node:
            continue
        node = run.nodes.get(candidate)
        if node is None:
            continue
        for container, host in levels:
            if node.scope == container and host.node in run.graph.successors(candidate) \
                    and host.node != candidate:
                result.append(candidate)
                break
    return tuple(result)


def return_to(
    graph: ProcessGraph,
    state: InstanceState,
    task_id: str,
    target_node: str,
    *,
    now: datetime,
    new_id: NewId,
    reason: str | None = None,
) -> Result:
    """Return from the task to an earlier node (one of :func:`earlier_nodes`).

    Every token between the target and the task that would otherwise run twice or wait
    for ever is cancelled: the task's own token (or the multi-instance body or
    sub-process it is in, with all other instances), sibling branches of a split that
    lies after the target, and arrivals waiting at joins after the target. Then one
    token is put at the target.
    """
    check_now(now)
    check_state(graph, state)
    _node(graph, target_node)
    token = _task_token(state, task_id)
    run = Run(graph, state, now, new_id)
    if target_node not in _earlier(run, token):
        raise NotAllowed(f"{target_node!r} is not an earlier node the task {task_id!r} can "
                         "return to", element_id=target_node)
    run.jump(token, run.nodes[target_node], reason, cancel_reason="returned")
    run.work()
    return run.result()


def add_signer(
    graph: ProcessGraph,
    state: InstanceState,
    task_id: str,
    *,
    user: str,
    mode: str = "after",
    now: datetime,
    new_id: NewId,
    holder: str | None = None,
) -> Result:
    """Add a signer to an open user task.

    * ``parallel``: another task at the same node for ``user``; both must be completed
      before the token moves on;
    * ``before``: the task goes to ``user`` now (the current task is cancelled with
      reason ``signer_before``); when ``user`` completes it, the task is created again
      for its original assignment;
    * ``after``: when the task is completed, a task for ``user`` at the same node must
      be completed before the token moves on.

    ``holder``: whoever works the task now (after a transfer or a claim); a task that a
    ``before`` signer hands back goes to them (without one, to the node's assignment).
    A user who already signs at this node as an added signer (waiting to sign after, or
    with a task still open) is refused: one person, one signature.
    """
    check_now(now)
    check_state(graph, state)
    if mode not in SIGNER_MODES:
        raise InvalidCommand(f"mode must be one of {', '.join(SIGNER_MODES)}, not {mode!r}")
    if not isinstance(user, str) or not user.strip():
        raise InvalidCommand("user must be a non-empty user name")
    user = user.strip()
    token = _task_token(state, task_id)
    node = graph.nodes[token.node]
    run = Run(graph, state, now, new_id)
    if any(s.user == user and s.node == node.id for s in run.signers):  # an entry ends when its task does
        raise NotAllowed(f"{user!r} already signs at {node.id!r}", element_id=node.id, field="user")
    if mode == "parallel" and node.loop is not None and not node.loop.sequential \
            and run.is_instance(token.scope, node):
        # in a parallel multi-instance node the signer is one more instance: a vote of
        # their own, counted like the others (nrOfInstances grows by one)
        signer_token, signer_task = run.add_instance(run.scopes[token.scope].parent, user)
        run.signers.append(Signer(signer_task, mode, node.id, signer_token, user, signer_task))
        signer_id = signer_task
    elif mode == "parallel":
        signer_token = run.next_id()
        group = token.group or token.id
        run.live[token.scope] += 1
        signer_task = run.create_task(signer_token, token.scope, node, None, assignee=user,
                                      signer=True, group=group, arm=False)
        run.signers.append(Signer(signer_task, mode, node.id, signer_token, user, signer_task))
        signer_id = signer_task
    elif mode == "before":
        run.events.append(TaskCancelled(task_id, node.id, "signer_before"))
        index = run.tokens.index(token)
        run.tokens.pop(index)
        signer_task = run.create_task(token.id, token.scope, node, None, assignee=user,
                                      signer=True, group=token.group, arm=False)
        run.signers.append(Signer(signer_task, mode, node.id, token.id, user, signer_task, holder))
        signer_id = signer_task
    else:
        signer_id = run.next_id()
        run.signers.append(Signer(signer_id, mode, node.id, token.id, user))
    run.events.append(SignerAdded(task_id, signer_id, node.id, user, mode))
    return run.result()


def remove_signer(
    graph: ProcessGraph,
    state: InstanceState,
    signer_id: str,
    *,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Remove a signer added by :func:`add_signer` (``signer_id`` is the id
    ``signer_added`` reported, the signer's task id for ``parallel`` and ``before``).
    The last open task of a node cannot be removed."""
    check_now(now)
    check_state(graph, state)
    run = Run(graph, state, now, new_id)
    signer = next((s for s in run.signers if s.id == signer_id or s.task == signer_id), None)
    if signer is None:
        raise NotAllowed(f"the instance has no added signer {signer_id!r}")
    node = run.nodes[signer.node]
    if signer.mode == "parallel":
        token = next(t for t in run.tokens if t.id == signer.token)
        if token.group is None and run.is_instance(token.scope, node):
            # added as an instance of its own (a co-signer shares the group of the task)
            return _remove_instance(run, signer, token, node)
        group = token.group or token.id
        others = [t for t in run.tokens if t.id != token.id and t.task is not None
                  and (t.group == group or t.id == group)]
        if not others:
            raise NotAllowed("the last open task of the node cannot be removed",
                             element_id=node.id)
        run.cancel_token(token, "signer_removed", node_record=False)
    elif signer.mode == "before":
        token = next(t for t in run.tokens if t.id == signer.token)
        run.signers.remove(signer)
        run.events.append(TaskCancelled(signer.task or "", node.id, "signer_removed"))
        run.tokens.remove(token)
        run.create_task(token.id, token.scope, node, None, assignee=signer.assignee,
                        group=token.group, arm=False)
    else:
        if signer.task is not None:
            raise NotAllowed("the last open task of the node cannot be removed",
                             element_id=node.id)
        run.signers.remove(signer)
    run.signers = [s for s in run.signers if s.id != signer.id]
    run.events.append(SignerRemoved(signer.id, node.id, signer.user, signer.mode))
    return run.result()


def _remove_instance(run: Run, signer: Signer, token: Token, node: Node) -> Result:
    """Remove a signer added as an instance of the multi-instance ``node``: the instance
    ends without a vote, unless it holds the node's last open task."""
    body = run.scopes[token.scope].parent
    if not any(t.task is not None and t.id != token.id and t.node == node.id
               and t.scope in run.scopes and run.scopes[t.scope].parent == body
               for t in run.tokens):
        raise NotAllowed("the last open task of the node cannot be removed", element_id=node.id)
    run.signers.remove(signer)
    run.without_vote(token)
    removed = run.cancel_token(token, "signer_removed", node_record=False)
    run.drop_agenda(removed)
    run.events.append(SignerRemoved(signer.id, node.id, signer.user, signer.mode))
    run.live[token.scope] = 1
    run.token_ended(token.scope)
    run.work()
    return run.result()


def withdraw(
    graph: ProcessGraph,
    state: InstanceState,
    *,
    now: datetime,
    new_id: NewId,
    reason: str | None = None,
) -> Result:
    """The initiator withdraws the instance: everything is cancelled (reason
    ``withdrawn``) and the instance ends ``terminated`` after an ``instance_withdrawn``
    record."""
    check_now(now)
    check_state(graph, state)
    run = Run(graph, state, now, new_id)
    run.end_instance(TERMINATED, "withdrawn")
    run.events.append(InstanceWithdrawn(reason))
    run.events.append(InstanceTerminated(None, "withdrawn"))
    return run.result()


def terminate(
    graph: ProcessGraph,
    state: InstanceState,
    *,
    reason: str | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """An administrator ends the instance: everything is cancelled (reason
    ``terminated``), status ``terminated``."""
    check_now(now)
    check_state(graph, state)
    run = Run(graph, state, now, new_id)
    run.end_instance(TERMINATED, "terminated")
    run.events.append(InstanceTerminated(None, reason or "terminated"))
    return run.result()


def set_variables(
    graph: ProcessGraph,
    state: InstanceState,
    variables: Mapping[str, Any],
    *,
    task_id: str | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Set variables of the instance (or, with ``task_id``, from the task's scope by the
    usual rule: an existing variable is set where it is, a new one locally)."""
    check_now(now)
    check_state(graph, state)
    values = copy_variables(variables)
    if not values:
        raise InvalidCommand("no variables to set")
    run = Run(graph, state, now, new_id)
    scope = ROOT_SCOPE
    if task_id is not None:
        scope = _task_token(state, task_id).scope
        record = run.scopes.get(scope)
        if record is not None and record.kind == INSTANCE_SCOPE:
            scope = record.id
    run.assign(scope, values)
    run.events.append(VariablesUpdated(tuple(values)))
    run.work()
    return run.result()



def _no_id() -> str:
    raise InvalidCommand("this query makes no ids")  # pragma: no cover


_EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
