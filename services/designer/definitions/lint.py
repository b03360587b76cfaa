"""Lint: what stops a BPMN model from running well, found before it is published.

Each rule is a small function registered under an id (`@rule("start-event")`);
`lint()` parses the document once and runs every registered rule on it. A rule
yields `Finding`s; a finding with severity `error` blocks publication, a
`warning` does not. Which elements the runtime executes comes from
`bpm_process.support`, the list the engine's compiler also uses, so lint and
engine never disagree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

from lxml import etree

from bpm_process import support
from bpm_process.bpmn import Definitions, FlowNode, Process, SequenceFlow
from bpm_process.engine.compiler import compile_process
from bpm_process.errors import BpmnError
from bpm_process.expressions import ExpressionError, compile_expression, compile_list, compile_value
from bpm_process.isotime import (
    looks_like_duration,
    parse_datetime,
    parse_duration,
    parse_repeating_interval,
)
from bpm_process.jsontemplate import is_json_template, json_template_problem
from bpm_process.namespaces import ACTIVITI_NS, BPM_NS, BPMN_NS, CAMUNDA_NS, FLOWABLE_NS
from bpm_process.platform import extension_problems
from services.designer.definitions.assignment import assignment_texts, due_date_texts
from services.designer.definitions.parsing import (
    BpmnInvalid,
    Limits,
    ModelProblem,
    choose_process,
    parse_model,
)

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    element_id: str | None
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "element_id": self.element_id,
            "message": self.message,
        }
        if self.line is not None:
            body["line"] = self.line
        return body


@dataclass(frozen=True, slots=True)
class LintReport:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def extended(self, findings: Iterable[Finding]) -> LintReport:
        return LintReport((*self.findings, *findings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
        }


@dataclass
class LintContext:
    """What the rules look at. `definitions`/`process` are None when the document is unreadable."""

    root: etree._Element | None
    definitions: Definitions | None
    process: Process | None
    publishing: bool
    parse_problems: list[dict[str, Any]] = field(default_factory=list)
    extra_executables: tuple[Process, ...] = ()


RuleCheck = Callable[[LintContext], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: str
    check: RuleCheck


RULES: dict[str, Rule] = {}


def rule(rule_id: str, description: str) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule; rules run in the order they are registered."""

    def register(check: RuleCheck) -> RuleCheck:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        RULES[rule_id] = Rule(rule_id, description, check)
        return check

    return register


def lint(data: bytes, limits: Limits, *, publishing: bool = False) -> LintReport:
    """Parse `data` and run every rule. `publishing` makes a missing executable process an error."""
    try:
        parsed = parse_model(data, limits)
    except ModelProblem as exc:
        root = exc.root if isinstance(exc, BpmnInvalid) else None
        ctx = LintContext(root, None, None, publishing, parse_problems=exc.errors)
    else:
        choice = choose_process(parsed.definitions)
        ctx = LintContext(
            parsed.root,
            parsed.definitions,
            choice.process,
            publishing,
            extra_executables=choice.extra_executables,
        )
    findings: list[Finding] = []
    for registered in RULES.values():
        findings.extend(registered.check(ctx))
    return LintReport(tuple(_without_repeats(findings)))


def _without_repeats(findings: list[Finding]) -> list[Finding]:
    """The findings, less the engine's errors on elements another rule already found an
    error on (the same problem, said twice)."""
    faulty = {f.element_id for f in findings if f.severity == ERROR and f.rule != ENGINE_RULE}
    return [f for f in findings if f.rule != ENGINE_RULE or f.element_id not in faulty]


# --- the rules ---------------------------------------------------------------------------


@rule("duplicate-id", "Every id in the document is unique.")
def duplicate_ids(ctx: LintContext) -> Iterator[Finding]:
    if ctx.root is None:
        return
    first_line: dict[str, int | None] = {}
    reported: set[str] = set()
    for element in ctx.root.iter():
        if not isinstance(element.tag, str):
            continue
        element_id = element.get("id")
        if element_id is None:
            continue
        if element_id not in first_line:
            first_line[element_id] = element.sourceline
        elif element_id not in reported:
            reported.add(element_id)
            yield Finding(
                "duplicate-id",
                ERROR,
                element_id,
                f"the id {element_id!r} is used more than once "
                f"(first on line {first_line[element_id]})",
                element.sourceline,
            )


@rule("bpmn-valid", "The document is well-formed, safe XML and a readable BPMN 2.0 model.")
def bpmn_valid(ctx: LintContext) -> Iterator[Finding]:
    duplicated = {f.element_id for f in duplicate_ids(ctx)}
    for problem in ctx.parse_problems:
        element_id = problem.get("element_id")
        if element_id is not None and element_id in duplicated:
            continue  # already reported by duplicate-id
        yield Finding(
            "bpmn-valid", ERROR, element_id, str(problem.get("message")), problem.get("line")
        )
    if ctx.definitions is not None and not ctx.definitions.processes:
        yield Finding("bpmn-valid", ERROR, None, "the document contains no process")


@rule("executable-process", 'Exactly one process is marked isExecutable="true".')
def executable_process(ctx: LintContext) -> Iterator[Finding]:
    if ctx.definitions is None or ctx.process is None:
        return
    if not ctx.process.is_executable:
        yield Finding(
            "executable-process",
            ERROR if ctx.publishing else WARNING,
            ctx.process.id,
            'no process is marked isExecutable="true"; the model can be stored but not published',
            ctx.process.line,
        )
    for other in ctx.extra_executables:
        yield Finding(
            "executable-process",
            ERROR,
            other.id,
            f"several processes are executable ({ctx.process.id!r} and {other.id!r}); "
            "mark only the one to run",
            other.line,
        )


@rule("start-event", "The process has exactly one start event without a trigger or with a message.")
def start_event(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    starts = [
        n
        for n in process.flow_nodes
        if n.kind == "startEvent" and n.event_definitions in ((), ("message",))
    ]
    if not starts:
        yield Finding(
            "start-event",
            ERROR,
            process.id,
            "the process needs a start event (without a trigger, or with a message)",
            process.line,
        )
    elif len(starts) > 1:
        ids = ", ".join(n.id for n in starts)
        for node in starts:
            yield Finding(
                "start-event",
                ERROR,
                node.id,
                f"the process has {len(starts)} start events ({ids}); it needs exactly one",
                node.line,
            )


@rule("end-event", "The process has at least one end event.")
def end_event(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    if not any(n.kind == "endEvent" for n in process.flow_nodes):
        yield Finding("end-event", ERROR, process.id, "the process has no end event", process.line)


@rule("reachable", "Every flow node can be reached from a start event.")
def reachable(ctx: LintContext) -> Iterator[Finding]:
    if ctx.process is not None:
        yield from _unreachable_in(ctx.process.flow_nodes, ctx.process.sequence_flows, adhoc=False)


@rule("path-to-end", "From every flow node an end event can be reached.")
def path_to_end(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None or not any(n.kind == "endEvent" for n in process.flow_nodes):
        return  # no end event at all: `end-event` says so once
    yield from _dead_ends_in(process.flow_nodes, process.sequence_flows)


@rule("supported-element", "Every flow node is of a kind the runtime executes.")
def supported_element(ctx: LintContext) -> Iterator[Finding]:
    if ctx.process is not None:
        yield from _unsupported_in(ctx.process.flow_nodes)


@rule("condition-syntax", "Conditions and assignment expressions compile.")
def condition_syntax(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for flow in process.flows_by_id.values():
        if flow.condition is not None:
            yield from _check_condition(flow)
    for node in process.iter_flow_nodes():
        if node.kind != "userTask":
            continue
        for text in assignment_texts(node.element):
            if text.kind == "rules":
                continue  # `assignment-rules` checks them
            compile_text = compile_list if text.kind == "list" else compile_value
            try:
                compile_text(text.text)
            except ExpressionError as exc:
                yield Finding(
                    "condition-syntax",
                    ERROR,
                    node.id,
                    f"{text.where} {text.text!r} does not compile: {exc.message}",
                    node.line,
                )


@rule("exclusive-gateway-outgoing", "A diverging exclusive gateway can always choose a flow.")
def exclusive_gateway_outgoing(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        if node.kind != "exclusiveGateway" or len(node.outgoing) < 2:
            continue
        if node.default is not None and node.default not in node.outgoing:
            yield Finding(
                "exclusive-gateway-outgoing",
                ERROR,
                node.id,
                f"the default flow {node.default!r} is not an outgoing flow of the gateway",
                node.line,
            )
        unconditioned = [
            flow_id
            for flow_id in node.outgoing
            if flow_id != node.default and _flow(process, flow_id).condition is None
        ]
        if not unconditioned:
            continue
        names = ", ".join(unconditioned)
        if node.default is None:
            yield Finding(
                "exclusive-gateway-outgoing",
                ERROR,
                node.id,
                f"the gateway splits, but its outgoing flows {names} have no condition and "
                "it has no default flow",
                node.line,
            )
        else:
            yield Finding(
                "exclusive-gateway-outgoing",
                WARNING,
                node.id,
                f"the outgoing flows {names} have no condition and are not the default flow",
                node.line,
            )


@rule("user-task-assignment", "Every user task says who works it.")
def user_task_assignment(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        if node.kind == "userTask" and not assignment_texts(node.element):
            yield Finding(
                "user-task-assignment",
                ERROR,
                node.id,
                "the user task has no assignee, candidate users, candidate groups or "
                "potential owner, so nobody could work it",
                node.line,
            )


@rule("due-date", "User task due dates are ISO 8601 durations or date-times, or expressions.")
def due_date(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        if node.kind != "userTask":
            continue
        for text in due_date_texts(node.element):
            problem = _due_date_problem(text.text)
            if problem:
                yield Finding(
                    "due-date", ERROR, node.id, f"{text.where} {text.text!r}: {problem}", node.line
                )


@rule("timer-value", "Timers have a valid ISO 8601 date, duration or repeating interval.")
def timer_value(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        if "timer" not in node.event_definitions:
            continue
        for definition in node.event_definition_elements:
            for local, check in _TIMER_CHECKS:
                child = definition.find(f"{{{BPMN_NS}}}{local}")
                if child is None:
                    continue
                text = "".join(child.itertext()).strip()
                problem = _timer_problem(text, check) if text else "is empty"
                if problem:
                    yield Finding(
                        "timer-value", ERROR, node.id, f"{local} {text!r}: {problem}", node.line
                    )


@rule(
    "parallel-join-after-exclusive-split",
    "A parallel join is not fed by the branches of one exclusive split (it would wait forever).",
)
def parallel_join_after_exclusive_split(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    nodes = process.nodes_by_id
    for node in process.iter_flow_nodes():
        if node.kind != "parallelGateway" or len(node.incoming) < 2:
            continue
        splits: dict[str, int] = {}
        for flow_id in node.incoming:
            for split in _nearest_splits(process, process.flows_by_id[flow_id].source, node.id):
                splits[split] = splits.get(split, 0) + 1
        for split_id, count in splits.items():
            split = nodes[split_id]
            if count >= 2 and split.kind in ("exclusiveGateway", "eventBasedGateway"):
                yield Finding(
                    "parallel-join-after-exclusive-split",
                    ERROR,
                    node.id,
                    f"this parallel gateway waits for all its incoming flows, but {count} of them "
                    f"come from the {split.kind} {split_id!r}, which takes only one: the instance "
                    "would wait forever (join with an exclusive gateway instead)",
                    node.line,
                )


@rule(
    "platform-extensions",
    "bpm:assignment, bpm:copyTo, RACI, bpm:timeLimit, bpm:remindBefore, bpm:timeoutAction and "
    "bpm:timeoutReassignTo are written and placed as the runtime reads them.",
)
def platform_extensions(ctx: LintContext) -> Iterator[Finding]:
    """The engine's own check (`bpm_process.platform`), so lint and engine agree."""
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        for message in extension_problems(node):
            yield Finding("platform-extensions", ERROR, node.id, message, node.line)


@rule("approval-settings", "bpm:approval settings are ones the runtime accepts.")
def approval_settings(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        problem = _approval_problem(node, process)
        if problem:
            yield Finding("approval-settings", ERROR, node.id, problem, node.line)


@rule("automation-settings", "Retries, timeouts and HTTP connectors of automated steps are valid.")
def automation_settings(ctx: LintContext) -> Iterator[Finding]:
    process = ctx.process
    if process is None:
        return
    for node in process.iter_flow_nodes():
        element = node.element
        retries = element.get(f"{{{BPM_NS}}}retries")
        if retries is not None and (not retries.strip().isdigit() or len(retries.strip()) > 6):
            yield Finding(
                "automation-settings",
                ERROR,
                node.id,
                f"bpm:retries must be a whole number, not {retries!r}",
                node.line,
            )
        for name in ("retryBackoff", "timeout"):
            text = element.get(f"{{{BPM_NS}}}{name}")
            if text is not None and text.strip():
                try:
                    parse_duration(text)
                except ValueError as exc:
                    yield Finding(
                        "automation-settings", ERROR, node.id, f"bpm:{name}: {exc}", node.line
                    )
        for http in element.iter(f"{{{BPM_NS}}}http"):
            if not (http.get("url") or "").strip():
                yield Finding(
                    "automation-settings", ERROR, node.id, "bpm:http needs a url", node.line
                )
            problem = _json_body_problem(http)
            if problem:
                yield Finding("automation-settings", ERROR, node.id, f"bpm:body: {problem}", node.line)


@rule("listeners", "Execution and task listeners (Java classes, delegates, scripts) are named: they do not run.")
def listeners(ctx: LintContext) -> Iterator[Finding]:
    """Camunda, Flowable and Activiti run code on an element's events; the runtime runs no
    code from a model, so a listener that assigned a task or set a variable a condition
    reads would be silently skipped. A warning names each one (the model still runs)."""
    if ctx.process is None:
        return
    for node in ctx.process.iter_flow_nodes():
        extensions = node.element.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:
            continue
        for child in extensions:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name in _LISTENERS and etree.QName(child).namespace in _ENGINE_DIALECTS:
                yield Finding("listeners", WARNING, node.id,
                              f"the {_LISTENERS[name]} does not run: the platform runs no code from a "
                              "model (use a service task, bpm:assignment or an output mapping instead)",
                              node.line)


@rule("skip-expression", "Flowable's and Activiti's skipExpression is named: it is not evaluated.")
def skip_expression(ctx: LintContext) -> Iterator[Finding]:
    """Flowable skips a task whose ``skipExpression`` is true (when the instance enables
    skipping); here the task always runs, so the model would behave differently unless
    warned."""
    if ctx.process is None:
        return
    for node in ctx.process.iter_flow_nodes():
        for namespace in _ENGINE_DIALECTS:
            if node.element.get(f"{{{namespace}}}skipExpression") is not None:
                yield Finding("skip-expression", WARNING, node.id,
                              "skipExpression is not evaluated: the task always runs (route around it "
                              "with an exclusive gateway instead)", node.line)
                break


ENGINE_RULE = "executable"


@rule(ENGINE_RULE, "The runtime's compiler accepts the executable process: what it refuses is never published.")
def executable(ctx: LintContext) -> Iterator[Finding]:
    """The runtime's own compiler, run on the chosen executable process. The rules above
    explain the common mistakes in the designer's words; this one catches the rest, so
    that a model the runtime would refuse at every start (a Camunda input parameter of
    type script, an empty multi-instance, an unknown error reference ...) is refused at
    publication instead."""
    if ctx.definitions is None or ctx.process is None or not ctx.process.is_executable:
        return
    try:
        compile_process(ctx.definitions, ctx.process.id)
    except BpmnError as exc:
        for entry in exc.errors:
            yield Finding(ENGINE_RULE, ERROR, entry.get("element_id"), entry["message"], entry.get("line"))


# --- helpers -----------------------------------------------------------------------------


def _json_body_problem(http: etree._Element) -> str | None:
    """What the engine's compiler would refuse in a JSON body template (text starting with
    `{` or `[`): the runtime could not run a version published with it."""
    body = http.find(f"{{{BPM_NS}}}body")
    text = "".join(body.itertext()).strip() if body is not None else ""
    if not text or not is_json_template(text):
        return None
    return json_template_problem(text)


_LISTENERS = {"executionListener": "execution listener", "taskListener": "task listener"}
_ENGINE_DIALECTS = frozenset({CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS})

_SCRIPT_LANGUAGES = frozenset(
    {"javascript", "ecmascript", "js", "groovy", "python", "jython", "ruby"}
)


_SIGN_MODES = ("all", "any", "ratio", "votes")
_TIMER_CHECKS = (("timeDate", "date"), ("timeDuration", "duration"), ("timeCycle", "cycle"))


def _timer_problem(text: str, check: str) -> str | None:
    try:
        value = compile_value(text)
    except ExpressionError as exc:
        return f"does not compile: {exc.message}"
    if not value.is_constant:
        return None
    try:
        if check == "date":
            parse_datetime(text).astimezone(UTC)  # in UTC, as the runtime keeps it
        elif check == "duration":
            if parse_duration(text).negative:
                return "a timer duration cannot be negative"
        else:
            parse_repeating_interval(text)
    except ValueError as exc:
        return str(exc)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the calendar in UTC
        return "the date is out of the range of dates"
    return None


def _approval_problem(node: FlowNode, process: Process) -> str | None:
    """What the engine refuses in the approval attributes of a node (same rules)."""
    element = node.element

    def value(name: str) -> str | None:
        text = element.get(f"{{{BPM_NS}}}{name}")
        return text.strip() if text is not None else None

    if (value("approval") or "").lower() != "true":
        for name in ("signMode", "passRatio", "passVotes", "rejectEnds", "rejectAction"):
            if value(name) is not None:
                return f'bpm:{name} needs bpm:approval="true"'
        return None
    mode = (value("signMode") or "all").lower()
    if mode not in _SIGN_MODES:
        return f"bpm:signMode must be one of {', '.join(_SIGN_MODES)}, not {mode!r}"
    if mode == "ratio":
        ratio = value("passRatio") or ""
        try:
            number = float(ratio)
        except ValueError:
            number = -1.0
        if not 0 < number <= 1:
            return f"bpm:passRatio must be a number between 0 and 1, not {ratio!r}"
    if mode == "votes":
        votes = value("passVotes") or ""
        if not votes.isdigit() or int(votes) < 1:
            return 'bpm:signMode="votes" needs bpm:passVotes of at least 1'
    action = value("rejectAction")
    if action is not None and action not in ("end", "initiator", "previous"):
        target = action[5:].strip() if action.startswith("node:") else None
        if target is None or target not in process.nodes_by_id:
            return (
                "bpm:rejectAction must be end, initiator, previous or node:<id> of a node of "
                f"the process, not {action!r}"
            )
    return None


def _nearest_splits(process: Process, start: str, join: str) -> set[str]:
    """The diverging gateways met first when walking backwards from `start`."""
    found: set[str] = set()
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current in seen or current == join:
            continue
        seen.add(current)
        node = process.nodes_by_id.get(current)
        if node is None:
            continue
        if node.kind.endswith("Gateway") and len(node.outgoing) >= 2:
            found.add(current)
            continue
        queue.extend(process.flows_by_id[f].source for f in node.incoming)
    return found


def _flow(process: Process, flow_id: str) -> SequenceFlow:
    return process.flows_by_id[flow_id]


def _check_condition(flow: SequenceFlow) -> Iterator[Finding]:
    language = (flow.condition_language or "").strip().lower()
    if language in _SCRIPT_LANGUAGES:
        yield Finding(
            "condition-syntax",
            ERROR,
            flow.id,
            f"conditions in {flow.condition_language} are not run; "
            "write ${...} or =... expressions",
            flow.line,
        )
        return
    try:
        compile_expression(flow.condition or "")
    except ExpressionError as exc:
        yield Finding(
            "condition-syntax",
            ERROR,
            flow.id,
            f"the condition {flow.condition!r} does not compile: {exc.message}",
            flow.line,
        )


def _due_date_problem(text: str) -> str | None:
    try:
        value = compile_value(text)
    except ExpressionError as exc:
        return f"does not compile: {exc.message}"
    if not value.is_constant:
        return None
    try:
        if looks_like_duration(text):
            parse_duration(text)
        else:
            parse_datetime(text)
    except ValueError as exc:
        return str(exc)
    return None


def _is_compensation(node: FlowNode) -> bool:
    return node.element.get("isForCompensation") == "true" or "compensate" in node.event_definitions


def _successors(flows: Iterable[SequenceFlow]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for flow in flows:
        graph.setdefault(flow.source, []).append(flow.target)
    return graph


def _walk(
    seeds: Iterable[str], graph: dict[str, list[str]], extra: dict[str, list[str]]
) -> set[str]:
    """Ids reachable from `seeds` along `graph`; `extra` adds edges (activity → boundary events)."""
    seen: set[str] = set()
    queue = deque(seeds)
    while queue:
        current = queue.popleft()
        if current in seen:
            continue
        seen.add(current)
        queue.extend(graph.get(current, ()))
        queue.extend(extra.get(current, ()))
    return seen


def _unreachable_in(
    nodes: tuple[FlowNode, ...], flows: tuple[SequenceFlow, ...], *, adhoc: bool
) -> Iterator[Finding]:
    """Nodes of one container that no start reaches; reached sub-processes are checked inside."""
    if adhoc:
        reached = {n.id for n in nodes}
    else:
        has_incoming = {f.target for f in flows}
        starts = [n.id for n in nodes if n.kind == "startEvent"]
        if not starts:  # BPMN: without start events, every node without incoming flow starts
            starts = [n.id for n in nodes if n.id not in has_incoming and n.kind != "boundaryEvent"]
        seeds = starts + [n.id for n in nodes if n.triggered_by_event or _is_compensation(n)]
        boundaries: dict[str, list[str]] = {}
        for node in nodes:
            if node.attached_to:
                boundaries.setdefault(node.attached_to, []).append(node.id)
        reached = _walk(seeds, _successors(flows), boundaries)
    for node in nodes:
        if node.id not in reached:
            yield Finding(
                "reachable",
                ERROR,
                node.id,
                f"no path from a start event leads to this {node.kind}",
                node.line,
            )
        elif node.is_container:
            yield from _unreachable_in(
                node.flow_nodes, node.sequence_flows, adhoc=node.kind == "adHocSubProcess"
            )


def _dead_ends_in(
    nodes: tuple[FlowNode, ...], flows: tuple[SequenceFlow, ...]
) -> Iterator[Finding]:
    """Nodes of one container from which no end event of that container can be reached."""
    predecessors: dict[str, list[str]] = {}
    for flow in flows:
        predecessors.setdefault(flow.target, []).append(flow.source)
    ends = [n.id for n in nodes if n.kind == "endEvent"]
    finishing = _walk(ends, predecessors, {})
    for node in nodes:
        started_by_event = node.triggered_by_event or _is_compensation(node)  # ends inside itself
        if not started_by_event and node.id not in finishing:
            yield Finding(
                "path-to-end",
                ERROR,
                node.id,
                f"no path leads from this {node.kind} to an end event",
                node.line,
            )
        if node.is_container and node.kind != "adHocSubProcess":
            if any(child.kind == "endEvent" for child in node.flow_nodes):
                yield from _dead_ends_in(node.flow_nodes, node.sequence_flows)
            elif node.flow_nodes:
                yield Finding(
                    "path-to-end", ERROR, node.id, f"the {node.kind} has no end event", node.line
                )


def _unsupported_in(nodes: tuple[FlowNode, ...], *, top_level: bool = True) -> Iterator[Finding]:
    """What the runtime cannot execute, by the same rule the engine's compiler applies."""
    for node in nodes:
        reason = support.unsupported_reason(node, top_level=top_level)
        if reason is not None:
            yield Finding(
                "supported-element",
                ERROR,
                node.id,
                f"the runtime cannot execute this: {reason}",
                node.line,
            )
        elif node.is_container:
            yield from _unsupported_in(node.flow_nodes, top_level=False)


PUBLICATION_RULES = {
    "form-reference": "Every form:<name> the start event and user tasks name is a form of "
    "the version (checked on stored versions).",
    "form-valid": "The forms of the version are valid and their dictionaries exist "
    "(checked on stored versions).",
}
"""Rules that need the stored version (its forms); `forms.service` reports them."""


def rule_catalogue() -> list[dict[str, str]]:
    """The registered rules and the publication rules, for documentation and the API."""
    rules = [{"id": r.id, "description": r.description} for r in RULES.values()]
    return rules + [{"id": k, "description": v} for k, v in PUBLICATION_RULES.items()]


__all__ = [
    "ERROR",
    "RULES",
    "WARNING",
    "Finding",
    "LintContext",
    "LintReport",
    "Rule",
    "lint",
    "rule",
    "rule_catalogue",
]
