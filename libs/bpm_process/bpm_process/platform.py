"""Checks of the platform's people and time extensions on one flow node, shared by the
designer's lint and the engine's compiler (which refuses a model with any of them).

Covered: ``bpm:assignment`` (user tasks), ``bpm:timeLimit``, ``bpm:remindBefore``,
``bpm:timeoutAction``, ``bpm:timeoutReassignTo`` (user tasks), ``bpm:copyTo`` (an
intermediate throw event without an event definition) and ``<bpm:raci>`` (any flow
node). See docs/bpmn-extensions.md.
"""

from __future__ import annotations

from bpm_process.assignment import AssignmentRuleError, parse_rules, rule_texts
from bpm_process.bpmn import FlowNode
from bpm_process.expressions import ExpressionError, compile_value, is_expression
from bpm_process.isotime import parse_duration
from bpm_process.namespaces import ACTIVITI_NS, BPM_NS, BPMN_NS, CAMUNDA_NS, FLOWABLE_NS, ZEEBE_NS
from bpm_process.timelimits import TIMEOUT_ACTIONS, parse_working_duration

__all__ = ["TASK_ATTRIBUTES", "extension_problems", "has_due_date"]

TASK_ATTRIBUTES = ("assignment", "signers", "timeLimit", "remindBefore", "timeoutAction", "timeoutReassignTo")
"""``bpm`` attributes read on user tasks only."""


def extension_problems(node: FlowNode) -> list[str]:
    """What is wrong with the people and time extensions of ``node`` (empty: nothing)."""
    element = node.element
    problems: list[str] = []
    for where, text in rule_texts(element):
        try:
            parse_rules(text)
        except AssignmentRuleError as exc:
            problems.append(f"{where}: {exc}")
    if node.kind != "userTask":
        for attribute in TASK_ATTRIBUTES:
            if element.get(f"{{{BPM_NS}}}{attribute}") is not None:
                problems.append(f"bpm:{attribute} is only read on a user task")
    else:
        problems.extend(_time_limit_problems(node))
        if element.get(f"{{{BPM_NS}}}signers") is not None and element.find(
            f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"
        ) is None:
            problems.append("bpm:signers is only read on a multi-instance user task (a countersign)")
    if element.get(f"{{{BPM_NS}}}copyTo") is not None and (
        node.kind != "intermediateThrowEvent" or node.event_definitions
    ):
        problems.append(
            "bpm:copyTo is only read on an intermediate throw event without an "
            "event definition (a copy node)"
        )
    return problems


def has_due_date(node: FlowNode) -> bool:
    """Whether a user task sets a ``dueDate`` in one of the vendor dialects."""
    element = node.element
    for namespace in (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS):
        if (element.get(f"{{{namespace}}}dueDate") or "").strip():
            return True
    extension = element.find(f"{{{BPMN_NS}}}extensionElements")
    schedule = extension.find(f"{{{ZEEBE_NS}}}taskSchedule") if extension is not None else None
    return schedule is not None and bool((schedule.get("dueDate") or "").strip())


def _time_limit_problems(node: FlowNode) -> list[str]:
    element = node.element

    def attribute(name: str) -> str | None:
        value = element.get(f"{{{BPM_NS}}}{name}")
        return None if value is None else value.strip()

    problems: list[str] = []
    limit = attribute("timeLimit")
    if limit is not None:
        problems.extend(_limit_problems(limit))
    remind = attribute("remindBefore")
    if remind is not None:
        if limit is None:
            problems.append("bpm:remindBefore needs bpm:timeLimit")
        else:
            try:
                duration = parse_duration(remind)
                if duration.negative:
                    raise ValueError(f"{remind!r} is negative")
            except ValueError as exc:
                problems.append(f"bpm:remindBefore: {exc}")
    action = attribute("timeoutAction")
    if action is not None:
        if action not in TIMEOUT_ACTIONS:
            problems.append(
                f"bpm:timeoutAction must be one of {', '.join(TIMEOUT_ACTIONS)}, not {action!r}"
            )
        elif limit is None and not has_due_date(node):
            problems.append("bpm:timeoutAction needs bpm:timeLimit or a dueDate")
        elif (
            action in ("auto_approve", "auto_reject")
            and (attribute("approval") or "").lower() != "true"
        ):
            problems.append(f'bpm:timeoutAction="{action}" needs bpm:approval="true"')
        elif action == "reassign" and not attribute("timeoutReassignTo"):
            problems.append('bpm:timeoutAction="reassign" needs bpm:timeoutReassignTo')
    if attribute("timeoutReassignTo") is not None and action != "reassign":
        problems.append('bpm:timeoutReassignTo needs bpm:timeoutAction="reassign"')
    return problems


def _limit_problems(text: str) -> list[str]:
    if is_expression(text):
        try:
            compile_value(text)
        except ExpressionError as exc:
            return [f"bpm:timeLimit: {exc}"]
        return []
    try:
        parse_working_duration(text)
    except ValueError as exc:
        return [f"bpm:timeLimit: {exc}"]
    return []
