"""Moving running instances to another version of their process.

:func:`migration_plan` compares two graphs (same ids map by default) and names the
nodes where waiting tokens would have nowhere to go; :func:`migrate` moves one
instance, with an explicit ``mapping`` for renamed or removed nodes. Tasks, work items
and called instances keep their ids; timers and subscriptions of boundary events and
event sub-processes are closed when the new version no longer has them and opened for
ones it adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bpm_process.engine.errors import InvalidCommand, NotAllowed
from bpm_process.engine.events import InstanceMigrated
from bpm_process.engine.execution import check_now, check_state
from bpm_process.engine.graph import (
    BOUNDARY_EVENT,
    CALL_ACTIVITY,
    CATCH_EVENT,
    EVENT_GATEWAY,
    EVENT_SUB_PROCESS,
    RECEIVE_TASK,
    START_EVENT,
    SUB_PROCESS,
    USER_TASK,
    WORK_TASK,
    Node,
    ProcessGraph,
)
from bpm_process.engine.run import NewId, Result, Run
from bpm_process.engine.state import EVENT_SCOPE, ROOT_SCOPE, SUB_SCOPE, InstanceState

__all__ = ["migrate", "migration_plan"]

_WAIT_STATES = frozenset({USER_TASK, WORK_TASK, RECEIVE_TASK, CALL_ACTIVITY, CATCH_EVENT,
                          EVENT_GATEWAY, SUB_PROCESS, EVENT_SUB_PROCESS})


def _waits(node: Node) -> bool:
    return node.behavior in _WAIT_STATES or node.joins or node.loop is not None


def _loop_changed(old: Node, new: Node) -> bool:
    """Whether a node gains or loses multi-instance, or turns sequential or parallel:
    the waiting instances' scopes and counters would not fit."""
    if (old.loop is None) != (new.loop is None):
        return True
    return old.loop is not None and new.loop is not None and old.loop.sequential != new.loop.sequential


def duplicate_targets(old_graph: ProcessGraph, new_graph: ProcessGraph,
                      mapping: Mapping[str, str]) -> dict[str, list[str]]:
    """New nodes that two or more old nodes where tokens can wait would become (their
    tokens would merge into one node, each with its own task)."""
    targets: dict[str, list[str]] = {}
    for old_id, node in old_graph.nodes.items():
        new_id_ = mapping.get(old_id, old_id)
        if _waits(node) and new_id_ in new_graph.nodes:
            targets.setdefault(new_id_, []).append(old_id)
    return {new: olds for new, olds in targets.items() if len(olds) > 1}


def migration_plan(old_graph: ProcessGraph, new_graph: ProcessGraph) -> dict[str, Any]:
    """What migrating instances from ``old_graph`` to ``new_graph`` means.

    ``mapped``: old id -> new id for nodes in both; ``removed``/``added``: ids in only
    one of them; ``unmapped_active_risks``: nodes where tokens can wait that have no
    counterpart of the same behaviour (instances waiting there need an explicit
    mapping), each ``{"node_id", "reason"}``.
    """
    old_ids = set(old_graph.nodes)
    new_ids = set(new_graph.nodes)
    mapped = {node_id: node_id for node_id in sorted(old_ids & new_ids)}
    risks: list[dict[str, str]] = []
    for node_id in sorted(old_ids - new_ids):
        node = old_graph.nodes[node_id]
        if _waits(node):
            risks.append({"node_id": node_id,
                          "reason": f"tokens can wait at this {node.kind}, which the new "
                                    "version does not have"})
    for node_id in mapped:
        old = old_graph.nodes[node_id]
        new = new_graph.nodes[node_id]
        loop_changed = _loop_changed(old, new)
        if _waits(old) and (old.behavior != new.behavior or loop_changed):
            risks.append({"node_id": node_id,
                          "reason": f"changes from {old.kind} to {new.kind}"
                          + (" (multi-instance changed)" if loop_changed else "")})
        elif old.scope != new.scope and _waits(old):
            risks.append({"node_id": node_id, "reason": "moves into another sub-process"})
        elif _trigger_kind(old) != _trigger_kind(new) and old.trigger is not None:
            risks.append({"node_id": node_id, "reason": f"its {_trigger_kind(old)} event becomes "
                                                        f"a {_trigger_kind(new) or 'plain'} one: "
                                                        "waiting instances wait for the new one"})
        elif old.joins and len(new.incoming) < len(old.incoming):
            risks.append({"node_id": node_id, "reason": "the join loses incoming flows: instances "
                                                        "waiting at it cannot move"})
    return {
        "mapped": mapped,
        "removed": sorted(old_ids - new_ids),
        "added": sorted(new_ids - old_ids),
        "unmapped_active_risks": risks,
    }


def migrate(
    old_graph: ProcessGraph,
    new_graph: ProcessGraph,
    state: InstanceState,
    *,
    mapping: Mapping[str, str] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Move the instance to ``new_graph``; ``mapping`` names the new node of old nodes
    whose ids changed (others keep their ids).

    Refused (with the element id) when a waiting token's node has no counterpart of
    the same behaviour, or an arrival at a join came by a flow the new join lacks.
    """
    check_now(now)
    check_state(old_graph, state)
    explicit = dict(mapping or {})
    for old_id, new_id_ in explicit.items():
        if old_id not in old_graph.nodes:
            raise InvalidCommand(f"{old_id!r} is not a node of the old version",
                                 element_id=old_id)
        if new_id_ not in new_graph.nodes:
            raise InvalidCommand(f"{new_id_!r} is not a node of the new version",
                                 element_id=new_id_)

    for new_node_id, old_ids in duplicate_targets(old_graph, new_graph, explicit).items():
        raise InvalidCommand(f"{', '.join(map(repr, old_ids))} would all become {new_node_id!r}",
                             element_id=old_ids[-1])

    def target(old_id: str) -> str:
        return explicit.get(old_id, old_id)

    def container(old_scope: str) -> str:
        return new_graph.id if old_scope == old_graph.id else target(old_scope)

    def counterpart(old_id: str) -> Node:
        new_node = new_graph.nodes.get(target(old_id))
        old_node = old_graph.nodes[old_id]
        if new_node is None:
            raise NotAllowed(f"{old_id!r} has no counterpart in the new version; map it",
                             element_id=old_id)
        loop_changed = _loop_changed(old_node, new_node)
        if new_node.behavior != old_node.behavior or loop_changed:
            raise NotAllowed(f"{old_id!r} ({old_node.kind}) cannot become {new_node.id!r} "
                             f"({new_node.kind})" + (": its multi-instance changed" if loop_changed else ""),
                             element_id=old_id)
        if new_node.scope != container(old_node.scope):
            raise NotAllowed(f"{old_id!r} cannot become {new_node.id!r}: a token cannot move into "
                             "or out of a sub-process by migration", element_id=old_id)
        return new_node

    tokens = []
    used: dict[str, str] = {}
    armable: dict[str, set[str]] = {}
    for token in state.tokens:
        new_node = counterpart(token.node)
        old_node = old_graph.nodes[token.node]
        used[token.node] = new_node.id
        if token.via is not None and token.via not in new_node.incoming:
            raise NotAllowed(f"an arrival at {token.node!r} came by {token.via!r}, which is "
                             f"not an incoming flow of {new_node.id!r}", element_id=token.node)
        if token.via is not None and len(new_node.incoming) < len(old_node.incoming):
            # as Camunda 7 refuses: nothing would look at the join again, which might
            # now be complete (a parallel join) or wait for a branch that no longer comes
            raise NotAllowed(f"{token.node!r} waits for arrivals and {new_node.id!r} has fewer "
                             "incoming flows; migrate once the join has fired", element_id=token.node)
        # the events this token could have armed in the old version (by their new ids): one
        # of them without its job or subscription has fired; any other is new to it
        armable[token.id] = {target(event) for event in (*old_node.boundaries, *old_node.targets)} | {
            target(old_node.id)}
        tokens.append(token._replace(node=new_node.id))
    scopes = []
    for scope in state.scopes:
        new_node = counterpart(scope.node)
        used[scope.node] = new_node.id
        scopes.append(scope._replace(node=new_node.id))
    works = [work._replace(node=counterpart(work.node).id) for work in state.works]
    signers = [signer._replace(node=counterpart(signer.node).id) for signer in state.signers]
    completed = tuple(dict.fromkeys(
        target(node_id) for node_id in state.completed if target(node_id) in new_graph.nodes))
    jobs = [job._replace(node=target(job.node)) for job in state.jobs]
    subs = [sub._replace(node=target(sub.node)) for sub in state.subscriptions]
    moved = state._replace(process_id=new_graph.id, tokens=tuple(tokens), scopes=tuple(scopes),
                           works=tuple(works), signers=tuple(signers), completed=completed,
                           jobs=(), subscriptions=())
    run = Run(new_graph, moved, now, new_id)
    existed = {target(old_id) for old_id in old_graph.nodes}
    _rearm(run, new_graph, jobs, subs, existed, armable)
    run.events.append(InstanceMigrated(old_graph.id, new_graph.id,
                                       {old: new for old, new in used.items()}))
    return run.result()


def _rearm(run: Run, graph: ProcessGraph, jobs: list[Any], subs: list[Any],
           existed: set[str], armable: Mapping[str, set[str]]) -> None:
    """Keep the jobs and subscriptions whose events still exist where they belong,
    close the others, and open those of the events the new version adds (boundary
    events, event-based gateway branches, event sub-processes; ``existed``: the new ids
    of the old version's nodes, ``armable``: per token, those it could arm). An event of
    the old version without its job or subscription has fired (a one-shot timer) or is
    running (an interrupting event sub-process): it is not armed again. A subscription
    whose event now waits for another message or key, or an event whose kind changed
    (a timer that became a message ...), is armed anew."""
    renewed: set[str] = set()
    kept_jobs = []
    for job in jobs:
        still = _still_armed(run, graph, job.node, job.token, job.scope)
        if still and _trigger_kind(graph.nodes[job.node]) == "timer":
            kept_jobs.append(job)
        else:
            run.changed().removed_jobs.append(job.id)
            if still:
                renewed.add(job.node)
    kept_subs = []
    for sub in subs:
        still = _still_armed(run, graph, sub.node, sub.token, sub.scope)
        if still and _trigger_kind(graph.nodes[sub.node]) == sub.kind and _same_subscription(run, graph, sub):
            kept_subs.append(sub)
        else:
            run.changed().closed_subs.append(sub.id)
            if still:
                renewed.add(sub.node)  # armed again below, for its new message or kind
    existed = existed - renewed
    run.jobs = kept_jobs
    run.subs = kept_subs
    armed = {(item.node, item.token, item.scope) for item in [*kept_jobs, *kept_subs]}
    for token in list(run.tokens):
        node = graph.nodes[token.node]
        if token.via is not None:
            continue
        # an instance's token: the boundary events belong to the multi-instance body's
        # token; a parallel co-signer's token arms none (as the engine creates it)
        events = list(node.boundaries) if node.armed and token.group is None \
            and not run.is_instance(token.scope, node) else []
        if node.behavior == EVENT_GATEWAY:
            events += node.targets
        elif node.trigger is not None and token.work is None and token.task is None:
            events.append(node.id)  # a catch event or receive task waiting for its message
        before = armable.get(token.id, existed) - renewed
        for event_id in events:
            event = graph.nodes[event_id]
            trigger = event.trigger
            if trigger is not None and trigger.kind in ("timer", "message", "signal") \
                    and event_id not in before and (event_id, token.id, token.scope) not in armed:
                run.arm(event, token.id, token.scope)
    # a scope an interrupting event sub-process is handling arms no other (as when it began)
    handling = {record.parent for record in run.scopes.values()
                if record.kind == EVENT_SCOPE and _interrupting(graph, record.node)}
    for scope_id in [ROOT_SCOPE, *run.scopes]:
        record = run.scopes.get(scope_id)
        if record is not None and record.kind not in (SUB_SCOPE, EVENT_SCOPE) or scope_id in handling:
            continue
        container = graph.id if record is None else record.node
        for start_id in graph.armed_event_subprocesses.get(container, ()):
            if start_id not in existed and (start_id, "", scope_id) not in armed:
                run.arm(graph.nodes[start_id], "", scope_id)


def _trigger_kind(node: Node) -> str | None:
    return node.trigger.kind if node.trigger is not None else None


def _interrupting(graph: ProcessGraph, event_sub_process: str) -> bool:
    """Whether the event sub-process ``event_sub_process`` was started by an interrupting
    start event."""
    return any(start.scope == event_sub_process and start.interrupting
               for start in graph.nodes.values() if start.behavior == START_EVENT)


def _same_subscription(run: Run, graph: ProcessGraph, sub: Any) -> bool:
    """Whether the subscription still waits for what its event in the new version names
    (its message or signal name and correlation key)."""
    trigger = graph.nodes[sub.node].trigger
    if trigger is None or trigger.name is None:
        return True
    name = run.text(trigger.name, sub.scope, sub.node, f"{trigger.kind} name")
    key = run.text(trigger.correlation_key, sub.scope, sub.node, "correlation key") \
        if trigger.correlation_key is not None else None
    return name == sub.name and key == sub.correlation_key


def _still_armed(run: Run, graph: ProcessGraph, node_id: str, token_id: str,
                 scope: str) -> bool:
    node = graph.nodes.get(node_id)
    if node is None or node.trigger is None:
        return False
    if token_id == "":
        record = run.scopes.get(scope)
        container = graph.id if record is None else record.node
        return node_id in graph.armed_event_subprocesses.get(container, ())
    token = next((t for t in run.tokens if t.id == token_id and t.scope == scope), None)
    if token is None:
        return False
    host = graph.nodes[token.node]
    if node.behavior == BOUNDARY_EVENT:
        return node.attached_to == host.id
    if host.behavior == EVENT_GATEWAY:
        return node_id in host.targets
    return node_id == host.id

