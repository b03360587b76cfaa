"""Builder BPMN → approval tree: the inverse of `compiler.compile_tree`.

Only documents the builder wrote (`definitions/@exporter`) are read, and only in
the shape it writes them: one path from `start` to `end` through tasks, copy
events and split/join gateway pairs (`<id>` / `<id>_join`). Anything else - a
foreign model, or a builder model reshaped in another tool - is refused with
`NotABuilderModel`, naming the element that does not fit.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from bpm_process.assignment import parse_rules
from bpm_process.bpmn import FlowNode, Process
from bpm_process.expressions import ExpressionError, compile_value
from bpm_process.namespaces import BPM_NS, BPMN_NS, CAMUNDA_NS
from services.designer.bpmn.document import form_key_of, form_name, read_raci
from services.designer.definitions.parsing import Limits, ModelProblem, choose_process, parse_model
from services.designer.trees.compiler import BUILDER_EXPORTER, JOIN_SUFFIX
from services.designer.trees.schemas import (
    ApprovalTree,
    ApproverNode,
    AutomatedNode,
    ConditionBranch,
    ConditionNode,
    CopyNode,
    DefaultBranch,
    FieldApprover,
    HandlerNode,
    HttpCall,
    ParallelBranch,
    ParallelNode,
    Raci,
    StartNode,
    TimeLimit,
    UserApprover,
    from_rule,
)


class NotABuilderModel(ValueError):
    """The document is not one the approval-tree builder produced."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id


def decompile(data: bytes, limits: Limits) -> ApprovalTree:
    try:
        parsed = parse_model(data, limits)
    except ModelProblem as exc:
        raise NotABuilderModel(f"the document cannot be read: {exc.message}") from None
    if parsed.root.get("exporter") != BUILDER_EXPORTER:
        raise NotABuilderModel(
            "this BPMN model was not made by the approval-tree builder (its definitions "
            f"exporter is {parsed.root.get('exporter')!r}); open it in a BPMN editor instead"
        )
    process = choose_process(parsed.definitions).process
    if process is None:
        raise NotABuilderModel("the document has no process")
    return _Reader(process).tree()


class _Reader:
    def __init__(self, process: Process) -> None:
        self.process = process
        self.steps = 0
        self.seen: set[str] = set()

    def tree(self) -> ApprovalTree:
        process = self.process
        starts = [n for n in process.flow_nodes if n.kind == "startEvent"]
        if len(starts) != 1 or starts[0].id != "start":
            raise NotABuilderModel("a builder model has exactly one start event 'start'")
        start = starts[0]
        nodes, last = self.path(self.single_out(start), stop=None)
        if last.kind != "endEvent":
            raise NotABuilderModel("the path does not reach the end event", last.id)
        stray = [
            n for n in process.iter_flow_nodes() if n.id not in self.seen | {start.id, last.id}
        ]
        if stray:
            raise NotABuilderModel(
                f"{stray[0].id} is not on the path from start to end the builder draws", stray[0].id
            )
        documentation = process.element.find(f"{{{BPMN_NS}}}documentation")
        try:
            return ApprovalTree(
                key=process.id,
                name=process.name or process.id,
                description="".join(documentation.itertext())
                if documentation is not None
                else None,
                start=StartNode(
                    name=start.name or "Submitted", form=form_name(form_key_of(start.element))
                ),
                nodes=nodes,
                end_name=last.name or "Done",
            )
        except ValueError as exc:
            raise NotABuilderModel(f"the model does not make a valid tree: {exc}") from None

    def single_out(self, node: FlowNode) -> str:
        if len(node.outgoing) != 1:
            raise NotABuilderModel(f"{node.id} should have exactly one outgoing flow", node.id)
        return node.outgoing[0]

    def path(self, flow_id: str, stop: str | None) -> tuple[list[Any], FlowNode]:
        """The nodes from the target of `flow_id` up to `stop` (a join) or the end."""
        nodes: list[Any] = []
        current = self.target(flow_id)
        while current.id != stop and current.kind != "endEvent":
            self.steps += 1
            if self.steps > len(self.process.nodes_by_id) + 1:
                raise NotABuilderModel("the flow loops", current.id)
            if current.kind in ("exclusiveGateway", "parallelGateway"):
                node, join = self.fork(current)
                nodes.append(node)
                current = self.target(self.single_out(join))
                continue
            nodes.append(self.node(current))
            current = self.target(self.single_out(current))
        if stop is not None and current.id != stop:
            raise NotABuilderModel(
                f"a branch of {stop[: -len(JOIN_SUFFIX)]} ends elsewhere", current.id
            )
        return nodes, current

    def target(self, flow_id: str) -> FlowNode:
        flow = self.process.flows_by_id[flow_id]
        node = self.process.nodes_by_id.get(flow.target)
        if node is None:
            raise NotABuilderModel(f"the flow {flow_id} leads nowhere", flow_id)
        self.seen.add(node.id)
        return node

    def node(self, node: FlowNode) -> Any:
        element = node.element
        if node.kind == "userTask":
            if _bpm(element, "approval") == "true":
                return self.approver(node)
            return HandlerNode(
                type="handler",
                id=node.id,
                name=node.name or node.id,
                handlers=_approvers(node, "assignment"),
                form=form_name(form_key_of(element)),
                time_limit=_time_limit(node),
                raci=_raci(node),
            )
        if node.kind == "intermediateThrowEvent" and _bpm(element, "copyTo"):
            return CopyNode(
                type="copy",
                id=node.id,
                name=node.name or "Copy",
                recipients=_approvers(node, "copyTo"),
            )
        if node.kind == "serviceTask":
            return _automated(node)
        raise NotABuilderModel(f"the builder does not write a {node.kind} like {node.id}", node.id)

    def approver(self, node: FlowNode) -> ApproverNode:
        element = node.element
        loop = element.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
        if loop is None:
            mode, approvers = "any", _approvers(node, "assignment")
        else:
            mode = "sequence" if loop.get("isSequential") == "true" else "all"
            if _bpm(element, "signers"):
                approvers = _approvers(node, "signers")
            else:
                approvers = _signers(node, loop.get(f"{{{CAMUNDA_NS}}}collection") or "")
        return ApproverNode(
            type="approver",
            id=node.id,
            name=node.name or node.id,
            approvers=approvers,
            mode=mode,  # type: ignore[arg-type]
            reject_action=_bpm(element, "rejectAction") or "end",  # type: ignore[arg-type]
            form=form_name(form_key_of(element)),
            time_limit=_time_limit(node),
            raci=_raci(node),
        )

    def fork(self, split: FlowNode) -> tuple[Any, FlowNode]:
        join = self.process.nodes_by_id.get(f"{split.id}{JOIN_SUFFIX}")
        if join is None or join.kind != split.kind:
            raise NotABuilderModel(
                f"the gateway {split.id} has no {split.id}{JOIN_SUFFIX}", split.id
            )
        branches = []
        for flow_id in split.outgoing:
            flow = self.process.flows_by_id[flow_id]
            nodes, _ = self.path(flow_id, join.id)
            branches.append((flow, nodes))
        if split.kind == "parallelGateway":
            node: Any = ParallelNode(
                type="parallel",
                id=split.id,
                name=split.name or "Parallel",
                branches=[ParallelBranch(id=f.id, name=f.name, nodes=n) for f, n in branches],
            )
            return node, join
        default = [(f, n) for f, n in branches if f.id == split.default]
        conditioned = [(f, n) for f, n in branches if f.id != split.default]
        if len(default) != 1 or any(f.condition is None for f, _ in conditioned):
            raise NotABuilderModel(f"{split.id} needs conditions and one default flow", split.id)
        flow, nodes = default[0]
        node = ConditionNode(
            type="condition",
            id=split.id,
            name=split.name or "Condition",
            branches=[
                ConditionBranch(id=f.id, name=f.name or f.id, condition=f.condition or "", nodes=n)
                for f, n in conditioned
            ],
            default=DefaultBranch(id=flow.id, name=flow.name or "Otherwise", nodes=nodes),
        )
        return node, join


def _bpm(element: etree._Element, name: str) -> str | None:
    value = element.get(f"{{{BPM_NS}}}{name}")
    return value.strip() if value is not None else None


def _rules(node: FlowNode, text: str | None, what: str) -> list[Any]:
    if not text:
        raise NotABuilderModel(f"{node.id} has no {what}", node.id)
    try:
        return [from_rule(rule) for rule in parse_rules(text)]
    except ValueError as exc:  # AssignmentRuleError, or a name the tree cannot hold
        raise NotABuilderModel(f"{node.id}: {what} {exc}", node.id) from None


def _approvers(node: FlowNode, attribute: str) -> list[Any]:
    return _rules(node, _bpm(node.element, attribute), f"bpm:{attribute}")


def _signers(node: FlowNode, collection: str) -> list[Any]:
    text = collection.strip()
    if text and not text.startswith(("$", "#", "=")):
        return [FieldApprover(type="field", field=text)]
    try:
        expression = compile_value(text)
        if not expression.is_constant and expression.names:
            if len(expression.names) == 1 and text == "${" + next(iter(expression.names)) + "}":
                return [FieldApprover(type="field", field=next(iter(expression.names)))]
            raise NotABuilderModel(
                f"{node.id}: the signers {text!r} are not a list or a field", node.id
            )
        names = expression.evaluate({})
    except ExpressionError:
        raise NotABuilderModel(f"{node.id}: the signers {text!r} do not compile", node.id) from None
    if not isinstance(names, list) or not names:
        raise NotABuilderModel(f"{node.id}: the signers {text!r} are not a list of users", node.id)
    return [UserApprover(type="user", username=str(name)) for name in names]


def _time_limit(node: FlowNode) -> TimeLimit | None:
    duration = _bpm(node.element, "timeLimit")
    if duration is None:
        return None
    reassign = _bpm(node.element, "timeoutReassignTo")
    return TimeLimit(
        duration=duration,
        remind_before=_bpm(node.element, "remindBefore"),
        action=_bpm(node.element, "timeoutAction") or "escalate",  # type: ignore[arg-type]
        reassign_to=_rules(node, reassign, "bpm:timeoutReassignTo") if reassign else [],
    )


def _raci(node: FlowNode) -> Raci | None:
    raci = read_raci(node.element)
    if raci is None:
        return None
    return Raci(**{role: _rules(node, value, f"RACI {role}") for role, value in raci.items()})


def _automated(node: FlowNode) -> AutomatedNode:
    element = node.element
    topic = element.get(f"{{{CAMUNDA_NS}}}topic")
    if element.get(f"{{{CAMUNDA_NS}}}type") == "external" and topic:
        return AutomatedNode(type="automated", id=node.id, name=node.name or node.id, topic=topic)
    http = element.find(f"{{{BPMN_NS}}}extensionElements/{{{BPM_NS}}}http")
    if http is None:
        raise NotABuilderModel(f"{node.id} has neither a topic nor a bpm:http call", node.id)
    body = http.find(f"{{{BPM_NS}}}body")
    response = http.find(f"{{{BPM_NS}}}response")
    retries = http.get("retries")
    call = HttpCall(
        method=http.get("method") or "POST",  # type: ignore[arg-type]
        url=http.get("url") or "",
        headers={
            h.get("name") or "": h.get("value") or "" for h in http.findall(f"{{{BPM_NS}}}header")
        },
        body="".join(body.itertext()) if body is not None else None,
        response_variable=response.get("variable") if response is not None else None,
        response_path=response.get("path") if response is not None else None,
        timeout=http.get("timeout"),
        retries=int(retries) if retries and retries.isdigit() else None,
    )
    return AutomatedNode(type="automated", id=node.id, name=node.name or node.id, http=call)
