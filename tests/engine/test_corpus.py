"""The MIWG reference models: every process either compiles or is refused with a
BpmnError that names elements; the ones that compile run to their end."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpm_process.bpmn import read_definitions
from bpm_process.engine import (
    ExpressionFailed,
    NoPathFound,
    StepLimitExceeded,
    compile_process,
)
from bpm_process.errors import BpmnError

from .support import Instance

CORPUS_FILES = sorted(Path("/work/shared/corpus/bpmn-miwg").glob("*.bpmn"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_reference_models_compile_or_are_refused_cleanly(path):
    definitions = read_definitions(path.read_bytes())
    for process in definitions.processes:
        try:
            graph = compile_process(definitions, process.id)
        except BpmnError as exc:
            assert exc.errors
            assert all(entry["element_id"] for entry in exc.errors)
            continue
        if not graph.start_events:
            continue
        instance = Instance(graph)
        try:
            result = instance.start(start_event_id=graph.start_events[0])
            while result.status == "active" and result.state.open_tasks():
                node = next(iter(result.state.open_tasks().values()))
                result = instance.complete(node)
        except (NoPathFound, StepLimitExceeded, ExpressionFailed) as exc:
            # Without the model's data a gateway may find no way or loop for ever: a
            # clean, typed refusal naming the element
            assert exc.element_id
            continue
        assert result.status in ("completed", "active")
