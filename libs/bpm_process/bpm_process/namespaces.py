"""XML namespaces of the BPMN dialects the platform reads, and our own extension
namespace.

Our extension attributes and elements live in :data:`BPM_NS` (conventional prefix
``bpm``). They configure what BPMN itself leaves to the engine: approval semantics on
user tasks (``bpm:approval``, ``bpm:signMode`` ...), the HTTP connector
(``<bpm:http>``), message correlation keys (``bpm:correlationKey``) and retries
(``bpm:retries``). The engine's design note lists them all.
"""

from __future__ import annotations

__all__ = [
    "ACTIVITI_NS",
    "BPMN_NS",
    "BPM_NS",
    "BPM_PREFIX",
    "CAMUNDA_NS",
    "FLOWABLE_NS",
    "ZEEBE_NS",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPM_NS = "http://bpm-platform.org/schema/bpmn/1.0"
"""The platform's own extension namespace."""
BPM_PREFIX = "bpm"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
