"""Who a user task is for, as the modelling tools write it.

Reads the assignment texts of a `userTask` element: our `bpm:assignment` rules,
`assignee`, `candidateUsers`
and `candidateGroups` in the Camunda 7, Activiti and Flowable namespaces,
Camunda 8's `zeebe:assignmentDefinition`, and BPMN's own `potentialOwner` /
`humanPerformer`. Lint uses it to find unassigned tasks and to compile the
expressions inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from bpm_process.bpmn import BPMN_NS
from bpm_process.namespaces import BPM_NS

CAMUNDA7_NS = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
ENGINE_NAMESPACES = {CAMUNDA7_NS: "camunda", ACTIVITI_NS: "activiti", FLOWABLE_NS: "flowable"}

Kind = Literal["single", "list", "rules"]
"""`single`: one value (an assignee); `list`: comma-separated names or a list expression;
`rules`: our `bpm:assignment` rule list (`role:cashier, manager:2`)."""

_ATTRIBUTES: tuple[tuple[str, Kind], ...] = (
    ("assignee", "single"),
    ("candidateUsers", "list"),
    ("candidateGroups", "list"),
)
_PERFORMERS = ("potentialOwner", "humanPerformer")


@dataclass(frozen=True, slots=True)
class AssignmentText:
    """One place of a task that names who may work it."""

    where: str
    """Where it was found, as a modeller would name it (`camunda:candidateGroups`)."""
    text: str
    kind: Kind


def assignment_texts(element: etree._Element) -> list[AssignmentText]:
    """Every non-empty assignment text of a user task element, in a stable order."""
    found: list[AssignmentText] = []
    _add(found, "bpm:assignment", element.get(f"{{{BPM_NS}}}assignment"), "rules")
    for namespace, prefix in ENGINE_NAMESPACES.items():
        for name, kind in _ATTRIBUTES:
            _add(found, f"{prefix}:{name}", element.get(f"{{{namespace}}}{name}"), kind)
    for definition in element.iter(f"{{{ZEEBE_NS}}}assignmentDefinition"):
        for name, kind in _ATTRIBUTES:
            _add(found, f"zeebe:assignmentDefinition {name}", definition.get(name), kind)
    for performer in _PERFORMERS:
        for child in element.findall(f"{{{BPMN_NS}}}{performer}"):
            _add(found, performer, _performer_text(child), "single")
    return found


def due_date_texts(element: etree._Element) -> list[AssignmentText]:
    """The `dueDate` attributes of a user task (engine namespaces and `zeebe:taskSchedule`)."""
    found: list[AssignmentText] = []
    for namespace, prefix in ENGINE_NAMESPACES.items():
        _add(found, f"{prefix}:dueDate", element.get(f"{{{namespace}}}dueDate"), "single")
    for schedule in element.iter(f"{{{ZEEBE_NS}}}taskSchedule"):
        _add(found, "zeebe:taskSchedule dueDate", schedule.get("dueDate"), "single")
    return found


def _performer_text(performer: etree._Element) -> str | None:
    """The formal expression of a performer, or its `resourceRef`."""
    for expression in performer.iter(f"{{{BPMN_NS}}}formalExpression"):
        text = "".join(expression.itertext()).strip()
        if text:
            return text
    reference = performer.find(f"{{{BPMN_NS}}}resourceRef")
    if reference is not None and (reference.text or "").strip():
        return (reference.text or "").strip()
    return None


def _add(found: list[AssignmentText], where: str, value: str | None, kind: Kind) -> None:
    if value is not None and value.strip():
        found.append(AssignmentText(where, value.strip(), kind))
