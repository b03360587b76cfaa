"""Reading what BPMN leaves to the engine: event triggers, variable mappings,
multi-instance characteristics, approvals, automated work and call activities, in
every supported dialect (Camunda 7, Flowable/Activiti, Camunda 8/Zeebe and our own
``bpm`` namespace).

The ``bpm`` extension namespace (``http://bpm-platform.org/schema/bpmn/1.0``)
==============================================================================

On ``userTask`` (approvals)::

    bpm:approval="true"           completions carry an outcome: approve | reject
    bpm:signMode="all|any|ratio|votes"
                                  all: every signer must approve (会签); any: the first
                                  approval decides (或签); ratio/votes: pass at
                                  bpm:passRatio="0.6" of all instances, or at
                                  bpm:passVotes="2" approvals (票签)
    bpm:rejectEnds="true"         the first rejection decides the node as rejected
    bpm:rejectAction="end|initiator|previous|node:<id>"
                                  what a rejected approval does next (default: follow
                                  the outgoing flows; route on ${<nodeId>_outcome})

On events and receive tasks: ``bpm:correlationKey="${orderId}"`` (also allowed on
``<message>``). On any automated task: ``bpm:retries="3"``,
``bpm:retryBackoff="PT1M"``, ``bpm:timeout="PT30S"``.

People and time on ``userTask`` (checked by :mod:`bpm_process.platform`, carried in
the :class:`~bpm_process.engine.events.TaskSpec`, acted on by the runtime)::

    bpm:assignment="manager, role:finance_reviewer"
                                  rules (see :mod:`bpm_process.assignment`) the runtime
                                  resolves to candidates when the task is created
    bpm:timeLimit="P1D"           working time (or an expression giving it) until due
    bpm:remindBefore="PT2H"       due soon this long before (default PT1H)
    bpm:timeoutAction="escalate|auto_approve|auto_reject|reassign|none"
    bpm:timeoutReassignTo="role:deputy"

Copies (抄送): ``bpm:copyTo="user:alice, role:risk"`` on an intermediate throw event
without an event definition, and ``<bpm:raci><bpm:informed>rules</bpm:informed>
</bpm:raci>`` inside ``extensionElements`` of any flow node, emit a
:class:`~bpm_process.engine.events.CopyRequested` record after the node's
``activity_completed`` (once per multi-instance node, when the whole node completes).

The HTTP connector, inside ``extensionElements`` of a service, send or business
rule task::

    <bpm:http method="POST" url="https://erp.example/orders/${orderId}"
              timeout="PT30S" retries="3" retryBackoff="PT10S"
              resultVariable="erpResponse">
      <bpm:header name="Authorization" value="Bearer ${erpToken}"/>
      <bpm:body>{"amount": ${amount}, "currency": "${currency}"}</bpm:body>
      <bpm:response variable="erpOrderId" path="data.id"/>
      <bpm:output source="=status" target="erpStatus"/>
    </bpm:http>

``method`` (default GET), ``url``, header values and the body may contain expressions;
a body that is one expression (``=order`` or ``${order}``) sends that value as JSON.
A body whose text starts with ``{`` or ``[`` is a JSON template
(:mod:`bpm_process.jsontemplate`): a placeholder inside a JSON string gives the value's
text escaped for the string, one elsewhere the value as JSON, so the body is always
valid JSON and no value can add keys to it; a JSON template that is not JSON (each
placeholder taken as a value) is refused. The runtime reports the response with
``complete_work(variables={"status": 200, "headers": {...}, "body": ...})``.
``<bpm:response variable="x" path="data.id"/>`` stores the value at that path of the
body (dots separate map keys and list indexes; no path: the whole body);
``resultVariable`` stores the whole response object, and each ``bpm:output`` maps an
expression over it (``status``, ``headers``, ``body``, and the instance's variables) to
a variable.

Variable mappings of our own, for any activity (used when no vendor mapping is
present)::

    <bpm:input source="=order.total" target="amount"/>
    <bpm:output source="=approved" target="orderApproved"/>
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from bpm_process.assignment import raci_texts
from bpm_process.bpmn import Definitions, FlowNode
from bpm_process.engine.events import CopyRequested
from bpm_process.engine.graph import (
    ESCALATION,
    MESSAGE,
    SIGNAL,
    TIMER,
    ApprovalDefinition,
    CallDefinition,
    EventTrigger,
    HttpRequestDefinition,
    IoMappings,
    LoopDefinition,
    VariableMapping,
    WorkDefinition,
)
from bpm_process.engine.quick import variable_name
from bpm_process.engine.tasks import rule_strings
from bpm_process.engine.timers import CYCLE, DATE, DURATION, TimerDefinition, parse_timer_value
from bpm_process.errors import ErrorEntry, error_entry
from bpm_process.expressions import Expression, ExpressionError, compile_expression, compile_value
from bpm_process.isotime import parse_duration, parse_repeating_interval
from bpm_process.jsontemplate import compile_json_template, is_json_template
from bpm_process.namespaces import (
    ACTIVITI_NS,
    BPM_NS,
    BPMN_NS,
    CAMUNDA_NS,
    FLOWABLE_NS,
    ZEEBE_NS,
)

__all__ = [
    "SIGN_MODES",
    "read_approval",
    "read_call",
    "read_copies",
    "read_io",
    "message_name_of",
    "read_loop",
    "read_receive_trigger",
    "read_trigger",
    "read_work",
]

SIGN_MODES = ("all", "any", "ratio", "votes")
_DIALECTS = (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS)
_DEFAULT_RETRIES = 3
_TIMER_TAGS = (("timeDate", DATE), ("timeDuration", DURATION), ("timeCycle", CYCLE))


class _Reader:
    """Collects problems for one node."""

    def __init__(self, node: FlowNode, problems: list[ErrorEntry]) -> None:
        self.node = node
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append(error_entry(self.node.id, message, self.node.line))

    def expression(self, text: str, what: str) -> Expression | None:
        try:
            return compile_expression(text)
        except ExpressionError as exc:
            self.problem(f"{what}: {exc}")
            return None

    def value(self, text: str, what: str) -> Expression | None:
        try:
            return compile_value(text)
        except ExpressionError as exc:
            self.problem(f"{what}: {exc}")
            return None

    def mapping(self, target: str | None, source: str | None, what: str) -> VariableMapping | None:
        target = (target or "").strip()
        if not target:
            self.problem(f"{what} needs a target variable name")
            return None
        if source is None or not source.strip():
            self.problem(f"{what} {target!r} needs a source")
            return None
        compiled = self.value(source, f"{what} {target!r}")
        return VariableMapping(target, compiled) if compiled is not None else None

    def duration_text(self, text: str | None, what: str) -> str | None:
        if not text or not text.strip():
            return None
        try:
            parse_duration(text)
        except ValueError as exc:
            self.problem(f"{what}: {exc}")
            return None
        return text.strip()

    def whole(self, text: str | None, what: str, default: int) -> int:
        if text is None or not text.strip():
            return default
        stripped = text.strip()
        if not stripped.isdigit() or len(stripped) > 6:
            self.problem(f"{what} must be a whole number, not {text!r}")
            return default
        return int(stripped)


def _extensions(element: etree._Element) -> etree._Element | None:
    return element.find(f"{{{BPMN_NS}}}extensionElements")


def _dialect(element: etree._Element, name: str) -> str | None:
    for namespace in _DIALECTS:
        value = element.get(f"{{{namespace}}}{name}")
        if value is not None and value.strip():
            return value.strip()
    return None


def _dialect_children(parent: etree._Element | None, name: str) -> list[etree._Element]:
    if parent is None:
        return []
    found: list[etree._Element] = []
    for namespace in _DIALECTS:
        found.extend(parent.findall(f"{{{namespace}}}{name}"))
    return found


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


# -- event triggers ------------------------------------------------------------------


def read_trigger(
    node: FlowNode, definitions: Definitions, problems: list[ErrorEntry]
) -> EventTrigger | None:
    """The trigger of an event (``None`` for none and terminate events)."""
    if not node.event_definitions:
        return None
    kind = node.event_definitions[0]
    element = node.event_definition_elements[0]
    reader = _Reader(node, problems)
    if kind == MESSAGE:
        return _message_trigger(reader, element, definitions)
    if kind == SIGNAL:
        ref = element.get("signalRef")
        signal = definitions.signals.get(ref or "")
        text = (signal.name if signal is not None and signal.name else ref) or node.id
        name = reader.value(text, "signal name")
        return EventTrigger(SIGNAL, name=name) if name is not None else None
    if kind == TIMER:
        timer = _timer(reader, element)
        return EventTrigger(TIMER, timer=timer) if timer is not None else None
    if kind in ("error", ESCALATION):
        ref_attribute = "errorRef" if kind == "error" else "escalationRef"
        table = definitions.errors if kind == "error" else definitions.escalations
        ref = element.get(ref_attribute)
        code = None
        if ref:
            found = table.get(ref)
            if found is None:
                reader.problem(f"unknown {kind} {ref!r}")
                return None
            code = found.code or (found.name if kind == ESCALATION else None) or None
        code_variable = element.get(f"{{{CAMUNDA_NS}}}{kind}CodeVariable") or None
        message_variable = element.get(f"{{{CAMUNDA_NS}}}errorMessageVariable") or None
        return EventTrigger(kind, code=code, code_variable=code_variable,
                            message_variable=message_variable)
    return EventTrigger(kind)


def _message_trigger(
    reader: _Reader, element: etree._Element, definitions: Definitions
) -> EventTrigger | None:
    node = reader.node
    ref = element.get("messageRef") or node.element.get("messageRef")
    message = definitions.messages.get(ref or "")
    text = (message.name if message is not None and message.name else ref) or node.id
    name = reader.value(text, "message name")
    key_text = node.element.get(f"{{{BPM_NS}}}correlationKey")
    if not key_text and message is not None:
        key_text = message.element.get(f"{{{BPM_NS}}}correlationKey")
        extension = _extensions(message.element)
        if not key_text and extension is not None:
            subscription = extension.find(f"{{{ZEEBE_NS}}}subscription")
            if subscription is not None:
                key_text = subscription.get("correlationKey")
    key = reader.value(key_text, "correlation key") if key_text and key_text.strip() else None
    if name is None:
        return None
    return EventTrigger(MESSAGE, name=name, correlation_key=key)


def read_receive_trigger(
    node: FlowNode, definitions: Definitions, problems: list[ErrorEntry]
) -> EventTrigger | None:
    """A receive task catches the message named by its ``messageRef``."""
    return _message_trigger(_Reader(node, problems), node.element, definitions)


def message_name_of(node: FlowNode, definitions: Definitions) -> str | None:
    """The message name of a send task (``messageRef`` on the task)."""
    ref = node.element.get("messageRef")
    if not ref:
        return None
    message = definitions.messages.get(ref)
    return message.name if message is not None and message.name else ref


def _timer(reader: _Reader, element: etree._Element) -> TimerDefinition | None:
    for tag, kind in _TIMER_TAGS:
        child = element.find(f"{{{BPMN_NS}}}{tag}")
        text = _text(child)
        if text is None:
            continue
        if text.startswith("=") or "${" in text or "#{" in text:
            expression = reader.value(text, f"{tag}")
            return TimerDefinition(kind, text, expression=expression) \
                if expression is not None else None
        try:
            return parse_timer_value(kind, text)
        except ValueError as exc:
            reader.problem(f"{tag}: {exc}")
            return None
    reader.problem("a timer needs a timeDate, timeDuration or timeCycle")
    return None


# -- variable mappings -----------------------------------------------------------------


def read_io(node: FlowNode, problems: list[ErrorEntry]) -> IoMappings | None:
    """Input/output mappings: ``camunda:inputOutput`` (also Flowable/Activiti),
    ``zeebe:ioMapping`` or ``bpm:input``/``bpm:output``."""
    extension = _extensions(node.element)
    if extension is None:
        return None
    reader = _Reader(node, problems)
    inputs: list[VariableMapping] = []
    outputs: list[VariableMapping] = []
    for io in _dialect_children(extension, "inputOutput"):
        for parameter in io:
            tag = parameter.tag if isinstance(parameter.tag, str) else ""
            local = tag.rsplit("}", 1)[-1]
            if local not in ("inputParameter", "outputParameter"):
                continue
            if any(isinstance(child.tag, str) and child.tag.endswith(("}script", "}list", "}map"))
                   for child in parameter):
                reader.problem(f"{local} {parameter.get('name')!r}: only text values and "
                               "expressions are supported")
                continue
            text = _text(parameter)
            target = parameter.get("name")
            source = text if text is not None else ""
            if not source:
                # An empty parameter is null in Camunda.
                mapping = VariableMapping((target or "").strip(), compile_value("${null}")) \
                    if target and target.strip() else None
                if mapping is None:
                    reader.problem(f"{local} needs a name")
            else:
                mapping = reader.mapping(target, source, local)
            if mapping is not None:
                (inputs if local == "inputParameter" else outputs).append(mapping)
    io_mapping = extension.find(f"{{{ZEEBE_NS}}}ioMapping")
    if io_mapping is not None:
        for child in io_mapping.findall(f"{{{ZEEBE_NS}}}input"):
            mapping = reader.mapping(child.get("target"), child.get("source"), "input")
            if mapping is not None:
                inputs.append(mapping)
        for child in io_mapping.findall(f"{{{ZEEBE_NS}}}output"):
            mapping = reader.mapping(child.get("target"), child.get("source"), "output")
            if mapping is not None:
                outputs.append(mapping)
    for child in extension.findall(f"{{{BPM_NS}}}input"):
        mapping = reader.mapping(child.get("target"), child.get("source"), "bpm:input")
        if mapping is not None:
            inputs.append(mapping)
    for child in extension.findall(f"{{{BPM_NS}}}output"):
        mapping = reader.mapping(child.get("target"), child.get("source"), "bpm:output")
        if mapping is not None:
            outputs.append(mapping)
    if not inputs and not outputs:
        return None
    return IoMappings(tuple(inputs), tuple(outputs))


# -- multi-instance ----------------------------------------------------------------------


def read_loop(node: FlowNode, problems: list[ErrorEntry]) -> LoopDefinition | None:
    element = node.element.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    if element is None:
        return None
    reader = _Reader(node, problems)
    before = len(problems)
    sequential = (element.get("isSequential") or "").strip().lower() == "true"
    cardinality_text = _text(element.find(f"{{{BPMN_NS}}}loopCardinality"))
    completion_text = _text(element.find(f"{{{BPMN_NS}}}completionCondition"))
    collection_text = _dialect(element, "collection")
    element_variable = _dialect(element, "elementVariable")
    if collection_text is None:
        collection_text, element_variable = _data_input(element, element_variable)
    output_collection = None
    output_element_text = None
    extension = _extensions(element)
    if extension is not None:
        zeebe = extension.find(f"{{{ZEEBE_NS}}}loopCharacteristics")
        if zeebe is not None:
            collection_text = collection_text or (zeebe.get("inputCollection") or "").strip() \
                or None
            element_variable = element_variable or (zeebe.get("inputElement") or "").strip() \
                or None
            output_collection = (zeebe.get("outputCollection") or "").strip() or None
            output_element_text = (zeebe.get("outputElement") or "").strip() or None
    cardinality = reader.value(cardinality_text, "loopCardinality") if cardinality_text else None
    collection = None
    if collection_text:
        source = collection_text
        if not (source.startswith("=") or "${" in source or "#{" in source):
            source = "${" + source + "}"  # a plain variable name (Camunda allows it)
        collection = reader.value(source, "collection")
    if cardinality is None and collection is None and len(problems) == before:
        reader.problem("a multi-instance activity needs a loopCardinality or a collection")
    completion = reader.expression(completion_text, "completionCondition") \
        if completion_text else None
    output_element = reader.value(output_element_text, "outputElement") \
        if output_element_text else None
    return LoopDefinition(sequential, cardinality, collection, element_variable, completion,
                          output_collection, output_element,
                          variable_name(collection) if collection is not None else None)


def _data_input(element: etree._Element,
                element_variable: str | None) -> tuple[str | None, str | None]:
    """BPMN's own ``loopDataInputRef`` and ``inputDataItem``, as Activiti and Flowable
    write a multi-instance over a collection: the reference names the collection
    variable and the data item's ``name`` the variable of each instance."""
    reference = _text(element.find(f"{{{BPMN_NS}}}loopDataInputRef"))
    if reference is None:
        return None, element_variable
    item = element.find(f"{{{BPMN_NS}}}inputDataItem")
    if element_variable is None and item is not None:
        element_variable = (item.get("name") or item.get("id") or "").strip() or None
    return reference, element_variable


# -- copies ------------------------------------------------------------------------------


def read_copies(node: FlowNode) -> tuple[CopyRequested, ...]:
    """The copies a node sends when it completes: ``bpm:copyTo`` of a copy node and the
    RACI ``informed`` people (syntax and placement are checked by
    :func:`bpm_process.platform.extension_problems`)."""
    copies: list[CopyRequested] = []
    if node.kind == "intermediateThrowEvent" and not node.event_definitions:
        rules = rule_strings(node.element.get(f"{{{BPM_NS}}}copyTo"))
        if rules:
            copies.append(CopyRequested(node.id, node.name, rules, "copy"))
    informed = rule_strings(raci_texts(node.element).get("informed"))
    if informed:
        copies.append(CopyRequested(node.id, node.name, informed, "informed"))
    return tuple(copies)


# -- approvals ---------------------------------------------------------------------------


def read_approval(node: FlowNode, problems: list[ErrorEntry],
                  node_ids: frozenset[str]) -> ApprovalDefinition | None:
    element = node.element
    if (element.get(f"{{{BPM_NS}}}approval") or "").strip().lower() != "true":
        for attribute in ("signMode", "passRatio", "passVotes", "rejectEnds", "rejectAction"):
            if element.get(f"{{{BPM_NS}}}{attribute}") is not None:
                problems.append(error_entry(node.id, f"bpm:{attribute} needs "
                                            "bpm:approval=\"true\"", node.line))
                return None
        return None
    reader = _Reader(node, problems)
    mode = (element.get(f"{{{BPM_NS}}}signMode") or "all").strip().lower()
    if mode not in SIGN_MODES:
        reader.problem(f"bpm:signMode must be one of {', '.join(SIGN_MODES)}, not {mode!r}")
        return None
    ratio = None
    votes = None
    if mode == "ratio":
        text = (element.get(f"{{{BPM_NS}}}passRatio") or "").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            reader.problem(f"bpm:passRatio must be a number between 0 and 1, not {text!r}")
            return None
        if not Decimal(0) < value <= Decimal(1):
            reader.problem(f"bpm:passRatio must be a number between 0 and 1, not {text!r}")
            return None
        ratio = float(value)
    if mode == "votes":
        votes = reader.whole(element.get(f"{{{BPM_NS}}}passVotes") or "", "bpm:passVotes", 0)
        if votes < 1:
            reader.problem("bpm:signMode=\"votes\" needs bpm:passVotes of at least 1")
            return None
    reject_ends = (element.get(f"{{{BPM_NS}}}rejectEnds") or "").strip().lower() == "true"
    action = (element.get(f"{{{BPM_NS}}}rejectAction") or "").strip() or None
    if action is not None and action not in ("end", "initiator", "previous"):
        if not action.startswith("node:") or action[5:].strip() not in node_ids:
            reader.problem("bpm:rejectAction must be end, initiator, previous or node:<id> of "
                           f"a node of the process, not {action!r}")
            return None
        action = "node:" + action[5:].strip()
    return ApprovalDefinition(mode, ratio, votes, reject_ends, action)


# -- automated work ------------------------------------------------------------------------


def read_work(node: FlowNode, problems: list[ErrorEntry]) -> WorkDefinition | None:
    """The worker configuration of a service/send/business rule task, or ``None``."""
    element = node.element
    reader = _Reader(node, problems)
    extension = _extensions(element)
    retries_text = element.get(f"{{{BPM_NS}}}retries")
    backoff = reader.duration_text(element.get(f"{{{BPM_NS}}}retryBackoff"), "bpm:retryBackoff")
    timeout = reader.duration_text(element.get(f"{{{BPM_NS}}}timeout"), "bpm:timeout")
    retries = reader.whole(retries_text, "bpm:retries", -1)
    for cycle in _dialect_children(extension, "failedJobRetryTimeCycle"):
        text = _text(cycle)
        if text:
            try:
                interval = parse_repeating_interval(text)
            except ValueError as exc:
                reader.problem(f"failedJobRetryTimeCycle: {exc}")
                continue
            if retries < 0 and interval.repetitions is not None:
                retries = interval.repetitions
            backoff = backoff or str(interval.period)
    priority = None
    priority_text = _dialect(element, "taskPriority")
    if priority_text:
        priority = reader.value(priority_text, "taskPriority")

    http = extension.find(f"{{{BPM_NS}}}http") if extension is not None else None
    if http is not None:
        request = _http(reader, http)
        retries = reader.whole(http.get("retries"), "retries", retries)
        backoff = reader.duration_text(http.get("retryBackoff"), "retryBackoff") or backoff
        timeout = reader.duration_text(http.get("timeout"), "timeout") or timeout
        if request is None:
            return None
        return WorkDefinition("http", None, request, _retries(retries), backoff, timeout,
                              priority, ())

    topic_text = None
    headers: list[tuple[str, str]] = []
    if (_dialect(element, "type") or "") in ("external", "external-worker"):
        topic_text = _dialect(element, "topic")
        if not topic_text:
            reader.problem("an external task needs a topic (camunda:topic)")
            return None
    elif extension is not None:
        definition = extension.find(f"{{{ZEEBE_NS}}}taskDefinition")
        if definition is not None:
            topic_text = (definition.get("type") or "").strip() or None
            if not topic_text:
                reader.problem("zeebe:taskDefinition needs a type")
                return None
            retries = reader.whole(definition.get("retries"), "zeebe:taskDefinition retries",
                                   retries)
            task_headers = extension.find(f"{{{ZEEBE_NS}}}taskHeaders")
            if task_headers is not None:
                for header in task_headers.findall(f"{{{ZEEBE_NS}}}header"):
                    key = (header.get("key") or "").strip()
                    if key:
                        headers.append((key, header.get("value") or ""))
    if topic_text is None:
        return None
    topic = reader.value(topic_text, "topic")
    if topic is None:
        return None
    return WorkDefinition("external", topic, None, _retries(retries), backoff, timeout,
                          priority, tuple(headers))


def _retries(value: int) -> int:
    return _DEFAULT_RETRIES if value < 0 else value


def _http(reader: _Reader, http: etree._Element) -> HttpRequestDefinition | None:
    url_text = (http.get("url") or "").strip()
    if not url_text:
        reader.problem("bpm:http needs a url")
        return None
    method_text = (http.get("method") or "GET").strip()
    if not method_text.startswith("=") and "${" not in method_text and \
            method_text.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
        reader.problem(f"bpm:http method {method_text!r} is not an HTTP method")
        return None
    method = reader.value(method_text.upper() if "${" not in method_text
                          and not method_text.startswith("=") else method_text, "method")
    url = reader.value(url_text, "url")
    headers: list[tuple[str, Expression]] = []
    for header in http.findall(f"{{{BPM_NS}}}header"):
        name = (header.get("name") or "").strip()
        if not name:
            reader.problem("bpm:header needs a name")
            continue
        value = reader.value(header.get("value") or "", f"header {name!r}")
        if value is not None:
            headers.append((name, value))
    body = None
    body_element = http.find(f"{{{BPM_NS}}}body")
    body_text = _text(body_element)
    if body_text:
        body = _body(reader, body_text)
    outputs: list[VariableMapping] = []
    for child in http.findall(f"{{{BPM_NS}}}output"):
        mapping = reader.mapping(child.get("target"), child.get("source"), "bpm:output")
        if mapping is not None:
            outputs.append(mapping)
    responses: list[tuple[str, tuple[str, ...]]] = []
    for child in http.findall(f"{{{BPM_NS}}}response"):
        variable = (child.get("variable") or "").strip()
        if not variable:
            reader.problem("bpm:response needs a variable")
            continue
        path = tuple(part for part in (child.get("path") or "").strip().split(".") if part)
        responses.append((variable, path))
    result_variable = (http.get("resultVariable") or "").strip() or None
    timeout = reader.duration_text(http.get("timeout"), "timeout")
    if method is None or url is None:
        return None
    return HttpRequestDefinition(method, url, tuple(headers), body, result_variable,
                                 tuple(outputs), timeout, tuple(responses))


def _body(reader: _Reader, text: str) -> Expression | None:
    """The body template: JSON (text starting with ``{`` or ``[``) places each value by
    where it stands, so no value can add keys or break the JSON; other text is a text
    template. A JSON template that is not JSON is refused here, not at the first call."""
    if not is_json_template(text):
        return reader.value(text, "body")
    try:
        return compile_json_template(text)
    except ExpressionError as exc:
        reader.problem(f"bpm:body: {exc}")
        return None


# -- call activities ---------------------------------------------------------------------


def read_call(node: FlowNode, problems: list[ErrorEntry]) -> CallDefinition | None:
    element = node.element
    reader = _Reader(node, problems)
    extension = _extensions(element)
    called_text = (element.get("calledElement") or "").strip()
    zeebe = extension.find(f"{{{ZEEBE_NS}}}calledElement") if extension is not None else None
    all_inputs = True
    all_outputs = True
    if zeebe is not None:
        called_text = called_text or (zeebe.get("processId") or "").strip()
        all_inputs = (zeebe.get("propagateAllParentVariables") or "true").strip().lower() \
            != "false"
        all_outputs = (zeebe.get("propagateAllChildVariables") or "true").strip().lower() \
            != "false"
    if not called_text:
        reader.problem("a call activity needs calledElement (or zeebe:calledElement processId)")
        return None
    called = reader.value(called_text, "calledElement")
    binding = _dialect(element, "calledElementBinding") or "latest"
    if binding not in ("latest", "deployment", "version", "versionTag"):
        reader.problem(f"calledElementBinding {binding!r} is not latest, deployment, version "
                       "or versionTag")
    version_text = _dialect(element, "calledElementVersion")
    version = reader.value(version_text, "calledElementVersion") if version_text else None
    if binding == "version" and not version_text:
        reader.problem('calledElementBinding="version" needs calledElementVersion (the version to call)')
    version_tag = _dialect(element, "calledElementVersionTag")
    inputs: list[VariableMapping] = []
    outputs: list[VariableMapping] = []
    business_key = None
    inherit_key = (_dialect(element, "inheritBusinessKey") or "").lower() == "true"
    camunda_ins = _dialect_children(extension, "in")
    camunda_outs = _dialect_children(extension, "out")
    if camunda_ins or camunda_outs:
        all_inputs = False
        all_outputs = False
    for item in camunda_ins:
        if (item.get("variables") or "").strip() == "all":
            all_inputs = True
            continue
        if item.get("businessKey") is not None:
            if _INHERITED_KEY.fullmatch(item.get("businessKey") or ""):
                inherit_key = True
            else:
                business_key = reader.value(item.get("businessKey") or "", "businessKey")
            continue
        mapping = _camunda_pass(reader, item, "camunda:in")
        if mapping is not None:
            inputs.append(mapping)
    for item in camunda_outs:
        if (item.get("variables") or "").strip() == "all":
            all_outputs = True
            continue
        mapping = _camunda_pass(reader, item, "camunda:out")
        if mapping is not None:
            outputs.append(mapping)
    io = extension.find(f"{{{ZEEBE_NS}}}ioMapping") if extension is not None else None
    if io is not None:
        for child in io.findall(f"{{{ZEEBE_NS}}}input"):
            mapping = reader.mapping(child.get("target"), child.get("source"), "input")
            if mapping is not None:
                inputs.append(mapping)
        for child in io.findall(f"{{{ZEEBE_NS}}}output"):
            mapping = reader.mapping(child.get("target"), child.get("source"), "output")
            if mapping is not None:
                outputs.append(mapping)
        if any(True for _ in io.findall(f"{{{ZEEBE_NS}}}input")) and zeebe is None:
            all_inputs = False
        if any(True for _ in io.findall(f"{{{ZEEBE_NS}}}output")):
            all_outputs = False
    if called is None:
        return None
    return CallDefinition(called, binding, version, version_tag, tuple(inputs), all_inputs,
                          tuple(outputs), all_outputs, business_key, inherit_key)


#: the calling instance's business key, as the Camunda Modeler writes it (``execution`` is
#: otherwise another engine's object, refused in expressions)
_INHERITED_KEY = re.compile(r"\s*[#$]\{\s*execution\.processBusinessKey\s*\}\s*")


def _camunda_pass(reader: _Reader, item: etree._Element, what: str) -> VariableMapping | None:
    target = item.get("target")
    source = item.get("source")
    expression = item.get("sourceExpression")
    if expression:
        return reader.mapping(target, expression, what)
    if source:
        return reader.mapping(target or source, "${" + source.strip() + "}", what)
    reader.problem(f"{what} needs source, sourceExpression or variables=\"all\"")
    return None
