"""A structural diff of two versions: what a reviewer of a process change wants to see.

Each version is reduced to a snapshot of its executable process (or its first
process) - nodes, flows, conditions, assignments, time limits and forms - and the
snapshots are compared id by id. Layout, documentation order and formatting are
not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpm_process.bpmn import FlowNode, Process
from bpm_process.namespaces import BPM_NS, BPMN_NS
from services.designer.bpmn.document import form_key_of, read_raci
from services.designer.definitions.assignment import assignment_texts, due_date_texts
from services.designer.definitions.parsing import Limits, choose_process, parse_model

CATEGORIES = ("nodes", "flows", "conditions", "assignments", "time_limits", "forms")
_APPROVAL = ("approval", "signMode", "passRatio", "passVotes", "rejectEnds", "rejectAction")
_TIME = ("timeLimit", "remindBefore", "timeoutAction", "timeoutReassignTo")
_TIMERS = ("timeDate", "timeDuration", "timeCycle")

Snapshot = dict[str, dict[str, Any]]


def snapshot(data: bytes, limits: Limits, forms: Mapping[str, Any]) -> Snapshot:
    """The comparable content of one version (`forms`: name → form JSON)."""
    parsed = parse_model(data, limits)
    process = choose_process(parsed.definitions).process
    result: Snapshot = {category: {} for category in CATEGORIES}
    if process is not None:
        _read_process(process, result)
    result["forms"] = {name: form for name, form in forms.items()}
    return result


def _read_process(process: Process, result: Snapshot) -> None:
    for node in process.iter_flow_nodes():
        result["nodes"][node.id] = _node(node)
        assignment = {t.where: t.text for t in assignment_texts(node.element)}
        raci = read_raci(node.element)
        if raci is not None:
            assignment.update({f"raci.{role}": value for role, value in raci.items()})
        for name in _APPROVAL:
            value = node.element.get(f"{{{BPM_NS}}}{name}")
            if value is not None:
                assignment[f"bpm:{name}"] = value
        copy_to = node.element.get(f"{{{BPM_NS}}}copyTo")
        if copy_to is not None:
            assignment["bpm:copyTo"] = copy_to
        if assignment:
            result["assignments"][node.id] = assignment
        limits = _time_limits(node)
        if limits:
            result["time_limits"][node.id] = limits
    for flow in process.flows_by_id.values():
        result["flows"][flow.id] = {"source": flow.source, "target": flow.target, "name": flow.name}
        if flow.condition is not None:
            result["conditions"][flow.id] = flow.condition


def _node(node: FlowNode) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": node.kind, "name": node.name}
    if node.event_definitions:
        body["events"] = list(node.event_definitions)
    if node.default:
        body["default"] = node.default
    if node.attached_to:
        body["attached_to"] = node.attached_to
    form = form_key_of(node.element)
    if form:
        body["form"] = form
    if node.element.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics") is not None:
        loop = node.element.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
        body["multi_instance"] = "sequential" if loop.get("isSequential") == "true" else "parallel"
    return body


def _time_limits(node: FlowNode) -> dict[str, str]:
    found = {t.where: t.text for t in due_date_texts(node.element)}
    for name in _TIME:
        value = node.element.get(f"{{{BPM_NS}}}{name}")
        if value is not None:
            found[f"bpm:{name}"] = value
    for definition in node.event_definition_elements:
        for name in _TIMERS:
            child = definition.find(f"{{{BPMN_NS}}}{name}")
            if child is not None:
                found[f"timer.{name}"] = "".join(child.itertext()).strip()
    return found


def compare(before: Snapshot, after: Snapshot) -> dict[str, dict[str, list[Any]]]:
    """Per category: ids added (with their value), removed, and changed (before/after)."""
    result: dict[str, dict[str, list[Any]]] = {}
    for category in CATEGORIES:
        old, new = before.get(category, {}), after.get(category, {})
        result[category] = {
            "added": [{"id": k, "value": new[k]} for k in sorted(new.keys() - old.keys())],
            "removed": [{"id": k, "value": old[k]} for k in sorted(old.keys() - new.keys())],
            "changed": [
                {"id": k, "before": old[k], "after": new[k]}
                for k in sorted(old.keys() & new.keys())
                if old[k] != new[k]
            ],
        }
    return result


def is_empty(diff: Mapping[str, Mapping[str, list[Any]]]) -> bool:
    return not any(change for category in diff.values() for change in category.values())
