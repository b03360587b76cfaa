"""What the runtime executes: the one list both the designer's lint and the engine's
compiler use.

Keys of :data:`EXECUTABLE_FLOW_NODES` are BPMN flow-node tags; values are the
event-definition kinds accepted on that element (``None`` = no event definition).
:func:`unsupported_reason` adds the finer rules (several event definitions, standard
loops, compensation, script tasks, automated tasks without a worker or connector) and
says why in words a modeller understands.
"""

from __future__ import annotations

from bpm_process.bpmn import BPMN_NS, FlowNode
from bpm_process.namespaces import BPM_NS, CAMUNDA_NS, FLOWABLE_NS, ZEEBE_NS

__all__ = ["AUTOMATED_TASKS", "EXECUTABLE_FLOW_NODES", "is_executable", "unsupported_reason"]

_CATCHABLE = frozenset({"message", "signal", "timer"})
EXECUTABLE_FLOW_NODES: dict[str, frozenset[str | None]] = {
    "startEvent": frozenset({None, "message", "signal", "timer", "error", "escalation"}),
    "endEvent": frozenset({None, "terminate", "message", "signal", "error", "escalation"}),
    "intermediateThrowEvent": frozenset({None, "message", "signal", "escalation"}),
    "intermediateCatchEvent": _CATCHABLE,
    "boundaryEvent": frozenset({"message", "signal", "timer", "error", "escalation"}),
    "userTask": frozenset({None}),
    "task": frozenset({None}),
    "manualTask": frozenset({None}),
    "serviceTask": frozenset({None}),
    "sendTask": frozenset({None}),
    "businessRuleTask": frozenset({None}),
    "receiveTask": frozenset({None}),
    "callActivity": frozenset({None}),
    "exclusiveGateway": frozenset({None}),
    "parallelGateway": frozenset({None}),
    "inclusiveGateway": frozenset({None}),
    "eventBasedGateway": frozenset({None}),
    "subProcess": frozenset({None}),
}

AUTOMATED_TASKS = frozenset({"serviceTask", "sendTask", "businessRuleTask"})
"""Task kinds that run as work for an external worker or the HTTP connector."""

_ACTIVITY_KINDS = frozenset(
    {"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask",
     "scriptTask", "businessRuleTask", "callActivity", "subProcess", "transaction",
     "adHocSubProcess"}
)
_MULTI_INSTANCE_KINDS = frozenset(
    {"userTask", "subProcess", "serviceTask", "sendTask", "businessRuleTask", "callActivity",
     "task", "manualTask", "receiveTask"}
)
_NOT_YET = {
    "scriptTask": "script tasks are not supported: the engine runs no code; use a service "
                  "task for an external worker or the bpm:http connector",
    "transaction": "transaction sub-processes are not supported yet",
    "adHocSubProcess": "ad-hoc sub-processes are not supported yet",
    "implicitThrowEvent": "implicit throw events are not supported",
    "complexGateway": "complex gateways are not supported",
}
_EVENT_LABELS = {
    "startEvent": "start event",
    "endEvent": "end event",
    "intermediateThrowEvent": "intermediate throw event",
    "intermediateCatchEvent": "intermediate catch event",
    "boundaryEvent": "boundary event",
}
_EXTERNAL_TYPES = ("external", "external-worker")


def is_executable(tag: str, event_kind: str | None = None) -> bool:
    """True when the runtime executes a ``tag`` element with this event definition
    (given the configuration :func:`unsupported_reason` checks)."""
    kinds = EXECUTABLE_FLOW_NODES.get(tag)
    return kinds is not None and event_kind in kinds


def unsupported_reason(node: FlowNode, *, top_level: bool = True) -> str | None:
    """Why the runtime cannot execute ``node``, or ``None`` when it can.

    ``top_level`` is False for nodes inside a sub-process.
    """
    kinds = node.event_definitions
    label = _EVENT_LABELS.get(node.kind, node.kind)
    if len(kinds) > 1:
        return f"a {label} with several event definitions is not supported"
    kind = kinds[0] if kinds else None
    if not is_executable(node.kind, kind):
        if kind is not None and node.kind in _EVENT_LABELS:
            return f"a {kind} {label} is not supported"
        return _NOT_YET.get(node.kind, f"{node.kind} is not supported")
    if node.kind in _ACTIVITY_KINDS:
        reason = _activity_reason(node)
        if reason is not None:
            return reason
    if node.kind == "subProcess" and node.triggered_by_event:
        starts = [child for child in node.flow_nodes if child.kind == "startEvent"]
        if len(starts) != 1 or not starts[0].event_definitions:
            return ("an event sub-process needs exactly one start event with a message, "
                    "signal, timer, error or escalation definition")
    if node.kind == "startEvent" and kind is not None and not top_level \
            and not node.element.getparent().get("triggeredByEvent", "").strip() == "true":
        return "a sub-process must start with a start event without an event definition"
    if node.kind == "boundaryEvent" and not node.attached_to:
        return "a boundary event must be attached to an activity (attachedToRef)"
    if kind == "timer":
        return _timer_reason(node)
    return None


def _activity_reason(node: FlowNode) -> str | None:
    for child in node.element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag.endswith("standardLoopCharacteristics"):
            return "standard loops are not supported; use a multi-instance activity or a " \
                   "sequence flow back"
        if tag.endswith("multiInstanceLoopCharacteristics") and \
                node.kind not in _MULTI_INSTANCE_KINDS:
            return f"multi-instance {node.kind} is not supported"
    if (node.element.get("isForCompensation") or "").strip().lower() == "true":
        return "compensation activities are not supported yet"
    if node.kind in AUTOMATED_TASKS and not _has_worker(node):
        if node.kind == "sendTask" and node.element.get("messageRef"):
            return None
        if node.kind == "businessRuleTask" and _attribute(node, "decisionRef"):
            return "business rule tasks with DMN decisions are not supported; use an " \
                   "external worker (camunda:type=\"external\") or zeebe:taskDefinition"
        return (f"a {node.kind} needs a worker: camunda:type=\"external\" with "
                "camunda:topic, zeebe:taskDefinition, or a bpm:http connector")
    return None


def _has_worker(node: FlowNode) -> bool:
    element = node.element
    for namespace in (CAMUNDA_NS, FLOWABLE_NS):
        kind = (element.get(f"{{{namespace}}}type") or "").strip()
        if kind in _EXTERNAL_TYPES:
            return True
    extension = element.find(f"{{{BPMN_NS}}}extensionElements")
    if extension is None:
        return False
    return (extension.find(f"{{{ZEEBE_NS}}}taskDefinition") is not None
            or extension.find(f"{{{BPM_NS}}}http") is not None)


def _attribute(node: FlowNode, name: str) -> str | None:
    for namespace in (CAMUNDA_NS, FLOWABLE_NS):
        value = node.element.get(f"{{{namespace}}}{name}")
        if value:
            return value
    return None


def _timer_reason(node: FlowNode) -> str | None:
    for definition in node.event_definition_elements:
        for child in definition:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in (f"{{{BPMN_NS}}}timeDate", f"{{{BPMN_NS}}}timeDuration",
                       f"{{{BPMN_NS}}}timeCycle") and "".join(child.itertext()).strip():
                return None
    return "a timer needs a timeDate, timeDuration or timeCycle"
