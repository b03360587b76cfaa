"""Run one BPMN model with the same decisions through our engine and through
SpiffWorkflow 3.2, and record what each completed, step by step.

A *case* names a model of ``models/``, the start variables and a list of steps:

* ``("task", node, variables)``: complete the first open task at ``node``;
* ``("work", node, variables)``: an external worker completes the service task at
  ``node`` (SpiffWorkflow gets the task as a user task: it would run it by itself);
* ``("message", name, payload)`` / ``("signal", name, payload)``;
* ``("timer", node)``: the timer at ``node`` is due (ours: ``fire_timer`` at the job's
  due time; Spiff: its clock is moved to that time).

Each engine yields one *chunk* per step: the BPMN ids it completed during the step
(the start is step 0). Chunks are compared as multisets, which is "in order where the
model is deterministic, as multisets within parallel regions".

Our side plays the runtime too: a ``signal_thrown`` record is delivered to the
instance (SpiffWorkflow broadcasts inside the workflow), a ``message_thrown`` record is
correlated if the instance waits for it, and a ``call_activity_started`` record starts
the called process (from the same file) whose records join the same chunk; its end
completes or fails the call activity.

For SpiffWorkflow the harness rewrites the model: ``${...}`` conditions become Python
(``&&`` -> ``and`` ...), timer values become Python string literals, collections are
plain names and service tasks user tasks. Nothing else changes.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from bpm_process.engine import (
    ACTIVE,
    InstanceState,
    Result,
    compile_bpmn,
    complete_call_activity,
    complete_task,
    complete_work,
    correlate_message,
    fail_call_activity,
    fire_timer,
    receive_signal,
    start,
)
from bpm_process.engine.bench import spiff_compatible
from bpm_process.engine.events import (
    CallActivityStarted,
    ErrorUnhandled,
    MessageThrown,
    SignalThrown,
)

MODELS = Path(__file__).parent / "models"
CLOCK = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

Step = tuple[Any, ...]


@dataclass
class Case:
    model: str
    steps: list[Step] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    process: str | None = None
    status: str = "completed"
    """Our expected end status (``completed``, ``terminated`` or ``active``)."""
    spiff_status: str | None = None
    """SpiffWorkflow's end state where it differs from ours (see the differences)."""
    spiff: bool = True
    """False for models only our engine runs (vendor dialects Spiff cannot parse)."""
    note: str = ""

    @property
    def id(self) -> str:
        return self.model if not self.note else f"{self.model}-{self.note}"


@dataclass
class Trace:
    chunks: list[Counter[str]]
    status: str
    timer_dues: list[datetime] = field(default_factory=list)
    cancelled: list[set[str]] = field(default_factory=list)
    """Ours: the nodes cancelled in each step."""
    floating: set[str] = field(default_factory=set)
    """Ours: nodes SpiffWorkflow completes at another step (event-based gateways and
    the start events of event sub-processes)."""


def load(case: Case) -> bytes:
    return (MODELS / f"{case.model}.bpmn").read_bytes()


# -- our engine ------------------------------------------------------------------------------


class _Ours:
    """Our engine plus the parts of the runtime the corpus needs."""

    def __init__(self, data: bytes, process: str | None) -> None:
        self.data = data
        self.process = process
        self.graphs: dict[str | None, Any] = {}
        self.root_graph = self.graph(process)
        self.counter = itertools.count(1)
        self.states: dict[str, InstanceState] = {}
        """Instance key ("root" or a call id) -> state."""
        self.parents: dict[str, str] = {}
        self.chunk: Counter[str] = Counter()
        self.cancelled: set[str] = set()
        self.now = CLOCK

    def graph(self, process: str | None) -> Any:
        if process not in self.graphs:
            self.graphs[process] = compile_bpmn(self.data, process)
        return self.graphs[process]

    def new_id(self) -> str:
        return str(next(self.counter))

    states_process: dict[str, str | None]

    def start(self, variables: Mapping[str, Any]) -> None:
        self.states_process = {"root": self.process}
        result = start(self.root_graph, variables, initiator="alice", now=self.now,
                       new_id=self.new_id)
        self.apply("root", result)

    def apply(self, key: str, result: Result) -> None:
        self.states[key] = result.state
        for event in result.events:
            if event.type == "activity_completed":
                self.chunk[event.node_id] += 1
            elif event.type == "activity_cancelled":
                self.cancelled.add(event.node_id)
        for event in result.events:
            if isinstance(event, SignalThrown):
                self.broadcast(event.name, {})
            elif isinstance(event, MessageThrown):
                self.deliver(event.name, event.correlation_key, {})
            elif isinstance(event, CallActivityStarted):
                self.call(key, event)
        if key != "root" and result.status != ACTIVE:
            self.child_ended(key, result)

    def call(self, parent: str, event: CallActivityStarted) -> None:
        key = event.call_id
        self.parents[key] = parent
        self.states_process[key] = event.called_element
        graph = self.graph(event.called_element)
        result = start(graph, event.variables, initiator="alice", now=self.now,
                       new_id=self.new_id)
        self.apply(key, result)

    def child_ended(self, key: str, result: Result) -> None:
        parent = self.parents.pop(key)
        graph = self.graph(self.states_process[parent])
        unhandled = [e for e in result.events if isinstance(e, ErrorUnhandled)]
        if unhandled:
            outcome = fail_call_activity(graph, self.states[parent], key,
                                         error_code=unhandled[0].error_code or "",
                                         now=self.now, new_id=self.new_id)
        else:
            outcome = complete_call_activity(graph, self.states[parent], key,
                                             output_variables=result.variables,
                                             now=self.now, new_id=self.new_id)
        self.apply(parent, outcome)

    def broadcast(self, name: str, payload: Mapping[str, Any]) -> None:
        for key in list(self.states):
            state = self.states[key]
            if state.status == ACTIVE and any(
                    s.kind == "signal" and s.name == name for s in state.subscriptions):
                graph = self.graph(self.states_process[key])
                self.apply(key, receive_signal(graph, state, name, variables=payload,
                                               now=self.now, new_id=self.new_id))

    def deliver(self, name: str, key_value: str | None, payload: Mapping[str, Any]) -> bool:
        for key in list(self.states):
            state = self.states[key]
            found = next((s for s in state.subscriptions if s.kind == "message"
                          and s.name == name and (key_value is None
                                                   or s.correlation_key in (None, key_value))),
                         None)
            if state.status == ACTIVE and found is not None:
                graph = self.graph(self.states_process[key])
                self.apply(key, correlate_message(graph, state, found.id, variables=payload,
                                                  now=self.now, new_id=self.new_id))
                return True
        return False

    def step(self, step: Step, trace: Trace) -> None:
        kind = step[0]
        if kind in ("task", "work"):
            node, variables = step[1], step[2] if len(step) > 2 else {}
            for key, state in list(self.states.items()):
                graph = self.graph(self.states_process[key])
                if kind == "task":
                    ids = [t for t, n in state.open_tasks().items() if n == node]
                    if ids:
                        self.apply(key, complete_task(graph, state, ids[0], variables=variables,
                                                      actor="bob", now=self.now,
                                                      new_id=self.new_id))
                        return
                else:
                    works = [w.id for w in state.works if w.node == node]
                    if works:
                        self.apply(key, complete_work(graph, state, works[0],
                                                      variables=variables, now=self.now,
                                                      new_id=self.new_id))
                        return
            raise AssertionError(f"ours: nothing open at {node!r}")
        if kind == "message":
            if not self.deliver(step[1], None, step[2] if len(step) > 2 else {}):
                raise AssertionError(f"ours: nothing waits for the message {step[1]!r}")
            return
        if kind == "signal":
            self.broadcast(step[1], step[2] if len(step) > 2 else {})
            return
        if kind == "timer":
            for key, state in list(self.states.items()):
                jobs = [j for j in state.jobs if j.node == step[1]]
                if jobs:
                    job = min(jobs, key=lambda j: j.due_at)
                    self.now = max(self.now, job.due_at)
                    trace.timer_dues.append(job.due_at)
                    graph = self.graph(self.states_process[key])
                    self.apply(key, fire_timer(graph, state, job.id, now=self.now,
                                               new_id=self.new_id))
                    return
            raise AssertionError(f"ours: no timer at {step[1]!r}")
        raise AssertionError(f"unknown step {step!r}")


def run_ours(case: Case) -> Trace:
    ours = _Ours(load(case), case.process)
    trace = Trace([], "")
    ours.start(case.variables)
    trace.chunks.append(ours.chunk)
    trace.cancelled.append(ours.cancelled)
    for step in case.steps:
        ours.chunk = Counter()
        ours.cancelled = set()
        ours.step(step, trace)
        trace.chunks.append(ours.chunk)
        trace.cancelled.append(ours.cancelled)
    trace.status = ours.states["root"].status
    for graph in ours.graphs.values():
        trace.floating |= {node.id for node in graph.nodes.values()
                           if node.behavior == "event_gateway"}
        for starts in graph.event_subprocesses.values():
            trace.floating |= set(starts)
    return trace


# -- SpiffWorkflow ---------------------------------------------------------------------------

def spiff_model(data: bytes) -> etree._Element:
    """The model rewritten for SpiffWorkflow's Python script engine (the rewrite the
    benchmark uses too)."""
    return etree.fromstring(spiff_compatible(data))


class _Clock:
    now = CLOCK


def _patch_spiff_clock() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return _Clock.now if tz is None else _Clock.now.astimezone(tz)

    spiff_timer.datetime = FakeDatetime  # type: ignore[misc]


def spiff_workflow(xml: bytes, name: str, process: str | None = None) -> Any:
    """A SpiffWorkflow workflow of ``xml`` (rewritten by :func:`spiff_model`), its clock
    set to ``CLOCK``."""
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

    _patch_spiff_clock()
    _Clock.now = CLOCK
    parser = CamundaParser()
    parser.add_bpmn_xml(spiff_model(xml), filename=f"{name}.bpmn")
    process = process or parser.get_process_ids()[0]
    return BpmnWorkflow(parser.get_spec(process), parser.get_subprocess_specs(process))


def completed_since(workflow: Any) -> Any:
    """A function giving the BPMN ids ``workflow`` completed since it was last called."""
    from SpiffWorkflow.util.task import TaskState

    seen: set[Any] = set()

    def completed() -> Counter[str]:
        found: Counter[str] = Counter()
        for wf in [workflow, *workflow.subprocesses.values()]:
            for task in wf.tasks.values():
                if task.state == TaskState.COMPLETED and task.id not in seen:
                    seen.add(task.id)
                    if task.task_spec.bpmn_id is not None:
                        found[task.task_spec.bpmn_id] += 1
        return found

    return completed


def run_spiff(case: Case, timer_dues: list[datetime]) -> Trace:
    from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
        SignalEventDefinition,
    )
    from SpiffWorkflow.bpmn.specs.event_definitions.message import (
        MessageEventDefinition as PlainMessage,
    )
    from SpiffWorkflow.bpmn.util import BpmnEvent
    from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
    from SpiffWorkflow.util.task import TaskState

    workflow = spiff_workflow(load(case), case.model, case.process)
    completed = completed_since(workflow)

    def settle() -> None:
        workflow.refresh_timers()
        workflow.do_engine_steps()

    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(case.variables)
    settle()
    trace = Trace([completed()], "")
    dues = iter(timer_dues)
    for step in case.steps:
        kind = step[0]
        if kind in ("task", "work"):
            ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id == step[1]]
            if not ready:
                raise AssertionError(f"spiff: nothing ready at {step[1]!r}")
            task = ready[0]
            task.data.update(step[2] if len(step) > 2 else {})
            task.run()
        elif kind == "message":
            # Camunda-flavoured messages (events) carry their payload in one result
            # variable; receive tasks use the plain BPMN message class.
            data = dict(step[2]) if len(step) > 2 else {}
            payload = {"payload": data, "result_var": None}
            if not workflow.event_manager.catch(
                    BpmnEvent(MessageEventDefinition(step[1]), payload), internal=False):
                workflow.event_manager.catch(BpmnEvent(PlainMessage(step[1]), data),
                                             internal=False)
        elif kind == "signal":
            workflow.catch(BpmnEvent(SignalEventDefinition(step[1]),
                                     dict(step[2]) if len(step) > 2 else {}))
        elif kind == "timer":
            _Clock.now = next(dues) + timedelta(seconds=1)
        settle()
        trace.chunks.append(completed())
    trace.status = "completed" if workflow.is_completed() else "active"
    return trace
