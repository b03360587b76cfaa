"""What the runtime executes: the one list both the designer's lint and the engine's
compiler use.

Keys of :data:`EXECUTABLE_FLOW_NODES` are BPMN flow-node tags; values are the
event-definition kinds accepted on that element (``None`` = no event definition).
:func:`unsupported_reason` adds the finer rules (several event definitions, loops and
multi-instance, compensation, event sub-processes) and says why in words a modeller
understands.
"""

from __future__ import annotations

from bpm_process.bpmn import FlowNode

__all__ = ["EXECUTABLE_FLOW_NODES", "is_executable", "unsupported_reason"]

EXECUTABLE_FLOW_NODES: dict[str, frozenset[str | None]] = {
    "startEvent": frozenset({None, "message"}),
    "endEvent": frozenset({None, "terminate"}),
    "intermediateThrowEvent": frozenset({None}),
    "userTask": frozenset({None}),
    "task": frozenset({None}),
    "manualTask": frozenset({None}),
    "exclusiveGateway": frozenset({None}),
    "parallelGateway": frozenset({None}),
    "subProcess": frozenset({None}),
}

_ACTIVITY_KINDS = frozenset(
    {"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask",
     "scriptTask", "businessRuleTask", "callActivity", "subProcess", "transaction",
     "adHocSubProcess"}
)
_LOOP_TAGS = ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics")
_NOT_YET = {
    "serviceTask": "service tasks are not supported yet",
    "sendTask": "send tasks are not supported yet",
    "receiveTask": "receive tasks are not supported yet",
    "scriptTask": "script tasks are not supported yet",
    "businessRuleTask": "business rule tasks are not supported yet",
    "callActivity": "call activities are not supported yet",
    "transaction": "transaction sub-processes are not supported yet",
    "adHocSubProcess": "ad-hoc sub-processes are not supported yet",
    "boundaryEvent": "boundary events are not supported yet",
    "intermediateCatchEvent": "intermediate catch events are not supported yet",
    "implicitThrowEvent": "implicit throw events are not supported",
    "inclusiveGateway": "inclusive gateways are not supported yet",
    "eventBasedGateway": "event-based gateways are not supported yet",
    "complexGateway": "complex gateways are not supported",
}
_EVENT_LABELS = {
    "startEvent": "start event",
    "endEvent": "end event",
    "intermediateThrowEvent": "intermediate throw event",
    "intermediateCatchEvent": "intermediate catch event",
    "boundaryEvent": "boundary event",
}


def is_executable(tag: str, event_kind: str | None = None) -> bool:
    """True when the runtime executes a ``tag`` element with this event definition."""
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
            return f"a {kind} {label} is not supported yet"
        return _NOT_YET.get(node.kind, f"{node.kind} is not supported")
    if node.kind in _ACTIVITY_KINDS:
        for child in node.element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag.endswith(_LOOP_TAGS):
                what = "multi-instance" if "multiInstance" in tag else "loop"
                return f"{what} activities are not supported yet"
        if (node.element.get("isForCompensation") or "").strip().lower() == "true":
            return "compensation activities are not supported yet"
    if node.kind == "subProcess" and node.triggered_by_event:
        return "event sub-processes are not supported yet"
    if node.kind == "startEvent" and kind is not None and not top_level:
        return "a sub-process must start with a start event without an event definition"
    return None
