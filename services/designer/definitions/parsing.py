"""Reading an uploaded BPMN document in two safe steps, so the caller knows which step failed.

1. `parse_xml` (bpm_process.xml): is it acceptable XML at all? Not well-formed, a
   DOCTYPE, too deep → `XmlRefused` (HTTP 400).
2. `read_definitions` (bpm_process.bpmn): is it a BPMN 2.0 document? Wrong root, no
   ids, duplicate ids, dangling references → `BpmnInvalid` (HTTP 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from bpm_process.bpmn import Definitions, Process, read_definitions
from bpm_process.xml import BpmnError, parse_xml


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_depth: int


class ModelProblem(Exception):
    """The document cannot be read; `errors` are bpm_process error entries."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class XmlRefused(ModelProblem):
    """Not XML, or XML the service refuses to read (DOCTYPE, too deep)."""


class BpmnInvalid(ModelProblem):
    """Well-formed XML, but not a readable BPMN 2.0 document."""

    def __init__(self, message: str, errors: list[dict[str, Any]], root: etree._Element) -> None:
        super().__init__(message, errors)
        self.root = root


@dataclass(frozen=True, slots=True)
class ParsedModel:
    root: etree._Element
    definitions: Definitions


def parse_model(data: bytes, limits: Limits) -> ParsedModel:
    """Both steps; raises `XmlRefused` or `BpmnInvalid`."""
    try:
        root = parse_xml(data, max_bytes=limits.max_bytes, max_depth=limits.max_depth)
    except BpmnError as exc:
        raise XmlRefused(exc.message, [dict(e) for e in exc.errors]) from None
    try:
        definitions = read_definitions(data, max_bytes=limits.max_bytes, max_depth=limits.max_depth)
    except BpmnError as exc:
        raise BpmnInvalid(exc.message, [dict(e) for e in exc.errors], root) from None
    return ParsedModel(root, definitions)


@dataclass(frozen=True, slots=True)
class ProcessChoice:
    """The process a definition stands for (the one that runs), or why there is none."""

    process: Process | None
    executable: bool
    extra_executables: tuple[Process, ...] = ()


def choose_process(definitions: Definitions) -> ProcessChoice:
    """The executable process; failing that, the first process (not executable).

    Several executable processes: the first is chosen and the others are listed in
    `extra_executables`, which the caller reports as an error.
    """
    executables = definitions.executable_processes
    if executables:
        return ProcessChoice(executables[0], True, executables[1:])
    if definitions.processes:
        return ProcessChoice(definitions.processes[0], False)
    return ProcessChoice(None, False)
