"""Compile a BPMN process into a :class:`ProcessGraph`, refusing what cannot run.

Supported now: none and message start events; user tasks; tasks and manual tasks
(pass through); none intermediate throw events (pass through); exclusive gateways
(conditions, default flow); parallel gateways (fork, join, both); embedded
sub-processes; none and terminate end events. Activities may have several outgoing
flows (an implicit parallel split, with conditional flows and a default flow as BPMN
defines them) and several incoming flows (an implicit merge: every token passes).

Every element that cannot be executed is reported at once, in one :class:`BpmnError`
whose entries name the element and the reason.
"""

from __future__ import annotations

from types import MappingProxyType

from bpm_process import support
from bpm_process.bpmn import Definitions, FlowNode, Process, SequenceFlow, read_definitions
from bpm_process.errors import BpmnError, ErrorEntry, error_entry
from bpm_process.expressions import ExpressionError, compile_expression
from bpm_process.xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH

from services.runtime.engine.events import ActivityCancelled, ActivityCompleted, ActivityStarted
from services.runtime.engine.graph import (
    END_EVENT,
    EXCLUSIVE_GATEWAY,
    FLOW_THROUGH,
    PARALLEL_GATEWAY,
    START_EVENT,
    SUB_PROCESS,
    TERMINATE_END_EVENT,
    USER_TASK,
    Flow,
    Node,
    ProcessGraph,
)
from services.runtime.engine.tasks import (
    ACTIVITI_NS,
    CAMUNDA_NS,
    FLOWABLE_NS,
    UserTaskDefinition,
    read_user_task,
)

__all__ = ["compile_bpmn", "compile_process", "select_process"]

_BEHAVIORS: dict[tuple[str, str | None], str] = {
    ("startEvent", None): START_EVENT,
    ("startEvent", "message"): START_EVENT,
    ("endEvent", None): END_EVENT,
    ("endEvent", "terminate"): TERMINATE_END_EVENT,
    ("intermediateThrowEvent", None): FLOW_THROUGH,
    ("userTask", None): USER_TASK,
    ("task", None): FLOW_THROUGH,
    ("manualTask", None): FLOW_THROUGH,
    ("exclusiveGateway", None): EXCLUSIVE_GATEWAY,
    ("parallelGateway", None): PARALLEL_GATEWAY,
    ("subProcess", None): SUB_PROCESS,
}
"""Behaviour of every element kind in :data:`bpm_process.support.EXECUTABLE_FLOW_NODES`."""
_CONDITION_LANGUAGES = ("juel", "feel", "xpath")
_INITIATOR_DIALECTS = (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS)


def compile_bpmn(
    data: bytes,
    process_id: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ProcessGraph:
    """Read BPMN bytes safely and compile the executable process."""
    definitions = read_definitions(data, max_bytes=max_bytes, max_depth=max_depth)
    return compile_process(definitions, process_id)


def select_process(definitions: Definitions, process_id: str | None = None) -> Process:
    """The process to execute: ``process_id`` if given; otherwise the one marked
    ``isExecutable="true"``, or the only process of the document."""
    if process_id is not None:
        try:
            return definitions.process(process_id)
        except KeyError:
            raise BpmnError(f"the document has no process with the id {process_id!r}",
                            [error_entry(process_id, "no such process")]) from None
    executable = definitions.executable_processes
    if len(executable) == 1:
        return executable[0]
    if len(executable) > 1:
        ids = ", ".join(repr(p.id) for p in executable)
        raise BpmnError(
            f"the document has several executable processes ({ids}); name the one to run",
            [error_entry(p.id, "one of several executable processes", p.line)
             for p in executable],
        )
    if len(definitions.processes) == 1:
        return definitions.processes[0]
    if not definitions.processes:
        raise BpmnError("the document contains no process")
    raise BpmnError(
        "the document has several processes and none is marked isExecutable=\"true\""
    )


def compile_process(definitions: Definitions, process_id: str | None = None) -> ProcessGraph:
    """Compile one process of ``definitions`` (see :func:`select_process`).

    Raises :class:`BpmnError` listing every element that cannot be executed.
    """
    process = select_process(definitions, process_id)
    return _Compiler(definitions, process).compile()


class _Compiler:
    def __init__(self, definitions: Definitions, process: Process) -> None:
        self.definitions = definitions
        self.process = process
        self.problems: list[ErrorEntry] = []
        self.nodes: dict[str, Node] = {}
        self.flows: dict[str, Flow] = {}

    def compile(self) -> ProcessGraph:
        process = self.process
        starts = self.container(process.id, process.flow_nodes, process.sequence_flows,
                                top_level=True)
        if not any(node.kind == "startEvent" for node in process.flow_nodes):
            self.problem(process.id, "the process has no start event", process.line)
        none_starts = [s for s in starts if self.nodes.get(s) and not self.nodes[s].message]
        if len(none_starts) > 1:
            for start in none_starts:
                self.problem(start, "a process may have only one start event without an "
                                    "event definition")
        if self.problems:
            raise BpmnError(
                f"the process {process.id!r} cannot be executed", self.problems
            )
        message_starts = {
            self.nodes[s].message: s for s in starts if self.nodes[s].message is not None
        }
        return ProcessGraph(
            id=process.id,
            name=process.name,
            nodes=MappingProxyType(self.nodes),
            flows=MappingProxyType(self.flows),
            start_events=tuple(starts),
            none_start=none_starts[0] if none_starts else None,
            message_starts=MappingProxyType(message_starts),
        )

    def problem(self, element_id: str | None, message: str, line: int | None = None) -> None:
        self.problems.append(error_entry(element_id, message, line))

    def container(
        self,
        scope: str,
        flow_nodes: tuple[FlowNode, ...],
        sequence_flows: tuple[SequenceFlow, ...],
        *,
        top_level: bool,
    ) -> list[str]:
        """Compile the nodes and flows of one container; return its start events."""
        by_id = {node.id: node for node in flow_nodes}
        flows: dict[str, Flow] = {}
        for flow in sequence_flows:
            compiled = self.flow(flow, by_id)
            if compiled is not None:
                flows[flow.id] = compiled
                self.flows[flow.id] = compiled

        starts: list[str] = []
        for flow_node in flow_nodes:
            node = self.node(scope, flow_node, flows, top_level=top_level)
            if node is not None:
                self.nodes[node.id] = node
                if node.behavior == START_EVENT:
                    starts.append(node.id)
        return starts

    def flow(self, flow: SequenceFlow, by_id: dict[str, FlowNode]) -> Flow | None:
        ok = True
        for end, ref in (("source", flow.source), ("target", flow.target)):
            if ref not in by_id:
                self.problem(flow.id, f"the {end} {ref!r} is not a flow node in the same "
                                      "process or sub-process", flow.line)
                ok = False
        condition = None
        if flow.condition is not None:
            language = (flow.condition_language or "").strip().lower()
            if language and not any(name in language for name in _CONDITION_LANGUAGES) \
                    and language != "el":
                self.problem(flow.id, f"conditions in the language {flow.condition_language!r}"
                                      " are not supported; write ${...} or =... expressions",
                             flow.line)
                ok = False
            else:
                try:
                    condition = compile_expression(flow.condition)
                except ExpressionError as exc:
                    self.problem(flow.id, f"invalid condition: {exc}", flow.line)
                    ok = False
        if not ok:
            return None
        return Flow(flow.id, flow.name, flow.source, flow.target, condition)

    def node(
        self, scope: str, flow_node: FlowNode, flows: dict[str, Flow], *, top_level: bool
    ) -> Node | None:
        kind = flow_node.kind
        behavior = self.behavior(flow_node, top_level=top_level)
        outgoing = tuple(flows[flow_id] for flow_id in flow_node.outgoing if flow_id in flows)
        problems_before = len(self.problems)

        if behavior == START_EVENT and flow_node.incoming:
            self.problem(flow_node.id, "a start event cannot have incoming sequence flows",
                         flow_node.line)
        if behavior in (END_EVENT, TERMINATE_END_EVENT) and flow_node.outgoing:
            self.problem(flow_node.id, "an end event cannot have outgoing sequence flows",
                         flow_node.line)
        if behavior == EXCLUSIVE_GATEWAY and not flow_node.outgoing:
            self.problem(flow_node.id, "the gateway has no outgoing sequence flow",
                         flow_node.line)

        default = None
        if flow_node.default is not None:
            if flow_node.default not in flow_node.outgoing:
                self.problem(flow_node.id, f"the default flow {flow_node.default!r} is not "
                                           "one of its outgoing sequence flows", flow_node.line)
            elif flow_node.default in flows:
                found = flows[flow_node.default]
                default = Flow(found.id, found.name, found.source, found.target, None)
                outgoing = tuple(default if f.id == default.id else f for f in outgoing)
                self.flows[default.id] = default

        if behavior == PARALLEL_GATEWAY:
            # BPMN ignores conditions on the outgoing flows of a parallel gateway.
            outgoing = tuple(
                f if f.condition is None else Flow(f.id, f.name, f.source, f.target, None)
                for f in outgoing
            )
            for flow in outgoing:
                self.flows[flow.id] = flow

        task: UserTaskDefinition | None = None
        if behavior == USER_TASK:
            task = read_user_task(flow_node, self.problems)

        start = None
        if behavior == SUB_PROCESS:
            inner_starts = self.container(flow_node.id, flow_node.flow_nodes,
                                          flow_node.sequence_flows, top_level=False)
            if len(inner_starts) != 1:
                self.problem(flow_node.id, "an embedded sub-process needs exactly one start "
                                           "event without an event definition", flow_node.line)
            else:
                start = inner_starts[0]

        if behavior is None or len(self.problems) > problems_before:
            return None

        exit_flow = None
        if len(outgoing) == 1 and outgoing[0].condition is None and behavior not in (
            END_EVENT, TERMINATE_END_EVENT
        ):
            exit_flow = outgoing[0]

        return Node(
            id=flow_node.id,
            name=flow_node.name,
            kind=kind,
            behavior=behavior,
            scope=scope,
            incoming=flow_node.incoming,
            outgoing=outgoing,
            default=default,
            exit=exit_flow,
            joins=behavior == PARALLEL_GATEWAY and len(flow_node.incoming) > 1,
            task=task,
            start=start,
            message=self.message_name(flow_node) if behavior == START_EVENT else None,
            initiator_variable=self.initiator_variable(flow_node)
            if behavior == START_EVENT else None,
            started=ActivityStarted(flow_node.id, flow_node.name, kind),
            completed=ActivityCompleted(flow_node.id, flow_node.name, kind),
            cancelled=ActivityCancelled(flow_node.id, flow_node.name, kind),
        )

    def behavior(self, flow_node: FlowNode, *, top_level: bool) -> str | None:
        """The behaviour of a node, or ``None`` after reporting why it cannot run. What
        is executable is decided by :mod:`bpm_process.support`, the list the designer's
        lint uses too."""
        reason = support.unsupported_reason(flow_node, top_level=top_level)
        if reason is not None:
            return self.refuse(flow_node, reason)
        definitions = flow_node.event_definitions
        behavior = _BEHAVIORS.get((flow_node.kind, definitions[0] if definitions else None))
        if behavior is None:
            return self.refuse(flow_node, f"{flow_node.kind} is not supported by this engine")
        return behavior

    def refuse(self, flow_node: FlowNode, reason: str) -> None:
        self.problem(flow_node.id, reason, flow_node.line)
        return None

    def message_name(self, flow_node: FlowNode) -> str | None:
        for element in flow_node.event_definition_elements:
            ref = element.get("messageRef")
            if ref:
                message = self.definitions.messages.get(ref)
                return (message.name if message is not None and message.name else ref)
            return flow_node.id
        return None

    @staticmethod
    def initiator_variable(flow_node: FlowNode) -> str | None:
        for namespace in _INITIATOR_DIALECTS:
            value = flow_node.element.get(f"{{{namespace}}}initiator")
            if value and value.strip():
                return value.strip()
        return None
