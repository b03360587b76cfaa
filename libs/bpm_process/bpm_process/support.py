"""What the runtime executes: the one list both the designer's lint and the engine's compiler use.

Keys are BPMN flow-node tags; values are the event-definition kinds accepted on
that element (`None` = no event definition).
"""

from __future__ import annotations

EXECUTABLE_FLOW_NODES: dict[str, frozenset[str | None]] = {
    "startEvent": frozenset({None, "message"}),
    "endEvent": frozenset({None, "terminate"}),
    "userTask": frozenset({None}),
    "task": frozenset({None}),
    "manualTask": frozenset({None}),
    "exclusiveGateway": frozenset({None}),
    "parallelGateway": frozenset({None}),
}


def is_executable(tag: str, event_kind: str | None = None) -> bool:
    kinds = EXECUTABLE_FLOW_NODES.get(tag)
    return kinds is not None and event_kind in kinds
