"""A neutral reader for BPMN 2.0 models.

:func:`read_definitions` turns the bytes of a ``.bpmn`` file into plain, immutable
records: the processes of the document with their flow nodes (nested for
sub-processes) and sequence flows. It does not judge whether a model can be executed;
that is the job of the engine's compiler and of the designer's lint, which both start
from these records. Each record keeps its lxml element so that vendor extensions
(``camunda:assignee``, ``zeebe:assignmentDefinition`` ...) can be read later.

The root element must be ``definitions`` in the BPMN 2.0 model namespace; the prefix
does not matter (``bpmn:``, ``bpmn2:``, ``semantic:``, ``model:`` or none).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lxml import etree

from bpm_process.errors import BpmnError, ErrorEntry, error_entry
from bpm_process.xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_xml

__all__ = [
    "BPMN_NS",
    "FLOW_NODE_KINDS",
    "SUBPROCESS_KINDS",
    "Definitions",
    "FlowNode",
    "Process",
    "RootElement",
    "SequenceFlow",
    "read_definitions",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

SUBPROCESS_KINDS = frozenset({"subProcess", "transaction", "adHocSubProcess"})

FLOW_NODE_KINDS = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "scriptTask",
        "businessRuleTask",
        "callActivity",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
        *SUBPROCESS_KINDS,
    }
)

_EVENT_DEFINITION_SUFFIX = "EventDefinition"
_ROOT_EVENT_DEFINITIONS = frozenset(
    {
        "messageEventDefinition",
        "timerEventDefinition",
        "errorEventDefinition",
        "signalEventDefinition",
        "escalationEventDefinition",
        "conditionalEventDefinition",
        "linkEventDefinition",
        "compensateEventDefinition",
        "cancelEventDefinition",
        "terminateEventDefinition",
    }
)


#: the longest element id and name a model may have (the columns that keep them)
MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 500

def _q(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    """A sequence flow between two flow nodes of the same container."""

    id: str
    source: str
    target: str
    name: str | None
    condition: str | None
    """Text of ``conditionExpression``, stripped; ``None`` when there is none."""
    condition_language: str | None
    """The ``language`` attribute of ``conditionExpression``, if given."""
    element: etree._Element = field(repr=False, compare=False)
    line: int | None = None


@dataclass(frozen=True, slots=True)
class FlowNode:
    """An event, activity or gateway.

    ``kind`` is the BPMN local tag name (``userTask``, ``exclusiveGateway`` ...).
    ``incoming``/``outgoing`` are ids of sequence flows, derived from the flows'
    ``sourceRef``/``targetRef`` in document order. ``event_definitions`` holds the kinds
    of the event definitions (``message``, ``timer``, ``terminate`` ...). Sub-processes
    carry their own ``flow_nodes`` and ``sequence_flows``.
    """

    id: str
    kind: str
    name: str | None
    incoming: tuple[str, ...]
    outgoing: tuple[str, ...]
    event_definitions: tuple[str, ...]
    attached_to: str | None
    cancel_activity: bool
    default: str | None
    documentation: str | None
    flow_nodes: tuple[FlowNode, ...]
    sequence_flows: tuple[SequenceFlow, ...]
    element: etree._Element = field(repr=False, compare=False)
    event_definition_elements: tuple[etree._Element, ...] = field(
        default=(), repr=False, compare=False
    )
    line: int | None = None
    triggered_by_event: bool = False
    """True for an event sub-process (``triggeredByEvent="true"``)."""

    @property
    def is_container(self) -> bool:
        return self.kind in SUBPROCESS_KINDS

    def iter_flow_nodes(self) -> Iterator[FlowNode]:
        """Every flow node nested inside this one, depth first."""
        for node in self.flow_nodes:
            yield node
            yield from node.iter_flow_nodes()


@dataclass(frozen=True, slots=True)
class Process:
    """A ``process`` element with its top-level flow nodes and sequence flows."""

    id: str
    name: str | None
    is_executable: bool
    flow_nodes: tuple[FlowNode, ...]
    sequence_flows: tuple[SequenceFlow, ...]
    element: etree._Element = field(repr=False, compare=False)
    nodes_by_id: Mapping[str, FlowNode] = field(repr=False, compare=False, default_factory=dict)
    """Every flow node of the process, nested ones included, by id."""
    flows_by_id: Mapping[str, SequenceFlow] = field(
        repr=False, compare=False, default_factory=dict
    )
    """Every sequence flow of the process, nested ones included, by id."""
    line: int | None = None

    def iter_flow_nodes(self) -> Iterator[FlowNode]:
        """Every flow node of the process, depth first, in document order."""
        for node in self.flow_nodes:
            yield node
            yield from node.iter_flow_nodes()


@dataclass(frozen=True, slots=True)
class RootElement:
    """A top-level ``message``, ``signal``, ``error`` or ``escalation``."""

    id: str
    name: str | None
    code: str | None
    """``errorCode`` or ``escalationCode`` where the element has one."""
    element: etree._Element = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Definitions:
    """A whole BPMN document."""

    id: str | None
    name: str | None
    target_namespace: str | None
    exporter: str | None
    exporter_version: str | None
    processes: tuple[Process, ...]
    messages: Mapping[str, RootElement]
    signals: Mapping[str, RootElement]
    errors: Mapping[str, RootElement]
    escalations: Mapping[str, RootElement]
    root: etree._Element = field(repr=False, compare=False)

    def process(self, process_id: str) -> Process:
        """The process with this id; ``KeyError`` if there is none."""
        for process in self.processes:
            if process.id == process_id:
                return process
        raise KeyError(process_id)

    @property
    def executable_processes(self) -> tuple[Process, ...]:
        return tuple(p for p in self.processes if p.is_executable)


def read_definitions(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Definitions:
    """Read a BPMN 2.0 document; raise :class:`BpmnError` for anything unreadable."""
    root = parse_xml(data, max_bytes=max_bytes, max_depth=max_depth)
    if root.tag != _q("definitions"):
        raise BpmnError(
            "not a BPMN 2.0 document: the root element must be 'definitions' in the "
            f"namespace {BPMN_NS}",
        )
    return _Reader(root).read()


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.problems: list[ErrorEntry] = []
        self.seen_ids: dict[str, int | None] = {}
        self.root_event_definitions: dict[str, etree._Element] = {}

    def read(self) -> Definitions:
        root = self.root
        tables: dict[str, dict[str, RootElement]] = {
            "message": {},
            "signal": {},
            "error": {},
            "escalation": {},
        }
        for child in root:
            local = _bpmn_local(child)
            if local is None:
                continue
            if local in tables:
                element_id = child.get("id")
                if element_id:
                    self._bounded(element_id, child)
                    code = child.get("errorCode") or child.get("escalationCode")
                    tables[local][element_id] = RootElement(
                        element_id, child.get("name"), code, child
                    )
            elif local in _ROOT_EVENT_DEFINITIONS:
                element_id = child.get("id")
                if element_id:
                    self.root_event_definitions[element_id] = child

        processes = [self._process(child) for child in root if child.tag == _q("process")]
        if self.problems:
            raise BpmnError("the BPMN document is inconsistent", self.problems)
        return Definitions(
            id=root.get("id"),
            name=root.get("name"),
            target_namespace=root.get("targetNamespace"),
            exporter=root.get("exporter"),
            exporter_version=root.get("exporterVersion"),
            processes=tuple(processes),
            messages=MappingProxyType(tables["message"]),
            signals=MappingProxyType(tables["signal"]),
            errors=MappingProxyType(tables["error"]),
            escalations=MappingProxyType(tables["escalation"]),
            root=root,
        )

    def _process(self, element: etree._Element) -> Process:
        process_id = element.get("id")
        if not process_id:
            self._problem(None, "a process has no id", element)
            process_id = ""
        nodes_by_id: dict[str, FlowNode] = {}
        flows_by_id: dict[str, SequenceFlow] = {}
        nodes, flows = self._container(element, nodes_by_id, flows_by_id)
        return Process(
            id=process_id,
            name=element.get("name"),
            is_executable=_boolean(element.get("isExecutable"), default=False),
            flow_nodes=nodes,
            sequence_flows=flows,
            element=element,
            nodes_by_id=MappingProxyType(nodes_by_id),
            flows_by_id=MappingProxyType(flows_by_id),
            line=element.sourceline,
        )

    def _container(
        self,
        element: etree._Element,
        nodes_by_id: dict[str, FlowNode],
        flows_by_id: dict[str, SequenceFlow],
    ) -> tuple[tuple[FlowNode, ...], tuple[SequenceFlow, ...]]:
        node_elements: list[tuple[str, etree._Element]] = []
        flows: list[SequenceFlow] = []
        for child in element:
            local = _bpmn_local(child)
            if local is None:
                continue
            if local == "sequenceFlow":
                flow = self._sequence_flow(child)
                if flow is not None:
                    flows.append(flow)
                    flows_by_id[flow.id] = flow
            elif local in FLOW_NODE_KINDS:
                node_elements.append((local, child))

        incoming: dict[str, list[str]] = {}
        outgoing: dict[str, list[str]] = {}
        for flow in flows:
            outgoing.setdefault(flow.source, []).append(flow.id)
            incoming.setdefault(flow.target, []).append(flow.id)

        nodes: list[FlowNode] = []
        for local, child in node_elements:
            node = self._flow_node(local, child, incoming, outgoing, nodes_by_id, flows_by_id)
            if node is not None:
                nodes.append(node)
                nodes_by_id[node.id] = node
        return tuple(nodes), tuple(flows)

    def _flow_node(
        self,
        kind: str,
        element: etree._Element,
        incoming: dict[str, list[str]],
        outgoing: dict[str, list[str]],
        nodes_by_id: dict[str, FlowNode],
        flows_by_id: dict[str, SequenceFlow],
    ) -> FlowNode | None:
        node_id = element.get("id")
        if not node_id:
            self._problem(None, f"a {kind} has no id", element)
            return None
        self._register_id(node_id, element)
        self._bounded(node_id, element)

        definitions: list[str] = []
        definition_elements: list[etree._Element] = []
        for child in element:
            local = _bpmn_local(child)
            if local is None:
                continue
            if local.endswith(_EVENT_DEFINITION_SUFFIX) and local != "eventDefinitionRef":
                definitions.append(local[: -len(_EVENT_DEFINITION_SUFFIX)])
                definition_elements.append(child)
            elif local == "eventDefinitionRef":
                ref = _text(child)
                target = self.root_event_definitions.get(ref or "")
                if target is None:
                    self._problem(node_id, f"unknown event definition {ref!r}", child)
                else:
                    target_local = _bpmn_local(target) or ""
                    definitions.append(target_local[: -len(_EVENT_DEFINITION_SUFFIX)])
                    definition_elements.append(target)

        children: tuple[FlowNode, ...] = ()
        child_flows: tuple[SequenceFlow, ...] = ()
        if kind in SUBPROCESS_KINDS:
            children, child_flows = self._container(element, nodes_by_id, flows_by_id)

        documentation = None
        doc_element = element.find(_q("documentation"))
        if doc_element is not None:
            documentation = _text(doc_element)

        return FlowNode(
            id=node_id,
            kind=kind,
            name=element.get("name"),
            incoming=tuple(incoming.get(node_id, ())),
            outgoing=tuple(outgoing.get(node_id, ())),
            event_definitions=tuple(definitions),
            attached_to=element.get("attachedToRef") if kind == "boundaryEvent" else None,
            cancel_activity=_boolean(element.get("cancelActivity"), default=True),
            default=element.get("default") or None,
            documentation=documentation,
            flow_nodes=children,
            sequence_flows=child_flows,
            element=element,
            event_definition_elements=tuple(definition_elements),
            line=element.sourceline,
            triggered_by_event=_boolean(element.get("triggeredByEvent"), default=False),
        )

    def _sequence_flow(self, element: etree._Element) -> SequenceFlow | None:
        flow_id = element.get("id")
        if not flow_id:
            self._problem(None, "a sequenceFlow has no id", element)
            return None
        self._register_id(flow_id, element)
        self._bounded(flow_id, element)
        source = element.get("sourceRef")
        target = element.get("targetRef")
        if not source or not target:
            self._problem(flow_id, "a sequenceFlow needs both sourceRef and targetRef", element)
            return None
        condition = None
        language = None
        condition_element = element.find(_q("conditionExpression"))
        if condition_element is not None:
            condition = _text(condition_element)
            language = condition_element.get("language") or None
        return SequenceFlow(
            id=flow_id,
            source=source,
            target=target,
            name=element.get("name"),
            condition=condition,
            condition_language=language,
            element=element,
            line=element.sourceline,
        )

    def _register_id(self, element_id: str, element: etree._Element) -> None:
        if element_id in self.seen_ids:
            first = self.seen_ids[element_id]
            where = f" (first used on line {first})" if first else ""
            self._problem(element_id, f"the id {element_id!r} is used twice{where}", element)
        else:
            self.seen_ids[element_id] = element.sourceline

    def _bounded(self, element_id: str, element: etree._Element) -> None:
        """Ids and names no longer than a process's history and task lists can hold."""
        if len(element_id) > MAX_ID_LENGTH:
            self._problem(element_id[:MAX_ID_LENGTH],
                          f"the id is {len(element_id)} characters long; at most {MAX_ID_LENGTH}", element)
        name = element.get("name")
        if name is not None and len(name) > MAX_NAME_LENGTH:
            self._problem(element_id[:MAX_ID_LENGTH],
                          f"the name is {len(name)} characters long; at most {MAX_NAME_LENGTH}", element)

    def _problem(self, element_id: str | None, message: str, element: Any) -> None:
        line = getattr(element, "sourceline", None)
        self.problems.append(error_entry(element_id, message, line))


def _bpmn_local(element: etree._Element) -> str | None:
    """The local name of a BPMN-namespace element, ``None`` for anything else
    (comments, processing instructions, vendor extensions)."""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{" + BPMN_NS + "}"):
        return None
    return tag[len(BPMN_NS) + 2 :]


def _text(element: etree._Element) -> str | None:
    text = "".join(element.itertext()).strip()
    return text or None


def _boolean(value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    normalized = value.strip().lower()
    if normalized in ("true", "1"):
        return True
    if normalized in ("false", "0"):
        return False
    return default
