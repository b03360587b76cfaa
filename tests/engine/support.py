"""Helpers for engine tests: load models, count ids, drive an instance by node id."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bpm_process.engine import (
    InstanceState,
    ProcessGraph,
    Result,
    TaskCreated,
    TaskSpec,
    commands,
    compile_bpmn,
    complete_task,
    operations,
    start,
)

MODELS = Path(__file__).parent / "models"
NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def load(name: str) -> ProcessGraph:
    """Compile a model from ``tests/engine/models``."""
    return compile_bpmn((MODELS / name).read_bytes())


NAMESPACES = (
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" '
    'xmlns:flowable="http://flowable.org/bpmn"'
)


def model(body: str, *, process_id: str = "p", roots: str = "") -> ProcessGraph:
    """Compile a process whose flow nodes and flows are ``body`` (``roots``: messages,
    signals, errors ... before the process)."""
    return compile_bpmn(
        f'<?xml version="1.0"?><definitions {NAMESPACES} id="d" targetNamespace="t">'
        f'{roots}<process id="{process_id}" isExecutable="true">{body}</process>'
        "</definitions>".encode()
    )


def flows(*pairs: str) -> str:
    """Sequence flows from "a>b" items, named f1, f2, ..."""
    items = []
    for index, pair in enumerate(pairs, 1):
        source, target = pair.split(">")
        items.append(f'<sequenceFlow id="f{index}" sourceRef="{source}" targetRef="{target}"/>')
    return "".join(items)


def round_trip(state: InstanceState) -> InstanceState:
    """The state written to JSON text and read back, as the runtime does."""
    import json

    loaded = InstanceState.from_json(json.loads(json.dumps(state.to_json())))
    assert loaded == state
    return loaded


class Ids:
    """A deterministic ``new_id``: "1", "2", ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return str(next(self._counter))


class Instance:
    """Drives one instance and remembers every result and created task."""

    def __init__(self, graph: ProcessGraph, *, now: datetime = NOW) -> None:
        self.graph = graph
        self.now = now
        self.ids = Ids()
        self.results: list[Result] = []
        self.tasks: dict[str, TaskSpec] = {}

    @property
    def result(self) -> Result:
        return self.results[-1]

    def _record(self, result: Result) -> Result:
        self.results.append(result)
        for event in result.events:
            if isinstance(event, TaskCreated):
                self.tasks[event.task.id] = event.task
        return result

    def start(self, variables: Mapping[str, Any] | None = None, *, initiator: str = "alice",
              start_event_id: str | None = None) -> Result:
        return self._record(start(self.graph, variables, initiator=initiator, now=self.now,
                                  new_id=self.ids, start_event_id=start_event_id))

    def open_tasks(self) -> dict[str, str]:
        """Open task id -> node id."""
        return self.result.state.open_tasks()

    def task_at(self, node_id: str) -> TaskSpec:
        """The (single) open task at ``node_id``."""
        found = [task_id for task_id, node in self.open_tasks().items() if node == node_id]
        assert len(found) == 1, f"expected one open task at {node_id}, found {found}"
        return self.tasks[found[0]]

    def complete(self, node_id: str, variables: Mapping[str, Any] | None = None, *,
                 actor: str = "bob", outcome: str | None = None) -> Result:
        task = self.task_at(node_id)
        return self.complete_id(task.id, variables, actor=actor, outcome=outcome)

    def complete_id(self, task_id: str, variables: Mapping[str, Any] | None = None, *,
                    actor: str = "bob", outcome: str | None = None) -> Result:
        return self._record(complete_task(self.graph, self.state, task_id,
                                          variables=variables, actor=actor, now=self.now,
                                          new_id=self.ids, outcome=outcome))

    @property
    def state(self) -> InstanceState:
        """The current state, after a JSON round trip (every step checks it)."""
        return round_trip(self.result.state)

    def tasks_at(self, node_id: str) -> list[str]:
        return [task_id for task_id, node in self.open_tasks().items() if node == node_id]

    def job_at(self, node_id: str) -> str:
        found = [job.id for job in self.result.state.jobs if job.node == node_id]
        assert len(found) == 1, f"expected one job at {node_id}, found {found}"
        return found[0]

    def fire(self, node_id: str, *, at: datetime | None = None) -> Result:
        job_id = self.job_at(node_id)
        return self.call(commands.fire_timer, job_id, now=at)

    def call(self, command: Any, *args: Any, now: datetime | None = None, **kwargs: Any
             ) -> Result:
        """Run any command taking (graph, state, *args, now=, new_id=)."""
        return self._record(command(self.graph, self.state, *args, now=now or self.now,
                                    new_id=self.ids, **kwargs))

    def correlate(self, name: str, key: str | None = None,
                  variables: Mapping[str, Any] | None = None) -> Result:
        return self.call(commands.correlate_message, (name, key), variables=variables)

    def signal(self, name: str, variables: Mapping[str, Any] | None = None) -> Result:
        return self.call(commands.receive_signal, name, variables=variables)

    def work_at(self, node_id: str) -> str:
        found = [w.id for w in self.result.state.works if w.node == node_id]
        assert len(found) == 1, f"expected one work item at {node_id}, found {found}"
        return found[0]

    def op(self, operation: str, *args: Any, **kwargs: Any) -> Result:
        return self.call(getattr(operations, operation), *args, **kwargs)


def event_types(result: Result) -> list[str]:
    return [event.type for event in result.events]


def trace(result: Result) -> list[tuple[str, str]]:
    """(event type, node id) for events that name a node."""
    items = []
    for event in result.events:
        node = getattr(event, "node_id", None)
        if node is None and isinstance(event, TaskCreated):
            node = event.task.node_id
        items.append((event.type, node or ""))
    return items
