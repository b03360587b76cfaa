"""Helpers for engine tests: load models, count ids, drive an instance by node id."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.runtime.engine import (
    ProcessGraph,
    Result,
    TaskCreated,
    TaskSpec,
    compile_bpmn,
    complete_task,
    start,
)

MODELS = Path(__file__).parent / "models"
NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def load(name: str) -> ProcessGraph:
    """Compile a model from ``tests/engine/models``."""
    return compile_bpmn((MODELS / name).read_bytes())


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
                 actor: str = "bob") -> Result:
        task = self.task_at(node_id)
        return self._record(complete_task(self.graph, self.result.state, task.id,
                                          variables=variables, actor=actor, now=self.now,
                                          new_id=self.ids))


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
