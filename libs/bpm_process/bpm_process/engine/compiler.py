"""Compile a BPMN process into a :class:`ProcessGraph`, refusing what cannot run.

Supported: none, message, signal and timer start events (error, escalation and the
others too in event sub-processes); user tasks (with approvals and signers); tasks and
manual tasks (pass through); service, send and business rule tasks done by external
workers or the HTTP connector; receive tasks; call activities; intermediate catch
(message, signal, timer) and throw (none, message, signal, escalation) events;
boundary events (message, signal, timer, error, escalation; interrupting or not);
exclusive, parallel, inclusive and event-based gateways; embedded and event
sub-processes; multi-instance activities; none, terminate, message, signal, error and
escalation end events. Activities may have several outgoing flows (an implicit
parallel split, with conditional flows and a default flow as BPMN defines them) and
several incoming flows (an implicit merge: every token passes).

Every element that cannot be executed is reported at once, in one :class:`BpmnError`
whose entries name the element and the reason.
"""

from __future__ import annotations

from types import MappingProxyType

from bpm_process import support
from bpm_process.bpmn import (
    BPMN_NS,
    Definitions,
    FlowNode,
    Process,
    SequenceFlow,
    read_definitions,
)
from bpm_process.engine.events import ActivityCancelled, ActivityCompleted, ActivityStarted
from bpm_process.engine.extensions import (
    message_name_of,
    read_approval,
    read_call,
    read_copies,
    read_io,
    read_loop,
    read_receive_trigger,
    read_trigger,
    read_work,
)
from bpm_process.engine.graph import (
    BOUNDARY_EVENT,
    CALL_ACTIVITY,
    CATCH_EVENT,
    END_EVENT,
    ERROR,
    ESCALATION,
    EVENT_GATEWAY,
    EVENT_SUB_PROCESS,
    EXCLUSIVE_GATEWAY,
    FLOW_THROUGH,
    INCLUSIVE_GATEWAY,
    MESSAGE,
    PARALLEL_GATEWAY,
    RECEIVE_TASK,
    SIGNAL,
    START_EVENT,
    SUB_PROCESS,
    TERMINATE_END_EVENT,
    THROW_EVENT,
    TIMER,
    USER_TASK,
    WORK_TASK,
    EventTrigger,
    Flow,
    Node,
    ProcessGraph,
)
from bpm_process.engine.quick import quick_test
from bpm_process.engine.tasks import (
    ACTIVITI_NS,
    CAMUNDA_NS,
    FLOWABLE_NS,
    UserTaskDefinition,
    read_user_task,
)
from bpm_process.engine.timers import TimerDefinition
from bpm_process.errors import BpmnError, ErrorEntry, error_entry
from bpm_process.expressions import ExpressionError, compile_expression, compile_value
from bpm_process.platform import extension_problems
from bpm_process.xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH

__all__ = ["compile_bpmn", "compile_process", "select_process"]

_EVENT_BEHAVIORS: dict[tuple[str, str | None], str] = {
    ("startEvent", None): START_EVENT,
    ("endEvent", None): END_EVENT,
    ("endEvent", "terminate"): TERMINATE_END_EVENT,
    ("intermediateThrowEvent", None): FLOW_THROUGH,
}
_KIND_BEHAVIORS: dict[str, str] = {
    "startEvent": START_EVENT,
    "endEvent": END_EVENT,
    "intermediateThrowEvent": THROW_EVENT,
    "intermediateCatchEvent": CATCH_EVENT,
    "boundaryEvent": BOUNDARY_EVENT,
    "userTask": USER_TASK,
    "task": FLOW_THROUGH,
    "manualTask": FLOW_THROUGH,
    "serviceTask": WORK_TASK,
    "sendTask": WORK_TASK,
    "businessRuleTask": WORK_TASK,
    "receiveTask": RECEIVE_TASK,
    "callActivity": CALL_ACTIVITY,
    "exclusiveGateway": EXCLUSIVE_GATEWAY,
    "parallelGateway": PARALLEL_GATEWAY,
    "inclusiveGateway": INCLUSIVE_GATEWAY,
    "eventBasedGateway": EVENT_GATEWAY,
    "subProcess": SUB_PROCESS,
}
_CONDITION_LANGUAGES = ("juel", "feel", "xpath")
_ENGINE_DIALECTS = (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS)
_INITIATOR_DIALECTS = _ENGINE_DIALECTS
_ACTIVITY_BEHAVIORS = frozenset(
    {USER_TASK, WORK_TASK, RECEIVE_TASK, CALL_ACTIVITY, SUB_PROCESS, FLOW_THROUGH}
)
_ARMED_TRIGGERS = frozenset({MESSAGE, SIGNAL, TIMER})


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


def _external_condition(flow: SequenceFlow) -> str | None:
    """The ``resource`` (Camunda 7, Flowable, Activiti) a flow's condition is read from."""
    element = flow.element.find(f"{{{BPMN_NS}}}conditionExpression")
    if element is None:
        return None
    for namespace in _ENGINE_DIALECTS:
        resource = (element.get(f"{{{namespace}}}resource") or "").strip()
        if resource:
            return resource
    return None


class _Compiler:
    def __init__(self, definitions: Definitions, process: Process) -> None:
        self.definitions = definitions
        self.process = process
        self.problems: list[ErrorEntry] = []
        self.nodes: dict[str, Node] = {}
        self.flows: dict[str, Flow] = {}
        self.node_ids = frozenset(process.nodes_by_id)
        self.boundaries: dict[str, list[str]] = {}
        for flow_node in process.iter_flow_nodes():
            if flow_node.kind == "boundaryEvent" and flow_node.attached_to:
                self.boundaries.setdefault(flow_node.attached_to, []).append(flow_node.id)
        self.event_subprocesses: dict[str, list[str]] = {}

    def compile(self) -> ProcessGraph:
        process = self.process
        starts = self.container(process.id, process.flow_nodes, process.sequence_flows,
                                top_level=True)
        if not any(node.kind == "startEvent" for node in process.flow_nodes):
            self.problem(process.id, "the process has no start event", process.line)
        none_starts = [s for s in starts if self.nodes.get(s) and self.nodes[s].trigger is None]
        if len(none_starts) > 1:
            for start in none_starts:
                self.problem(start, "a process may have only one start event without an "
                                    "event definition")
        self.check_boundaries()
        if self.problems:
            raise BpmnError(
                f"the process {process.id!r} cannot be executed", self.problems
            )
        message_starts: dict[str, str] = {}
        signal_starts: dict[str, str] = {}
        timer_starts: dict[str, TimerDefinition] = {}
        for start_id in starts:
            trigger = self.nodes[start_id].trigger
            if trigger is None:
                continue
            if trigger.kind == MESSAGE and trigger.name is not None:
                message_starts[trigger.name.source] = start_id
            elif trigger.kind == SIGNAL and trigger.name is not None:
                signal_starts[trigger.name.source] = start_id
            elif trigger.kind == TIMER and trigger.timer is not None:
                timer_starts[start_id] = trigger.timer
        armed = {
            container: tuple(s for s in items if self.nodes[s].trigger is not None
                             and self.nodes[s].trigger.kind in _ARMED_TRIGGERS)  # type: ignore[union-attr]
            for container, items in self.event_subprocesses.items()
        }
        flow_upstream = self.inclusive_flow_upstream()
        return ProcessGraph(
            id=process.id,
            name=process.name,
            nodes=MappingProxyType(self.nodes),
            flows=MappingProxyType(self.flows),
            start_events=tuple(starts),
            none_start=none_starts[0] if none_starts else None,
            message_starts=MappingProxyType(message_starts),
            signal_starts=MappingProxyType(signal_starts),
            timer_starts=MappingProxyType(timer_starts),
            event_subprocesses=MappingProxyType(
                {key: tuple(value) for key, value in self.event_subprocesses.items()}),
            armed_event_subprocesses=MappingProxyType({k: v for k, v in armed.items() if v}),
            inclusive_upstream=MappingProxyType({
                join: frozenset().union(*by_flow.values()) for join, by_flow in flow_upstream.items()}),
            inclusive_flow_upstream=MappingProxyType(flow_upstream),
            initiator_task=self.initiator_task(none_starts[0] if none_starts else None),
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
            node = self.node(scope, flow_node, flows, by_id, top_level=top_level)
            if node is not None:
                self.nodes[node.id] = node
                if node.behavior == START_EVENT:
                    starts.append(node.id)
                elif node.behavior == EVENT_SUB_PROCESS and node.start is not None:
                    self.event_subprocesses.setdefault(scope, []).append(node.start)
        return starts

    def flow(self, flow: SequenceFlow, by_id: dict[str, FlowNode]) -> Flow | None:
        ok = True
        for end, ref in (("source", flow.source), ("target", flow.target)):
            if ref not in by_id:
                self.problem(flow.id, f"the {end} {ref!r} is not a flow node in the same "
                                      "process or sub-process", flow.line)
                ok = False
        condition = None
        external = _external_condition(flow)
        if external is not None:
            # Camunda's "External Resource" condition: the script lives in another file,
            # so the element has no text. Read as text it would be no condition at all,
            # and the flow would always be taken.
            self.problem(flow.id, f"the condition is a script in the external resource "
                                  f"{external!r}, which is not run; write the condition "
                                  "inside conditionExpression as ${...} or =...", flow.line)
            ok = False
        elif flow.condition is not None:
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
        return Flow(flow.id, flow.name, flow.source, flow.target, condition,
                    quick_test(condition) if condition is not None else None)

    def node(
        self, scope: str, flow_node: FlowNode, flows: dict[str, Flow],
        by_id: dict[str, FlowNode], *, top_level: bool
    ) -> Node | None:
        kind = flow_node.kind
        behavior = self.behavior(flow_node, top_level=top_level)
        outgoing = tuple(flows[flow_id] for flow_id in flow_node.outgoing if flow_id in flows)
        problems_before = len(self.problems)

        if behavior in (START_EVENT, BOUNDARY_EVENT) and flow_node.incoming:
            self.problem(flow_node.id, f"a {kind} cannot have incoming sequence flows",
                         flow_node.line)
        if behavior in (END_EVENT, TERMINATE_END_EVENT) and flow_node.outgoing:
            self.problem(flow_node.id, "an end event cannot have outgoing sequence flows",
                         flow_node.line)
        if behavior in (EXCLUSIVE_GATEWAY, INCLUSIVE_GATEWAY, EVENT_GATEWAY) \
                and not flow_node.outgoing:
            self.problem(flow_node.id, "the gateway has no outgoing sequence flow",
                         flow_node.line)
        if behavior == EVENT_SUB_PROCESS and (flow_node.incoming or flow_node.outgoing):
            self.problem(flow_node.id, "an event sub-process cannot have sequence flows",
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

        if behavior in (PARALLEL_GATEWAY, EVENT_GATEWAY):
            # BPMN ignores conditions on the outgoing flows of these gateways.
            outgoing = tuple(
                f if f.condition is None else Flow(f.id, f.name, f.source, f.target, None)
                for f in outgoing
            )
            for flow in outgoing:
                self.flows[flow.id] = flow

        for message in extension_problems(flow_node):
            self.problem(flow_node.id, message, flow_node.line)

        task: UserTaskDefinition | None = None
        if behavior == USER_TASK:
            task = read_user_task(flow_node, self.problems)

        trigger: EventTrigger | None = None
        if flow_node.event_definitions and behavior is not None:
            trigger = read_trigger(flow_node, self.definitions, self.problems)
        if behavior == RECEIVE_TASK:
            trigger = read_receive_trigger(flow_node, self.definitions, self.problems)

        start = None
        if behavior in (SUB_PROCESS, EVENT_SUB_PROCESS):
            start = self.sub_process(flow_node, behavior)

        work = None
        message_throw = None
        if behavior == WORK_TASK:
            work = read_work(flow_node, self.problems)
            if work is None and len(self.problems) == problems_before:
                message_throw = message_name_of(flow_node, self.definitions)
                if message_throw is None:
                    self.problem(flow_node.id, f"{kind} needs a worker", flow_node.line)
        call = read_call(flow_node, self.problems) if behavior == CALL_ACTIVITY else None
        loop = read_loop(flow_node, self.problems) if behavior in _ACTIVITY_BEHAVIORS else None
        approval = read_approval(flow_node, self.problems, self.node_ids) \
            if behavior == USER_TASK else None
        io = read_io(flow_node, self.problems) if behavior is not None else None

        targets: tuple[str, ...] = ()
        if behavior == EVENT_GATEWAY:
            targets = self.event_gateway_targets(flow_node, outgoing, by_id)

        attached_to = None
        interrupting = True
        if behavior == BOUNDARY_EVENT:
            attached_to = flow_node.attached_to
            interrupting = flow_node.cancel_activity
            if trigger is not None and trigger.kind == ERROR and not interrupting:
                self.problem(flow_node.id, "an error boundary event is always interrupting",
                             flow_node.line)
        elif behavior == START_EVENT and not top_level:
            interrupting = (flow_node.element.get("isInterrupting") or "true").strip().lower() \
                != "false"
            if trigger is not None and trigger.kind == ERROR and not interrupting:
                # BPMN 2.0 table 10.86: an error start event always interrupts its parent
                self.problem(flow_node.id, "an error start event of an event sub-process is "
                             "always interrupting", flow_node.line)

        if behavior is None or len(self.problems) > problems_before:
            return None
        if message_throw is not None:
            # A send task without a worker sends its message and goes on.
            behavior = THROW_EVENT
            trigger = read_receive_trigger(flow_node, self.definitions, self.problems) \
                or EventTrigger(MESSAGE, name=compile_value(message_throw))

        exit_flow = None
        if len(outgoing) == 1 and outgoing[0].condition is None and behavior not in (
            END_EVENT, TERMINATE_END_EVENT
        ):
            exit_flow = outgoing[0]

        boundaries = tuple(self.boundaries.get(flow_node.id, ()))
        armed = any(
            self.boundary_armed(by_id.get(boundary)) for boundary in boundaries
        )
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
            joins=behavior in (PARALLEL_GATEWAY, INCLUSIVE_GATEWAY)
            and len(flow_node.incoming) > 1,
            task=task,
            start=start,
            message=trigger.name.source
            if behavior == START_EVENT and trigger is not None and trigger.kind == MESSAGE
            and trigger.name is not None else None,
            initiator_variable=self.initiator_variable(flow_node)
            if behavior == START_EVENT else None,
            started=ActivityStarted(flow_node.id, flow_node.name, kind),
            completed=ActivityCompleted(flow_node.id, flow_node.name, kind),
            cancelled=ActivityCancelled(flow_node.id, flow_node.name, kind),
            trigger=trigger,
            boundaries=boundaries,
            attached_to=attached_to,
            interrupting=interrupting,
            targets=targets,
            loop=loop,
            approval=approval,
            work=work,
            call=call,
            io=io,
            armed=armed,
            copies=read_copies(flow_node),
        )

    def sub_process(self, flow_node: FlowNode, behavior: str) -> str | None:
        inner_starts = self.container(flow_node.id, flow_node.flow_nodes,
                                      flow_node.sequence_flows, top_level=False)
        if behavior == EVENT_SUB_PROCESS:
            if len(inner_starts) != 1:
                self.problem(flow_node.id, "an event sub-process needs exactly one start "
                                           "event", flow_node.line)
                return None
            start = self.nodes[inner_starts[0]]
            if start.trigger is None:
                self.problem(start.id, "the start event of an event sub-process needs a "
                                       "message, signal, timer, error or escalation "
                                       "definition")
                return None
            return start.id
        plain = [s for s in inner_starts if self.nodes[s].trigger is None]
        if len(plain) != 1 or len(inner_starts) != 1:
            self.problem(flow_node.id, "an embedded sub-process needs exactly one start "
                                       "event without an event definition", flow_node.line)
            return None
        return plain[0]

    def event_gateway_targets(self, flow_node: FlowNode, outgoing: tuple[Flow, ...],
                              by_id: dict[str, FlowNode]) -> tuple[str, ...]:
        targets = []
        for flow in outgoing:
            target = by_id.get(flow.target)
            if target is None:
                continue
            ok = (target.kind == "intermediateCatchEvent" and target.event_definitions
                  and target.event_definitions[0] in _ARMED_TRIGGERS) \
                or target.kind == "receiveTask"
            if not ok:
                self.problem(flow_node.id, f"an event-based gateway may only lead to message, "
                                           f"signal or timer catch events or receive tasks, "
                                           f"not to {flow.target!r}", flow_node.line)
            elif len(target.incoming) != 1:
                self.problem(target.id, "an event after an event-based gateway must have "
                                        "exactly one incoming flow", target.line)
            targets.append(flow.target)
        if len(targets) < 2:
            self.problem(flow_node.id, "an event-based gateway needs at least two outgoing "
                                       "flows", flow_node.line)
        return tuple(targets)

    @staticmethod
    def boundary_armed(boundary: FlowNode | None) -> bool:
        if boundary is None:
            return False
        kinds = boundary.event_definitions
        return bool(kinds) and kinds[0] in _ARMED_TRIGGERS

    def check_boundaries(self) -> None:
        for attached, boundary_ids in self.boundaries.items():
            host = self.nodes.get(attached)
            for boundary_id in boundary_ids:
                boundary = self.nodes.get(boundary_id)
                if boundary is None:
                    continue
                if host is None:
                    if attached not in self.node_ids:
                        self.problem(boundary_id, f"attachedToRef {attached!r} is not an "
                                                  "activity of the process")
                    continue
                if host.behavior not in (USER_TASK, WORK_TASK, RECEIVE_TASK, CALL_ACTIVITY,
                                         SUB_PROCESS) or host.scope != boundary.scope:
                    self.problem(boundary_id, "a boundary event must be attached to a task, "
                                              "sub-process or call activity that waits, in "
                                              "the same scope")
                trigger = boundary.trigger
                if trigger is not None and trigger.kind == ESCALATION \
                        and host.behavior not in (SUB_PROCESS, CALL_ACTIVITY):
                    self.problem(boundary_id, "an escalation boundary event must be attached "
                                              "to a sub-process or call activity")

    def inclusive_flow_upstream(self) -> dict[str, MappingProxyType[str, frozenset[str]]]:
        """For each inclusive join and each of its incoming flows, the nodes from which
        that flow can be reached without passing the join."""
        result: dict[str, MappingProxyType[str, frozenset[str]]] = {}
        predecessors: dict[str, list[str]] = {}
        for flow in self.flows.values():
            predecessors.setdefault(flow.target, []).append(flow.source)
        for node in self.nodes.values():
            if node.behavior != INCLUSIVE_GATEWAY or not node.joins:
                continue
            by_flow: dict[str, frozenset[str]] = {}
            for flow_id in node.incoming:
                if flow_id not in self.flows:
                    continue
                seen: set[str] = set()
                stack = [self.flows[flow_id].source]
                while stack:
                    current = stack.pop()
                    if current in seen or current == node.id:
                        continue
                    seen.add(current)
                    stack.extend(predecessors.get(current, ()))
                    # A token inside a sub-process waits as its sub-process's token, so the
                    # sub-process itself is what counts; boundary events hang off their host.
                    attached = self.nodes[current].attached_to if current in self.nodes else None
                    if attached:
                        stack.append(attached)
                by_flow[flow_id] = frozenset(seen)
            result[node.id] = MappingProxyType(by_flow)
        return result

    def initiator_task(self, none_start: str | None) -> str | None:
        names = {"initiator"}
        if none_start is not None and self.nodes[none_start].initiator_variable:
            names.add(self.nodes[none_start].initiator_variable or "")
        for flow_node in self.process.flow_nodes:
            node = self.nodes.get(flow_node.id)
            if node is None or node.task is None:
                continue
            if node.task.assignment_rules == ("initiator",):
                return node.id
            if node.task.assignee is None:
                continue
            source = node.task.assignee.source.strip()
            for name in names:
                if source in ("${" + name + "}", "#{" + name + "}", "=" + name):
                    return node.id
        if none_start is None:
            return None
        seen: set[str] = set()
        queue = [none_start]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            node = self.nodes[current]
            if node.behavior == USER_TASK and current != none_start:
                return current
            queue.extend(flow.target for flow in node.outgoing)
        return None

    def behavior(self, flow_node: FlowNode, *, top_level: bool) -> str | None:
        """The behaviour of a node, or ``None`` after reporting why it cannot run. What
        is executable is decided by :mod:`bpm_process.support`, the list the designer's
        lint uses too."""
        reason = support.unsupported_reason(flow_node, top_level=top_level)
        if reason is not None:
            return self.refuse(flow_node, reason)
        definitions = flow_node.event_definitions
        kind = definitions[0] if definitions else None
        if flow_node.kind == "subProcess" and flow_node.triggered_by_event:
            return EVENT_SUB_PROCESS
        behavior = _EVENT_BEHAVIORS.get((flow_node.kind, kind))
        if behavior is not None:
            return behavior
        behavior = _KIND_BEHAVIORS.get(flow_node.kind)
        if behavior is None:
            return self.refuse(flow_node, f"{flow_node.kind} is not supported by this engine")
        if behavior == START_EVENT and top_level and kind in (ERROR, ESCALATION):
            return self.refuse(flow_node, f"a {kind} start event is only allowed in an event "
                                          "sub-process")
        return behavior

    def refuse(self, flow_node: FlowNode, reason: str) -> None:
        self.problem(flow_node.id, reason, flow_node.line)
        return None

    @staticmethod
    def initiator_variable(flow_node: FlowNode) -> str | None:
        for namespace in _INITIATOR_DIALECTS:
            value = flow_node.element.get(f"{{{namespace}}}initiator")
            if value and value.strip():
                return value.strip()
        return None

