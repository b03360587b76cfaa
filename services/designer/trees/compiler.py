"""Approval tree → executable BPMN with a diagram.

The BPMN uses only standard elements, the Camunda 7 attributes the runtime reads
(`formKey`, multi-instance `collection` / `elementVariable` / `assignee`, external
task `type` / `topic`) and the platform's `bpm` extensions (docs/bpmn-extensions.md):

| tree | BPMN |
|---|---|
| approver, mode `any` | `userTask bpm:approval="true" bpm:assignment="<rules>"` |
| approver, `all` / `sequence` | the same, multi-instance (parallel / sequential) over |
|  | the listed users or the form field, `bpm:signMode="all"` |
| handler | `userTask bpm:assignment="<rules>"` |
| time limit | `bpm:timeLimit`, `bpm:remindBefore`, `bpm:timeoutAction`, `bpm:timeoutReassignTo` |
| RACI | `<bpm:raci>` in `extensionElements` |
| copy | `intermediateThrowEvent bpm:copyTo="<rules>"` |
| automated | `serviceTask camunda:type="external" camunda:topic` or `<bpm:http>` |
| condition | exclusive split (`default` = the default branch) and exclusive join `<id>_join` |
| parallel | parallel split and parallel join `<id>_join` |

Element ids are the tree's node ids (start `start`, end `end`); a branch's id is
the id of the flow that enters it. `definitions/@exporter` marks the document as
the builder's, which is how `decompile` recognises it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from bpm_process.assignment import signers_variable
from bpm_process.namespaces import BPM_NS, BPMN_NS, CAMUNDA_NS
from services.designer.bpmn.document import BpmnDocument
from services.designer.trees import layout as geometry
from services.designer.trees.schemas import (
    RESERVED_IDS,
    ApprovalTree,
    ApproverNode,
    AutomatedNode,
    ConditionNode,
    CopyNode,
    FieldApprover,
    HandlerNode,
    ParallelNode,
    Raci,
    TimeLimit,
    UserApprover,
    to_rule,
)

BUILDER_EXPORTER = "bpm-platform approval builder"
BUILDER_VERSION = "1"
JOIN_SUFFIX = "_join"
APPROVER_SUFFIX = "_approver"
TARGET_NAMESPACE = "http://bpm-platform.org/processes"

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DD_DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": DI_NS,
    "dc": DC_NS,
    "di": DD_DI_NS,
    "xsi": XSI_NS,
    "camunda": CAMUNDA_NS,
    "bpm": BPM_NS,
}


class TreeInvalid(ValueError):
    """The tree cannot be compiled; `errors` are `{field, message}` entries."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def _q(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def with_ids(tree: ApprovalTree) -> ApprovalTree:
    """A copy of the tree where every node and branch has an id (given in tree order)."""
    copy = tree.model_copy(deep=True)
    taken = set(RESERVED_IDS)
    nodes = list(_walk(copy.nodes))
    duplicates = []
    for item, _ in nodes:
        if item.id is None:
            continue
        if item.id in taken or item.id.endswith(JOIN_SUFFIX):
            duplicates.append(item.id)
        taken.add(item.id)
    if duplicates:
        raise TreeInvalid(
            [
                {"field": "nodes", "message": f"the id {i!r} is used twice or reserved"}
                for i in duplicates
            ]
        )
    counters: dict[str, int] = {}
    for item, kind in nodes:
        if item.id is None:
            number = counters.get(kind, 0)
            while True:
                number += 1
                candidate = f"{kind}_{number}"
                if candidate not in taken:
                    break
            counters[kind] = number
            item.id = candidate
            taken.add(candidate)
    return copy


def _walk(nodes: list[Any]) -> Iterator[tuple[Any, str]]:
    for node in nodes:
        yield node, node.type
        if isinstance(node, ConditionNode):
            for branch in node.branches:
                yield branch, "branch"
                yield from _walk(branch.nodes)
            yield node.default, "default"
            yield from _walk(node.default.nodes)
        elif isinstance(node, ParallelNode):
            for branch in node.branches:
                yield branch, "branch"
                yield from _walk(branch.nodes)


@dataclass
class _Builder:
    process: etree._Element
    flows: list[etree._Element] = field(default_factory=list)
    incoming: dict[str, list[str]] = field(default_factory=dict)
    outgoing: dict[str, list[str]] = field(default_factory=dict)
    elements: dict[str, etree._Element] = field(default_factory=dict)

    def element(self, local: str, element_id: str, name: str | None) -> etree._Element:
        element = etree.SubElement(self.process, _q(BPMN_NS, local), id=element_id)
        if name:
            element.set("name", name)
        self.elements[element_id] = element
        return element

    def flow(
        self,
        flow_id: str,
        source: str,
        target: str,
        name: str | None = None,
        condition: str | None = None,
    ) -> str:
        flow = etree.Element(_q(BPMN_NS, "sequenceFlow"), id=flow_id)
        if name:
            flow.set("name", name)
        flow.set("sourceRef", source)
        flow.set("targetRef", target)
        if condition is not None:
            expression = etree.SubElement(flow, _q(BPMN_NS, "conditionExpression"))
            expression.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            expression.text = condition
        self.flows.append(flow)
        self.outgoing.setdefault(source, []).append(flow_id)
        self.incoming.setdefault(target, []).append(flow_id)
        return flow_id

    def finish(self) -> None:
        """`incoming`/`outgoing` children in the schema's place, then the flows."""
        for element_id, element in self.elements.items():
            position = _after_extensions(element)
            for local, refs in (("incoming", self.incoming), ("outgoing", self.outgoing)):
                for ref in refs.get(element_id, []):
                    child = etree.Element(_q(BPMN_NS, local))
                    child.text = ref
                    element.insert(position, child)
                    position += 1
        for flow in self.flows:
            self.process.append(flow)


def _after_extensions(element: etree._Element) -> int:
    position = 0
    for index, child in enumerate(element):
        if child.tag in (_q(BPMN_NS, "documentation"), _q(BPMN_NS, "extensionElements")):
            position = index + 1
    return position


def compile_tree(tree: ApprovalTree) -> tuple[BpmnDocument, ApprovalTree]:
    """The BPMN document of a tree (ids given where missing) and the tree with its ids."""
    tree = with_ids(tree)
    root = etree.Element(_q(BPMN_NS, "definitions"), nsmap=NSMAP)
    root.set("id", f"Definitions_{tree.key}")
    root.set("targetNamespace", TARGET_NAMESPACE)
    root.set("exporter", BUILDER_EXPORTER)
    root.set("exporterVersion", BUILDER_VERSION)
    process = etree.SubElement(
        root, _q(BPMN_NS, "process"), id=tree.key, name=tree.name, isExecutable="true"
    )
    if tree.description:
        etree.SubElement(process, _q(BPMN_NS, "documentation")).text = tree.description
    builder = _Builder(process)
    start = builder.element("startEvent", "start", tree.start.name)
    if tree.start.form:
        start.set(_q(CAMUNDA_NS, "formKey"), f"form:{tree.start.form}")
    flow = geometry.Series([geometry.Box("start", "event")])
    last = _series(builder, tree.nodes, "start", flow)
    builder.element("endEvent", "end", tree.end_name)
    flow.links.append(builder.flow(_flow_id(last, "end"), last, "end"))
    flow.blocks.append(geometry.Box("end", "event"))
    builder.finish()
    _diagram(root, tree.key, geometry.layout(flow))
    _indent(root)
    return BpmnDocument(root, source=None), tree


def _flow_id(source: str, target: str) -> str:
    return f"flow_{source}_{target}"


def _series(builder: _Builder, nodes: list[Any], previous: str, series: geometry.Series) -> str:
    """Add the nodes after `previous`; returns the id of the last element."""
    for node in nodes:
        entry, exit_, block = _node(builder, node)
        if series.blocks:
            series.links.append(builder.flow(_flow_id(previous, entry), previous, entry))
        series.blocks.append(block)
        previous = exit_
    return previous


def _node(builder: _Builder, node: Any) -> tuple[str, str, geometry.Box | geometry.Fork]:
    if isinstance(node, (ConditionNode, ParallelNode)):
        return _fork(builder, node)
    if isinstance(node, ApproverNode):
        _approver(builder, node)
    elif isinstance(node, HandlerNode):
        task = builder.element("userTask", node.id, node.name)
        _people(task, node.handlers, node.form, node.time_limit, node.raci)
    elif isinstance(node, CopyNode):
        event = builder.element("intermediateThrowEvent", node.id, node.name)
        event.set(_q(BPM_NS, "copyTo"), _rules(node.recipients))
        return node.id, node.id, geometry.Box(node.id, "event")
    elif isinstance(node, AutomatedNode):
        _automated(builder, node)
    return node.id, node.id, geometry.Box(node.id, "task")


def _rules(approvers: list[Any]) -> str:
    return ", ".join(str(to_rule(a)) for a in approvers)


def _approver(builder: _Builder, node: ApproverNode) -> None:
    task = builder.element("userTask", node.id, node.name)
    task.set(_q(BPM_NS, "approval"), "true")
    if node.mode == "any":
        _people(task, node.approvers, node.form, node.time_limit, node.raci)
    else:
        variable = f"{node.id.replace('-', '_')}{APPROVER_SUFFIX}"
        task.set(_q(CAMUNDA_NS, "assignee"), "${" + variable + "}")
        _people(task, [], node.form, node.time_limit, node.raci)
        task.set(_q(BPM_NS, "signMode"), "all")
        loop = etree.SubElement(task, _q(BPMN_NS, "multiInstanceLoopCharacteristics"))
        if node.mode == "sequence":
            loop.set("isSequential", "true")
        loop.set(_q(CAMUNDA_NS, "collection"), _collection(node, task, variable))
        loop.set(_q(CAMUNDA_NS, "elementVariable"), variable)
    task.set(_q(BPM_NS, "rejectAction"), node.reject_action)


def _collection(node: ApproverNode, task: etree._Element, variable: str) -> str:
    """The signers of a countersign: listed users, a form field of usernames, or, for roles,
    managers and department roles, `bpm:signers` rules the runtime resolves into the
    variable `<node>_signers` when the request is submitted (as approval suites show the
    approvers on submission)."""
    first = node.approvers[0]
    if all(isinstance(a, UserApprover) for a in node.approvers):
        names = ", ".join(f"'{a.username}'" for a in node.approvers)
        return "${[" + names + "]}"
    if len(node.approvers) == 1 and isinstance(first, FieldApprover):
        return first.field  # a form field holding the usernames
    task.set(_q(BPM_NS, "signers"), _rules(node.approvers))
    return "${" + signers_variable(node.id) + "}"


def _people(
    task: etree._Element,
    people: list[Any],
    form: str | None,
    time_limit: TimeLimit | None,
    raci: Raci | None,
) -> None:
    if people:
        task.set(_q(BPM_NS, "assignment"), _rules(people))
    if form:
        task.set(_q(CAMUNDA_NS, "formKey"), f"form:{form}")
    if time_limit is not None:
        task.set(_q(BPM_NS, "timeLimit"), time_limit.duration)
        if time_limit.remind_before:
            task.set(_q(BPM_NS, "remindBefore"), time_limit.remind_before)
        task.set(_q(BPM_NS, "timeoutAction"), time_limit.action)
        if time_limit.reassign_to:
            task.set(_q(BPM_NS, "timeoutReassignTo"), _rules(time_limit.reassign_to))
    if raci is not None:
        values = [
            (role, getattr(raci, role))
            for role in ("responsible", "approver", "consulted", "informed")
        ]
        values = [(role, people_) for role, people_ in values if people_]
        if values:
            extensions = _extensions(task)
            block = etree.SubElement(extensions, _q(BPM_NS, "raci"))
            for role, people_ in values:
                etree.SubElement(block, _q(BPM_NS, role)).text = _rules(people_)


def _extensions(element: etree._Element) -> etree._Element:
    existing = element.find(_q(BPMN_NS, "extensionElements"))
    if existing is not None:
        return existing
    extensions = etree.Element(_q(BPMN_NS, "extensionElements"))
    element.insert(_after_extensions(element), extensions)
    return extensions


def _automated(builder: _Builder, node: AutomatedNode) -> None:
    task = builder.element("serviceTask", node.id, node.name)
    if node.topic is not None:
        task.set(_q(CAMUNDA_NS, "type"), "external")
        task.set(_q(CAMUNDA_NS, "topic"), node.topic)
        return
    call = node.http
    assert call is not None
    http = etree.SubElement(_extensions(task), _q(BPM_NS, "http"))
    http.set("method", call.method)
    http.set("url", call.url)
    if call.timeout:
        http.set("timeout", call.timeout)
    if call.retries is not None:
        http.set("retries", str(call.retries))
    for name, value in call.headers.items():
        etree.SubElement(http, _q(BPM_NS, "header"), name=name, value=value)
    if call.body is not None:
        etree.SubElement(http, _q(BPM_NS, "body")).text = call.body
    if call.response_variable:
        response = etree.SubElement(http, _q(BPM_NS, "response"), variable=call.response_variable)
        if call.response_path:
            response.set("path", call.response_path)


def _fork(builder: _Builder, node: ConditionNode | ParallelNode) -> tuple[str, str, geometry.Fork]:
    conditional = isinstance(node, ConditionNode)
    kind = "exclusiveGateway" if conditional else "parallelGateway"
    split = builder.element(kind, node.id, node.name)
    join_id = f"{node.id}{JOIN_SUFFIX}"
    branches: list[tuple[Any, str | None]] = (
        [(b, b.condition) for b in node.branches] + [(node.default, None)]
        if isinstance(node, ConditionNode)
        else [(b, None) for b in node.branches]
    )
    if isinstance(node, ConditionNode):
        split.set("default", node.default.id or "")
    laid: list[geometry.Branch] = []
    pending: list[tuple[str, str]] = []
    for branch, condition in branches:
        series = geometry.Series()
        if branch.nodes:
            entry, exit_, block = _node(builder, branch.nodes[0])
            builder.flow(branch.id, node.id, entry, branch.name, condition)
            series.blocks.append(block)
            last = _series(builder, branch.nodes[1:], exit_, series)
            leave = _flow_id(last, join_id)
            pending.append((leave, last))
            laid.append(
                geometry.Branch(series, branch.id, leave, branch.name if conditional else None)
            )
        else:
            pending.append((branch.id, ""))
            laid.append(
                geometry.Branch(series, branch.id, None, branch.name if conditional else None)
            )
            builder.flow(branch.id, node.id, join_id, branch.name, condition)
    builder.element(kind, join_id, None)
    for flow_id, source in pending:
        if source:
            builder.flow(flow_id, source, join_id)
    fork = geometry.Fork(geometry.Box(node.id, "gateway"), geometry.Box(join_id, "gateway"), laid)
    return node.id, join_id, fork


def _diagram(root: etree._Element, process_id: str, diagram: geometry.Diagram) -> None:
    di = etree.SubElement(root, _q(DI_NS, "BPMNDiagram"), id=f"Diagram_{process_id}")
    plane = etree.SubElement(
        di, _q(DI_NS, "BPMNPlane"), id=f"Plane_{process_id}", bpmnElement=process_id
    )
    exclusive = {e.get("id") for e in root.iter(_q(BPMN_NS, "exclusiveGateway"))}
    for element_id, (x, y, width, height) in diagram.shapes.items():
        shape = etree.SubElement(
            plane, _q(DI_NS, "BPMNShape"), id=f"{element_id}_di", bpmnElement=element_id
        )
        if element_id in exclusive:
            shape.set("isMarkerVisible", "true")
        _bounds(shape, x, y, width, height)
    for flow_id, points in diagram.edges.items():
        edge = etree.SubElement(
            plane, _q(DI_NS, "BPMNEdge"), id=f"{flow_id}_di", bpmnElement=flow_id
        )
        for x, y in points:
            etree.SubElement(edge, _q(DD_DI_NS, "waypoint"), x=str(x), y=str(y))
        if flow_id in diagram.labels:
            label = etree.SubElement(edge, _q(DI_NS, "BPMNLabel"))
            _bounds(label, *diagram.labels[flow_id])


def _bounds(parent: etree._Element, x: int, y: int, width: int, height: int) -> None:
    etree.SubElement(
        parent, _q(DC_NS, "Bounds"), x=str(x), y=str(y), width=str(width), height=str(height)
    )


def _indent(root: etree._Element) -> None:
    etree.indent(root, space="  ")
