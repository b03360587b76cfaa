"""Commands for what happens outside the instance: timers firing, messages and
signals arriving, external work and called instances reporting back.

Like :func:`~bpm_process.engine.execution.complete_task`, each takes the graph,
the state, its arguments, ``now`` and ``new_id`` and returns a
:class:`~bpm_process.engine.run.Result`; none changes its input. Commands about
something the instance no longer waits for raise a typed error the runtime can ignore
safely (:class:`JobNotFound`, :class:`SubscriptionNotFound`, :class:`WorkNotActive`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from bpm_process.engine.errors import (
    InvalidCommand,
    JobNotFound,
    NotAllowed,
    SubscriptionNotFound,
    WorkNotActive,
)
from bpm_process.engine.events import (
    CallActivityCompleted,
    IncidentCreated,
    IncidentResolved,
    WorkCompleted,
    WorkFailed,
)
from bpm_process.engine.execution import check_now, check_state
from bpm_process.engine.graph import MESSAGE, SIGNAL, TIMER, ProcessGraph
from bpm_process.engine.run import NewId, Result, Run
from bpm_process.engine.state import InstanceState, Job, Token, Work, copy_variables
from bpm_process.engine.timers import CYCLE, parse_timer_value
from bpm_process.isotime import parse_duration

__all__ = [
    "complete_call_activity",
    "complete_work",
    "correlate_message",
    "fail_call_activity",
    "fail_work",
    "fire_timer",
    "message_start_events",
    "receive_signal",
    "retry_work",
    "signal_start_events",
    "throw_work_error",
]


def message_start_events(graph: ProcessGraph) -> dict[str, str]:
    """Message name -> id of the top-level message start event it starts (pass it as
    ``start(..., start_event_id=)``)."""
    return dict(graph.message_starts)


def signal_start_events(graph: ProcessGraph) -> dict[str, str]:
    """Signal name -> id of the top-level signal start event it starts."""
    return dict(graph.signal_starts)


# -- timers ------------------------------------------------------------------------------


def fire_timer(graph: ProcessGraph, state: InstanceState, job_id: str, *, now: datetime,
               new_id: NewId) -> Result:
    """The timer job ``job_id`` is due: take the intermediate catch event, boundary
    event, event-based gateway branch or event sub-process it belongs to. A cycle
    schedules its next job (in ``Result.jobs``) while it has repetitions left.

    Raises :class:`JobNotFound` for a job the instance no longer has.
    """
    check_now(now)
    check_state(graph, state, active=False)
    job = next((j for j in state.jobs if j.id == job_id), None)
    if job is None:
        raise JobNotFound(f"the instance has no timer job {job_id!r}")
    run = Run(graph, state, now, new_id)
    run.jobs.remove(job)
    event = graph.nodes[job.node]
    repeats = event.trigger is not None and event.trigger.timer is not None and (
        (event.attached_to is not None and not event.interrupting)
        or (job.token == "" and not event.interrupting)
    )
    if repeats and job.cycle is not None:
        _rearm(run, job)
    run.fire(event, job.token, job.scope, TIMER, None, {})
    run.work()
    return run.result()


def _rearm(run: Run, job: Job) -> None:
    event = run.nodes[job.node]
    trigger = event.trigger
    if trigger is None or trigger.timer is None or job.cycle is None:
        return
    definition = parse_timer_value(CYCLE, job.cycle)
    # from the last occurrence that has passed: a cycle held back by a suspension or a
    # worker outage fires once for the occurrences it missed, not once for each
    due = definition.next_due(definition.last_passed(job.due_at, run.now), job.count + 1)
    if due is None:
        return
    following = Job(run.next_id(), job.kind, job.node, job.token, job.scope, due, job.cycle,
                    job.count + 1)
    run.jobs.append(following)
    run.changed().new_jobs.append(following)


# -- messages and signals ------------------------------------------------------------------


def correlate_message(
    graph: ProcessGraph,
    state: InstanceState,
    subscription: str | tuple[str, str | None],
    *,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Deliver a message to the instance: ``subscription`` is a subscription id, or
    ``(message name, correlation key)`` (the first matching subscription takes it).
    ``variables`` (the payload) are stored where the catching element is (through its
    output mappings, if any).

    Raises :class:`SubscriptionNotFound` when the instance does not wait for it.
    """
    check_now(now)
    check_state(graph, state, active=False)
    payload = copy_variables(variables)
    if isinstance(subscription, str):
        found = next((s for s in state.subscriptions
                      if s.id == subscription and s.kind == MESSAGE), None)
    else:
        name, key = subscription
        found = next((s for s in state.subscriptions
                      if s.kind == MESSAGE and s.name == name and s.correlation_key == key),
                     None)
    if found is None:
        raise SubscriptionNotFound(f"the instance does not wait for the message {subscription!r}")
    run = Run(graph, state, now, new_id)
    run.fire(graph.nodes[found.node], found.token, found.scope, MESSAGE, found.name, payload)
    run.work()
    return run.result()


def receive_signal(
    graph: ProcessGraph,
    state: InstanceState,
    name: str,
    *,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
    only: Collection[str] | None = None,
) -> Result:
    """Broadcast the signal ``name`` to the instance: every subscription for it
    fires, in the order they were opened. ``only``: the ids of the subscriptions that
    were waiting when the signal was thrown (a signal reaches no catch reached later).

    Raises :class:`SubscriptionNotFound` when nothing in the instance waits for it.
    """
    check_now(now)
    check_state(graph, state, active=False)
    payload = copy_variables(variables)
    waiting = [s for s in state.subscriptions if s.kind == SIGNAL and s.name == name
               and (only is None or s.id in only)]
    if not waiting:
        raise SubscriptionNotFound(f"the instance does not wait for the signal {name!r}")
    run = Run(graph, state, now, new_id)
    for sub in waiting:
        if run.status != "active" or sub not in run.subs:
            continue  # an earlier catch interrupted its owner
        if sub.token and not any(t.id == sub.token and t.scope == sub.scope
                                 for t in run.tokens):
            continue
        run.fire(graph.nodes[sub.node], sub.token, sub.scope, SIGNAL, name, payload)
        run.drain()
    run.work()
    return run.result()


# -- external work -------------------------------------------------------------------------


def _work(run: Run, work_id: str, *, call: bool) -> tuple[Work, Token]:
    work = next((w for w in run.works if w.id == work_id), None)
    if work is None or (work.kind == "call") != call:
        what = "call activity" if call else "work item"
        raise WorkNotActive(f"the {what} {work_id!r} is not active in this instance")
    token = next(t for t in run.tokens if t.work == work_id)
    return work, token


def complete_work(
    graph: ProcessGraph,
    state: InstanceState,
    work_id: str,
    *,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """The worker (or the HTTP connector) finished ``work_id``: map its result and move
    the token on.

    For ``http`` work pass ``{"status": ..., "headers": {...}, "body": ...}``: the
    connector's ``resultVariable`` and ``bpm:output`` mappings apply to it. For
    ``external`` work the variables are stored through the task's output mappings, or
    as they are.
    """
    check_now(now)
    check_state(graph, state, active=False)
    values = copy_variables(variables)
    run = Run(graph, state, now, new_id)
    work, token = _work(run, work_id, call=False)
    if work.incident is not None:
        raise NotAllowed(f"the work item {work_id!r} has an open incident; retry it first",
                         element_id=work.node)
    node = graph.nodes[work.node]
    run.works.remove(work)
    run.release(token)
    run.events.append(WorkCompleted(work_id, node.id))
    http = node.work.http if node.work is not None else None
    if http is not None:
        stored: dict[str, Any] = {}
        if http.result_variable:
            stored[http.result_variable] = values
        for variable, path in http.responses:
            stored[variable] = _at_path(values.get("body"), path)
        stored.update(run.mapped(http.outputs, token.scope, node.id, values))
        if stored:
            run.assign(token.scope, stored)
        if node.io is not None and node.io.outputs:
            run.assign(token.scope, run.mapped(node.io.outputs, token.scope, node.id, values))
    else:
        run.set_outputs(node, token.scope, values)
    run.mark_completed(node.id)
    run.record_completed(node, token.scope)
    run.leave(token.id, token.scope, node)
    run.work()
    return run.result()


def _at_path(value: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path of a JSON value (map keys, list indexes); ``None``
    where the path does not exist."""
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def fail_work(
    graph: ProcessGraph,
    state: InstanceState,
    work_id: str,
    *,
    error_message: str | None,
    retries_left: int,
    now: datetime,
    new_id: NewId,
) -> Result:
    """An attempt at ``work_id`` failed. With retries left the token stays and the
    ``work_failed`` record says when to try again (after the task's retry backoff);
    with none left an ``incident_created`` record opens an incident and the token
    waits for :func:`retry_work`."""
    check_now(now)
    check_state(graph, state, active=False)
    if type(retries_left) is not int or retries_left < 0:
        raise InvalidCommand("retries_left must be a whole number of at least 0")
    run = Run(graph, state, now, new_id)
    work, _ = _work(run, work_id, call=False)
    if work.incident is not None:
        raise NotAllowed(f"the work item {work_id!r} already has an open incident",
                         element_id=work.node)
    node = graph.nodes[work.node]
    index = run.works.index(work)
    if retries_left > 0:
        backoff = node.work.retry_backoff if node.work is not None else None
        retry_at = parse_duration(backoff).add_to(now) if backoff else now
        run.works[index] = work._replace(retries=retries_left)
        run.events.append(WorkFailed(work_id, node.id, error_message, retries_left, retry_at))
    else:
        message = error_message or "the work failed"
        run.works[index] = work._replace(retries=0, incident=message)
        run.events.append(WorkFailed(work_id, node.id, error_message, 0, None))
        run.events.append(IncidentCreated(work_id, work_id, node.id, message))
    return run.result()


def retry_work(
    graph: ProcessGraph,
    state: InstanceState,
    work_id: str,
    *,
    retries: int = 1,
    now: datetime,
    new_id: NewId,
) -> Result:
    """Resolve the incident of ``work_id`` and hand the work out again (a new
    ``work_created`` record with the same id and ``retries`` attempts)."""
    check_now(now)
    check_state(graph, state, active=False)
    if type(retries) is not int or retries < 1:
        raise InvalidCommand("retries must be a whole number of at least 1")
    run = Run(graph, state, now, new_id)
    work, token = _work(run, work_id, call=False)
    if work.incident is None:
        raise NotAllowed(f"the work item {work_id!r} has no open incident", element_id=work.node)
    node = graph.nodes[work.node]
    run.works[run.works.index(work)] = work._replace(retries=retries, incident=None)
    run.events.append(IncidentResolved(work_id, work_id, node.id))
    run.create_work(token.id, token.scope, node, None, work_id=work_id, retries=retries)
    return run.result()


def throw_work_error(
    graph: ProcessGraph,
    state: InstanceState,
    work_id: str,
    *,
    error_code: str,
    message: str | None = None,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """The worker reports a BPMN error: it goes to the error boundary event of the task
    (matching ``error_code``, or one without a code), to an error event sub-process, or,
    uncaught, terminates the instance with an ``error_unhandled`` record."""
    check_now(now)
    check_state(graph, state, active=False)
    if not isinstance(error_code, str) or not error_code:
        raise InvalidCommand("error_code must be a non-empty string")
    values = copy_variables(variables)
    run = Run(graph, state, now, new_id)
    work, token = _work(run, work_id, call=False)
    _raise_at(run, work, token, error_code, message, values)
    run.work()
    return run.result()


def _raise_at(run: Run, work: Work, token: Token, code: str, message: str | None,
              values: Mapping[str, Any]) -> None:
    node = run.nodes[work.node]
    run.works.remove(work)
    bare = token._replace(work=None)
    run.tokens[run.tokens.index(token)] = bare
    if values:
        run.assign(token.scope, values)
    run.throw_error(token.scope, code, message, node, waiting=bare)


# -- call activities -----------------------------------------------------------------------


def complete_call_activity(
    graph: ProcessGraph,
    state: InstanceState,
    call_id: str,
    *,
    output_variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """The called instance completed with ``output_variables``: apply the call
    activity's out mappings (``camunda:out``, ``zeebe:output``; all of them when the
    model propagates all) and move the token on."""
    check_now(now)
    check_state(graph, state, active=False)
    values = copy_variables(output_variables)
    run = Run(graph, state, now, new_id)
    work, token = _work(run, call_id, call=True)
    node = graph.nodes[work.node]
    call = node.call
    run.works.remove(work)
    run.release(token)
    run.events.append(CallActivityCompleted(call_id, node.id))
    if call is not None:
        stored: dict[str, Any] = dict(values) if call.all_outputs else {}
        stored.update(run.mapped(call.outputs, token.scope, node.id, values))
        if stored:
            run.assign(token.scope, stored)
    run.mark_completed(node.id)
    run.record_completed(node, token.scope)
    run.leave(token.id, token.scope, node)
    run.work()
    return run.result()


def escalate_call_activity(
    graph: ProcessGraph,
    state: InstanceState,
    call_id: str,
    *,
    escalation_code: str | None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """The called instance threw an escalation that nothing in it caught: route it like
    an escalation of the call activity (its escalation boundary events first, then the
    enclosing scopes). An interrupting catch cancels the call (the runtime terminates the
    called instance); otherwise both go on."""
    check_now(now)
    check_state(graph, state)
    run = Run(graph, state, now, new_id)
    work, token = _work(run, call_id, call=True)
    run.escalate_from(token, run.nodes[work.node], escalation_code)
    run.work()
    return run.result()


def fail_call_activity(
    graph: ProcessGraph,
    state: InstanceState,
    call_id: str,
    *,
    error_code: str,
    message: str | None = None,
    variables: Mapping[str, Any] | None = None,
    now: datetime,
    new_id: NewId,
) -> Result:
    """The called instance ended with the BPMN error ``error_code``: route it like an
    error thrown by the call activity."""
    check_now(now)
    check_state(graph, state, active=False)
    if not isinstance(error_code, str) or not error_code:
        raise InvalidCommand("error_code must be a non-empty string")
    values = copy_variables(variables)
    run = Run(graph, state, now, new_id)
    work, token = _work(run, call_id, call=True)
    _raise_at(run, work, token, error_code, message, values)
    run.work()
    return run.result()
