"""Random block-structured BPMN models, and a seeded driver that runs each through our
engine and SpiffWorkflow 3.2 with the conformance harness and compares the traces.

A model is built from a seed (:func:`generate`): a sequence of blocks, each one of

* a user task;
* an exclusive split (a ``decide`` task sets ``v<k>``, flows ``${v<k> == i}`` and a
  default flow) and an exclusive merge;
* a parallel split and join;
* an inclusive split (a ``decide`` task sets ``o<k>_<i>``, flows ``${o<k>_<i>}`` or
  ``${v<k> >= i}``, a default flow) and an inclusive join;
* an embedded sub-process, optionally with an error boundary event (its handler task
  merges back after the sub-process); inside, "error exits" (a task sets ``err<k>``, an
  exclusive gateway leads to an error end event);
* a multi-instance user task (parallel or sequential, over a collection or a
  cardinality, optionally with the completion condition ``${done<k>}``);
* a rework loop: an exclusive merge, a body, a ``check`` task that sets ``again<k>``
  and the counter ``cnt<k>``, and an exclusive split back to the merge while
  ``${again<k> && cnt<k> < limit}``;
* a user task with a boundary timer (interrupting: its path merges back after the
  task; non-interrupting: its path ends at its own end event);
* an intermediate timer catch event.

Every variable a condition reads is set at the start, so it is an instance variable in
ours and in SpiffWorkflow's task data alike; each gateway reads only the variables the
task right before it sets (SpiffWorkflow's data flows along branches, ours is shared).

The driver (:func:`drive`) runs our engine first and chooses each step from the seed:
complete one of the open tasks with the variables its role needs (or, at random, a
note, or nothing: the engine's shortcuts apply only to completions without variables),
or fire the earliest timer. The same steps then run in SpiffWorkflow. Where several
instances of a multi-instance sub-process are open, a task step names the instance ours
completed its task in (the ``loopCounter`` of each enclosing multi-instance sub-process
instance), and SpiffWorkflow completes the task in that instance too: "the first open
task at the node" is a different instance in each engine, which two correct engines
then record differently.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.conformance import harness
from tests.conformance.harness import Case, Trace, _Ours

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')

LOOP_LIMIT = 3
"""A rework loop runs its body at most this many times more (``cnt<k> < limit``)."""


@dataclass
class Options:
    """What the generator may use (switch a feature off to shrink a divergence)."""

    max_depth: int = 3
    max_blocks: int = 4
    exclusive: bool = True
    parallel: bool = True
    inclusive: bool = True
    subprocess: bool = True
    errors: bool = True
    multi_instance: bool = True
    loops: bool = True
    boundary_timers: bool = True
    catch_timers: bool = True
    empty_collections: bool = True
    boundary_on_multi_instance: bool = False
    boundary_on_subprocess: bool = False
    overlapping_exclusive: bool = False
    """Exclusive conditions that may both be true (first by document order wins)."""
    mi_subprocess: bool = False
    """Multi-instance embedded sub-processes (parallel or sequential, collection or
    cardinality, optionally the completion condition ``${done<k>}`` set inside)."""
    event_subprocesses: bool = False
    """Event sub-processes (timer, message, signal starts, interrupting or not; error
    starts) in the process and in sub-processes."""
    catch_events: bool = False
    """Intermediate message and signal catch events and receive tasks."""
    event_boundaries: bool = False
    """Message and signal boundary events (interrupting or not) on tasks and
    sub-processes."""
    event_gateways: bool = False
    """Event-based gateways racing a message (or a signal) against a timer."""
    escalation: bool = False
    """Escalation throw and end events inside sub-processes with escalation boundaries."""
    terminate: bool = False
    """Terminate end events inside sub-processes."""
    signals: tuple[str, ...] = ("sigA", "sigB")
    """Signal names (shared between catchers: a signal is a broadcast)."""


@dataclass
class Role:
    """What the driver sets when a task at a node completes."""

    kind: str  # plain, xor, or, loop, err, mi
    key: int = 0
    branches: int = 0
    numeric: bool = False


@dataclass
class Model:
    seed: int
    xml: bytes
    variables: dict[str, Any]
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"fuzz_{self.seed}"


class _Scope:
    def __init__(self, xml_id: str, attributes: str = "", head: str = "") -> None:
        self.id = xml_id
        self.attributes = attributes
        """Extra attributes of the ``subProcess`` element."""
        self.head = head
        """Written first inside the ``subProcess`` (loop characteristics)."""
        self.nodes: list[str] = []
        self.flows: list[str] = []
        self.defaults: dict[str, str] = {}
        """gateway id -> its default flow id (filled in as flows are made)."""
        self.pending_default: set[str] = set()
        self.gateways: dict[str, tuple[str, str]] = {}
        """gateway id -> (tag, extra attributes); written once the default is known."""


class Generator:
    def __init__(self, seed: int, options: Options | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - seeded test data
        self.options = options or Options()
        self.counter = 0
        self.flow_counter = 0
        self.variables: dict[str, Any] = {}
        self.roles: dict[str, Role] = {}
        self.errors: list[str] = []
        self.escalations: list[str] = []
        self.messages: list[str] = []
        self.signals_used: set[str] = set()
        self.scopes: list[_Scope] = []
        self.inner_escalations: list[str | None] = []
        self.in_sub = 0
        """How many sub-processes enclose the blocks being made."""
        self.in_mi = 0
        """How many multi-instance sub-processes enclose them (no message catches there:
        several instances would wait for the same message)."""

    # -- ids and flows -------------------------------------------------------------------

    def new(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def flow(self, scope: _Scope, source: str, target: str, condition: str | None = None,
             *, default: bool = False) -> str:
        self.flow_counter += 1
        flow_id = f"f{self.flow_counter}"
        if source in scope.pending_default and condition is None:
            default = True
            scope.pending_default.discard(source)
        if default:
            scope.defaults[source] = flow_id
        if condition is None:
            scope.flows.append(f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" '
                               f'targetRef="{target}" />')
        else:
            scope.flows.append(
                f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
                f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
                "</bpmn:conditionExpression></bpmn:sequenceFlow>")
        return flow_id

    def gateway(self, scope: _Scope, tag: str, prefix: str) -> str:
        node_id = self.new(prefix)
        scope.gateways[node_id] = (tag, "")
        return node_id

    def task(self, scope: _Scope, role: Role | None = None, prefix: str = "t",
             inner: str = "") -> str:
        node_id = self.new(prefix)
        if inner:
            scope.nodes.append(f'<bpmn:userTask id="{node_id}">{inner}</bpmn:userTask>')
        else:
            scope.nodes.append(f'<bpmn:userTask id="{node_id}" />')
        self.roles[node_id] = role or Role("plain")
        return node_id

    # -- blocks ---------------------------------------------------------------------------

    def sequence(self, scope: _Scope, depth: int, count: int, *, errors: bool
                 ) -> tuple[str, str]:
        first, last = self.block(scope, depth, errors=errors)
        for _ in range(count - 1):
            entry, exit_ = self.block(scope, depth, errors=errors)
            self.flow(scope, last, entry)
            last = exit_
        return first, last

    def kinds(self, depth: int, errors: bool) -> list[tuple[str, int]]:
        o = self.options
        kinds = [("task", 4)]
        if depth < o.max_depth:
            kinds += [(k, w) for k, w, on in (
                ("xor", 3, o.exclusive), ("and", 3, o.parallel), ("or", 3, o.inclusive),
                ("sub", 2, o.subprocess), ("loop", 2, o.loops)) if on]
        kinds += [(k, w) for k, w, on in (
            ("mi", 2, o.multi_instance), ("btimer", 2, o.boundary_timers),
            ("ctimer", 1, o.catch_timers), ("err", 2, errors)) if on]
        if depth < o.max_depth:
            kinds += [(k, w) for k, w, on in (
                ("misub", 2, o.mi_subprocess), ("evgw", 2, o.event_gateways)) if on]
        escalates = any(c is not None for c in self.inner_escalations)
        kinds += [(k, w) for k, w, on in (
            ("catch", 2, o.catch_events), ("bevent", 2, o.event_boundaries),
            ("esc", 2, o.escalation and escalates),
            ("term", 1, o.terminate and self.in_sub > 0)) if on]
        return kinds

    def block(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        kinds = self.kinds(depth, errors)
        kind = self.rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        return getattr(self, f"block_{kind}")(scope, depth, errors=errors)

    def block_task(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        node = self.task(scope)
        return node, node

    def branches(self, scope: _Scope, depth: int, errors: bool, split: str, join: str,
                 conditions: list[str | None], *, defaults: bool = True) -> None:
        empty_used = False
        for condition in conditions:
            if not empty_used and self.rng.random() < 0.2:
                empty_used = True
                self.flow(scope, split, join, condition, default=defaults and condition is None)
                continue
            entry, exit_ = self.sequence(scope, depth + 1, self.rng.randint(1, 2),
                                         errors=errors)
            self.flow(scope, split, entry, condition, default=defaults and condition is None)
            self.flow(scope, exit_, join)

    def block_xor(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        key = self.counter + 1
        n = self.rng.randint(1, 3)
        decide = self.task(scope, Role("xor", key, n), prefix="decide")
        key = int(decide.removeprefix("decide"))
        self.variables[f"v{key}"] = 0
        split = self.gateway(scope, "exclusiveGateway", "x")
        join = self.gateway(scope, "exclusiveGateway", "xm")
        self.flow(scope, decide, split)
        if self.options.overlapping_exclusive and self.rng.random() < 0.5:
            conditions: list[str | None] = [f"${{v{key} &gt;= {i + 1}}}" for i in range(n)]
        else:
            conditions = [f"${{v{key} == {i + 1}}}" for i in range(n)]
        conditions.append(None)
        self.rng.shuffle(conditions)
        self.branches(scope, depth, errors, split, join, conditions)
        return decide, join

    def block_and(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        split = self.gateway(scope, "parallelGateway", "p")
        join = self.gateway(scope, "parallelGateway", "pj")
        self.branches(scope, depth, errors, split, join, [None] * self.rng.randint(2, 3),
                      defaults=False)
        return split, join

    def block_or(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        n = self.rng.randint(1, 3)
        numeric = self.rng.random() < 0.3
        decide = self.task(scope, Role("or", 0, n, numeric), prefix="decide")
        key = int(decide.removeprefix("decide"))
        self.roles[decide].key = key
        split = self.gateway(scope, "inclusiveGateway", "o")
        join = self.gateway(scope, "inclusiveGateway", "oj")
        self.flow(scope, decide, split)
        conditions: list[str | None] = []
        if numeric:
            self.variables[f"v{key}"] = 0
            conditions = [f"${{v{key} &gt;= {i + 1}}}" for i in range(n)]
        else:
            for i in range(n):
                self.variables[f"o{key}_{i}"] = False
                conditions.append(f"${{o{key}_{i}}}")
        if self.rng.random() < 0.8:
            conditions.append(None)
        else:
            self.roles[decide].kind = "or!"  # no default flow: one condition must hold
        self.rng.shuffle(conditions)
        # a branch per condition; conditions must not all be empty flows to the join
        self.branches(scope, depth, errors, split, join, conditions)
        return decide, join

    def block_sub(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        return self.subprocess(scope, depth, errors=errors, multi=False)

    def block_misub(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        return self.subprocess(scope, depth, errors=errors, multi=True)

    def loop_characteristics(self, key: int) -> tuple[str, bool]:
        """A ``multiInstanceLoopCharacteristics`` element and whether it has the
        completion condition ``${done<key>}``."""
        sequential = self.rng.random() < 0.5
        attributes = ' isSequential="true"' if sequential else ""
        body = ""
        if self.rng.random() < 0.5:
            low = 0 if self.options.empty_collections and self.rng.random() < 0.15 else 1
            self.variables[f"items{key}"] = [f"i{j}" for j in range(self.rng.randint(low, 3))]
            attributes += (f' camunda:collection="items{key}" '
                           f'camunda:elementVariable="item{key}"')
        else:
            body += f"<bpmn:loopCardinality>{self.rng.randint(1, 3)}</bpmn:loopCardinality>"
        completion = self.rng.random() < 0.4
        if completion:
            self.variables[f"done{key}"] = False
            body += ('<bpmn:completionCondition xsi:type="bpmn:tFormalExpression">'
                     f"${{done{key}}}</bpmn:completionCondition>")
        return (f"<bpmn:multiInstanceLoopCharacteristics{attributes}>{body}"
                "</bpmn:multiInstanceLoopCharacteristics>"), completion

    def subprocess(self, scope: _Scope, depth: int, *, errors: bool, multi: bool
                   ) -> tuple[str, str]:
        o = self.options
        sub_id = self.new("sub")
        key = int(sub_id.removeprefix("sub"))
        head, completion = self.loop_characteristics(key) if multi else ("", False)
        inner = _Scope(sub_id, head=head)
        self.scopes.append(inner)
        catches = self.options.errors and self.rng.random() < 0.5
        code = None
        if catches:
            code = self.rng.choice(self.errors) if self.errors and self.rng.random() < 0.3 \
                else f"E{len(self.errors) + 1}"
            if code not in self.errors:
                self.errors.append(code)
        # where the error is caught: a boundary event, or an error event sub-process inside
        in_event_sub = catches and o.event_subprocesses and self.rng.random() < 0.4
        escalation = None
        escalation_interrupting = False
        if o.escalation and self.rng.random() < 0.5:
            escalation = self.rng.choice(self.escalations) \
                if self.escalations and self.rng.random() < 0.3 \
                else f"X{len(self.escalations) + 1}"
            if escalation not in self.escalations:
                self.escalations.append(escalation)
            escalation_interrupting = self.rng.random() < 0.5
        start = self.new("ss")
        end = self.new("se")
        inner.nodes.append(f'<bpmn:startEvent id="{start}" />')
        inner.nodes.append(f'<bpmn:endEvent id="{end}" />')
        self.inner_codes.append(code) if catches else None
        if o.escalation:
            self.inner_escalations.append(escalation)
        self.in_sub += 1
        self.in_mi += multi
        entry, exit_ = self.sequence(inner, depth + 1, self.rng.randint(1, 3),
                                     errors=errors or catches)
        if completion:
            done = self.task(inner, Role("mi", key, 1), prefix="d")
            self.flow(inner, exit_, done)
            exit_ = done
        if in_event_sub:
            self.event_subprocess(inner, depth, "error", code)
        elif o.event_subprocesses and self.rng.random() < 0.3:
            self.event_subprocess(inner, depth)
        self.in_sub -= 1
        self.in_mi -= multi
        if o.escalation:
            self.inner_escalations.pop()
        if catches:
            self.inner_codes.pop()
        self.flow(inner, start, entry)
        self.flow(inner, exit_, end)
        scope.nodes.append(inner)  # type: ignore[arg-type]  # written later
        node, last = sub_id, sub_id
        if not catches or in_event_sub:
            if self.options.boundary_on_subprocess and self.rng.random() < 0.5:
                node, last = self.attach_timer(scope, sub_id)
        else:
            boundary = self.new("eb")
            scope.nodes.append(
                f'<bpmn:boundaryEvent id="{boundary}" attachedToRef="{sub_id}">'
                f'<bpmn:errorEventDefinition errorRef="err_{code}" /></bpmn:boundaryEvent>')
            handler = self.task(scope, prefix="h")
            merge = self.gateway(scope, "exclusiveGateway", "em")
            self.flow(scope, boundary, handler)
            self.flow(scope, handler, merge)
            self.flow(scope, sub_id, merge)
            last = merge
        if escalation is not None:
            last = self.attach_event(scope, sub_id, last, "escalation", escalation,
                                     escalation_interrupting)
        if o.event_boundaries and self.rng.random() < 0.3:
            last = self.attach_event(scope, sub_id, last, *self.message_or_signal(),
                                     self.rng.random() < 0.5)
        return node, last

    # -- message, signal and escalation events -------------------------------------------

    def message_or_signal(self) -> tuple[str, str]:
        """A new message (not inside a multi-instance sub-process) or a signal name."""
        if self.in_mi or self.rng.random() < 0.5:
            name = self.rng.choice(self.options.signals)
            self.signals_used.add(name)
            return "signal", name
        name = f"msg{len(self.messages) + 1}"
        self.messages.append(name)
        return "message", name

    @staticmethod
    def definition(kind: str, name: str) -> str:
        if kind == "message":
            return f'<bpmn:messageEventDefinition messageRef="m_{name}" />'
        if kind == "signal":
            return f'<bpmn:signalEventDefinition signalRef="s_{name}" />'
        if kind == "escalation":
            return f'<bpmn:escalationEventDefinition escalationRef="esc_{name}" />'
        if kind == "error":
            return f'<bpmn:errorEventDefinition errorRef="err_{name}" />'
        if kind == "timer":
            return (f"<bpmn:timerEventDefinition><bpmn:timeDuration>PT{name}M"
                    "</bpmn:timeDuration></bpmn:timerEventDefinition>")
        raise AssertionError(kind)

    def attach_event(self, scope: _Scope, node: str, exit_: str, kind: str, name: str,
                     interrupting: bool) -> str:
        """A boundary event on ``node`` whose handler task merges back at ``exit_``
        (interrupting; a new merge if ``exit_`` is ``node``) or ends (not); the new exit."""
        prefix = {"message": "mb", "signal": "sb", "escalation": "xb"}[kind]
        boundary = self.new(prefix)
        cancel = "" if interrupting else ' cancelActivity="false"'
        scope.nodes.append(
            f'<bpmn:boundaryEvent id="{boundary}" attachedToRef="{node}"{cancel}>'
            f"{self.definition(kind, name)}</bpmn:boundaryEvent>")
        handler = self.task(scope, prefix="h")
        self.flow(scope, boundary, handler)
        if not interrupting:
            end = self.new("be")
            scope.nodes.append(f'<bpmn:endEvent id="{end}" />')
            self.flow(scope, handler, end)
            return exit_
        if exit_ == node:
            exit_ = self.gateway(scope, "exclusiveGateway", "bm")
            self.flow(scope, node, exit_)
        self.flow(scope, handler, exit_)
        return exit_

    def block_bevent(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        node = self.task(scope)
        return node, self.attach_event(scope, node, node, *self.message_or_signal(),
                                       self.rng.random() < 0.5)

    def block_catch(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        kind, name = self.message_or_signal()
        if kind == "message" and self.rng.random() < 0.5:
            node = self.new("rt")
            scope.nodes.append(f'<bpmn:receiveTask id="{node}" messageRef="m_{name}" />')
            return node, node
        node = self.new("mc" if kind == "message" else "sc")
        scope.nodes.append(f'<bpmn:intermediateCatchEvent id="{node}">'
                           f"{self.definition(kind, name)}</bpmn:intermediateCatchEvent>")
        return node, node

    def block_evgw(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        gateway = self.new("eg")
        scope.nodes.append(f'<bpmn:eventBasedGateway id="{gateway}" />')
        merge = self.gateway(scope, "exclusiveGateway", "egm")
        events = [self.message_or_signal(), ("timer", str(self.timer_minutes()))]
        if self.rng.random() < 0.25:
            events.insert(1, self.message_or_signal())
        used = set()
        for kind, name in events:
            if (kind, name) in used:  # one signal name twice: BPMN allows it, drop it
                continue
            used.add((kind, name))
            node = self.new({"message": "mc", "signal": "sc", "timer": "ct"}[kind])
            scope.nodes.append(f'<bpmn:intermediateCatchEvent id="{node}">'
                               f"{self.definition(kind, name)}</bpmn:intermediateCatchEvent>")
            self.flow(scope, gateway, node)
            if self.rng.random() < 0.6:
                entry, exit_ = self.sequence(scope, depth + 1, 1, errors=errors)
                self.flow(scope, node, entry)
                self.flow(scope, exit_, merge)
            else:
                self.flow(scope, node, merge)
        return gateway, merge

    def block_esc(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        code = self.rng.choice([c for c in self.inner_escalations if c is not None])
        if self.rng.random() < 0.5:
            node = self.new("xt")
            scope.nodes.append(f'<bpmn:intermediateThrowEvent id="{node}">'
                               f'{self.definition("escalation", code)}'
                               "</bpmn:intermediateThrowEvent>")
            return node, node
        return self.conditional_end(scope, "esc", self.definition("escalation", code), "xe")

    def block_term(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        return self.conditional_end(scope, "term", "<bpmn:terminateEventDefinition />", "ke")

    def conditional_end(self, scope: _Scope, kind: str, definition: str, prefix: str
                        ) -> tuple[str, str]:
        """A ``decide`` task setting ``<kind><k>``, and an exclusive split to an end event
        with ``definition`` if it is true (the default flow goes on)."""
        decide = self.task(scope, Role(kind), prefix="decide")
        key = int(decide.removeprefix("decide"))
        self.roles[decide].key = key
        self.variables[f"{kind}{key}"] = False
        split = self.gateway(scope, "exclusiveGateway", "x")
        end = self.new(prefix)
        scope.nodes.append(f'<bpmn:endEvent id="{end}">{definition}</bpmn:endEvent>')
        self.flow(scope, decide, split)
        self.flow(scope, split, end, f"${{{kind}{key}}}")
        scope.pending_default.add(split)
        return decide, split

    def event_subprocess(self, scope: _Scope, depth: int, kind: str | None = None,
                         name: str | None = None) -> None:
        """An event sub-process in ``scope``: its start event, a handler task, an end."""
        if kind is None:
            kind = self.rng.choice(["timer", "message", "signal"])
            if kind == "timer":
                name = str(self.timer_minutes())
            else:
                kind, name = self.message_or_signal()
                if kind == "signal":
                    # a signal of its own: one broadcast that both interrupts a scope and
                    # reaches catchers inside it has no order BPMN prescribes
                    name = "sigE"
                    self.signals_used.add(name)
        interrupting = kind == "error" or self.rng.random() < 0.5
        esp = self.new("esp")
        start = self.new("es")
        handler = self.new("eh")
        end = self.new("ze")
        self.roles[handler] = Role("plain")
        attribute = "" if interrupting else ' isInterrupting="false"'
        flows = (f'<bpmn:sequenceFlow id="{esp}_1" sourceRef="{start}" targetRef="{handler}" />'
                 f'<bpmn:sequenceFlow id="{esp}_2" sourceRef="{handler}" targetRef="{end}" />')
        scope.nodes.append(
            f'<bpmn:subProcess id="{esp}" triggeredByEvent="true">'
            f'<bpmn:startEvent id="{start}"{attribute}>{self.definition(kind, name or "")}'
            f'</bpmn:startEvent><bpmn:userTask id="{handler}" /><bpmn:endEvent id="{end}" />'
            f"{flows}</bpmn:subProcess>")

    inner_codes: list[str]

    def block_err(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        decide = self.task(scope, Role("err"), prefix="decide")
        key = int(decide.removeprefix("decide"))
        self.roles[decide].key = key
        self.variables[f"err{key}"] = False
        split = self.gateway(scope, "exclusiveGateway", "x")
        end = self.new("ee")
        code = self.rng.choice([c for c in self.inner_codes if c is not None])
        scope.nodes.append(f'<bpmn:endEvent id="{end}"><bpmn:errorEventDefinition '
                           f'errorRef="err_{code}" /></bpmn:endEvent>')
        self.flow(scope, decide, split)
        self.flow(scope, split, end, f"${{err{key}}}")
        scope.pending_default.add(split)
        return decide, split

    def block_mi(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        key = self.counter + 1
        inner, completion = self.loop_characteristics(key)
        node = self.task(scope, Role("mi", key, int(completion)), prefix="mi", inner=inner)
        assert node == f"mi{key}"
        if self.options.boundary_on_multi_instance and self.rng.random() < 0.3:
            return self.attach_timer(scope, node)
        return node, node

    def block_loop(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        merge = self.gateway(scope, "exclusiveGateway", "lm")
        entry, exit_ = self.sequence(scope, depth + 1, self.rng.randint(1, 2), errors=errors)
        check = self.task(scope, Role("loop"), prefix="check")
        key = int(check.removeprefix("check"))
        self.roles[check].key = key
        self.variables[f"again{key}"] = False
        self.variables[f"cnt{key}"] = 0
        split = self.gateway(scope, "exclusiveGateway", "ls")
        self.flow(scope, merge, entry)
        self.flow(scope, exit_, check)
        self.flow(scope, check, split)
        self.flow(scope, split, merge, f"${{again{key} &amp;&amp; cnt{key} &lt; {LOOP_LIMIT}}}")
        scope.pending_default.add(split)
        return merge, split

    def block_btimer(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        return self.attach_timer(scope, self.task(scope))

    def attach_timer(self, scope: _Scope, node: str) -> tuple[str, str]:
        interrupting = self.rng.random() < 0.5
        boundary = self.new("tb")
        minutes = self.timer_minutes()
        cancel = "" if interrupting else ' cancelActivity="false"'
        scope.nodes.append(
            f'<bpmn:boundaryEvent id="{boundary}" attachedToRef="{node}"{cancel}>'
            f"<bpmn:timerEventDefinition><bpmn:timeDuration>PT{minutes}M</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>")
        handler = self.task(scope, prefix="h")
        self.flow(scope, boundary, handler)
        if interrupting:
            merge = self.gateway(scope, "exclusiveGateway", "tm")
            self.flow(scope, handler, merge)
            self.flow(scope, node, merge)
            return node, merge
        end = self.new("te")
        scope.nodes.append(f'<bpmn:endEvent id="{end}" />')
        self.flow(scope, handler, end)
        return node, node

    def block_ctimer(self, scope: _Scope, depth: int, *, errors: bool) -> tuple[str, str]:
        node = self.new("ct")
        scope.nodes.append(
            f'<bpmn:intermediateCatchEvent id="{node}"><bpmn:timerEventDefinition>'
            f"<bpmn:timeDuration>PT{self.timer_minutes()}M</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")
        return node, node

    def timer_minutes(self) -> int:
        # distinct durations make ties between timers rare (the driver avoids them)
        return self.rng.choice([7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61])

    # -- the document --------------------------------------------------------------------

    def write(self, scope: _Scope) -> str:
        parts = []
        for node in scope.nodes:
            if isinstance(node, _Scope):
                parts.append(f'<bpmn:subProcess id="{node.id}"{node.attributes}>'
                             f"{node.head}{self.write(node)}</bpmn:subProcess>")
            else:
                parts.append(node)
        for gateway, (tag, _) in scope.gateways.items():
            default = scope.defaults.get(gateway)
            attribute = f' default="{default}"' if default else ""
            parts.append(f'<bpmn:{tag} id="{gateway}"{attribute} />')
        parts.extend(scope.flows)
        return "".join(parts)

    def generate(self) -> Model:
        self.inner_codes = []
        root = _Scope("p")
        start = self.new("start")
        end = self.new("end")
        root.nodes.append(f'<bpmn:startEvent id="{start}" />')
        root.nodes.append(f'<bpmn:endEvent id="{end}" />')
        root_error = None
        if self.options.event_subprocesses and self.options.errors \
                and self.rng.random() < 0.25:
            root_error = f"E{len(self.errors) + 1}"
            self.errors.append(root_error)
            self.inner_codes.append(root_error)
        entry, exit_ = self.sequence(root, 0, self.rng.randint(1, self.options.max_blocks),
                                     errors=root_error is not None)
        self.flow(root, start, entry)
        self.flow(root, exit_, end)
        if root_error is not None:
            self.event_subprocess(root, 0, "error", root_error)
        elif self.options.event_subprocesses and self.rng.random() < 0.4:
            self.event_subprocess(root, 0)
        errors = "".join(f'<bpmn:error id="err_{c}" name="{c}" errorCode="{c}" />'
                         for c in self.errors)
        errors += "".join(f'<bpmn:escalation id="esc_{c}" name="{c}" escalationCode="{c}" />'
                          for c in self.escalations)
        errors += "".join(f'<bpmn:message id="m_{m}" name="{m}" />' for m in self.messages)
        errors += "".join(f'<bpmn:signal id="s_{m}" name="{m}" />'
                          for m in sorted(self.signals_used))
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} '
               f'id="d{self.seed}" targetNamespace="http://bpm-platform.org/fuzz">{errors}'
               f'<bpmn:process id="p" isExecutable="true">{self.write(root)}</bpmn:process>'
               "</bpmn:definitions>")
        return Model(self.seed, xml.encode(), dict(self.variables), dict(self.roles))


def generate(seed: int, options: Options | None = None) -> Model:
    return Generator(seed, options).generate()


# -- driving both engines ----------------------------------------------------------------


def run_spiff(model: Model, steps: list[Any], timer_dues: list[datetime]
              ) -> tuple[Trace, Exception | None]:
    """The steps in SpiffWorkflow 3.2 (``harness.run_spiff`` for generated models).

    One difference: the harness moves Spiff's clock to one second after the due time
    (Spiff fires a timer only when it is strictly past) and leaves it there, so every
    timer Spiff starts afterwards is due one second later than ours, and a second timer
    in a row never fires. Here the clock goes back to the due time once the timer has
    fired, before Spiff moves on and starts new timers.

    Returns the trace up to the step Spiff failed at, if it did, and its exception.
    """
    from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
        SignalEventDefinition,
    )
    from SpiffWorkflow.bpmn.specs.event_definitions.message import (
        MessageEventDefinition as PlainMessage,
    )
    from SpiffWorkflow.bpmn.util import BpmnEvent
    from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
    from SpiffWorkflow.util.task import TaskState

    workflow = harness.spiff_workflow(model.xml, model.name)
    clock = harness._Clock
    completed = harness.completed_since(workflow)

    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(model.variables)
    trace = Trace([], "")
    try:  # Spiff can fail at its first engine step too
        workflow.refresh_timers()
        workflow.do_engine_steps()
    except Exception as error:  # noqa: BLE001
        trace.status = "failed"
        return trace, error
    trace.chunks.append(completed())
    dues = iter(timer_dues)
    try:
        for step in steps:
            if step[0] == "task":
                ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                         if t.task_spec.bpmn_id == step[1]
                         and (len(step) < 4 or _spiff_instance_path(t) == step[3])]
                if not ready:
                    raise AssertionError(f"spiff: nothing ready at {step[1]!r}")
                ready[0].data.update(step[2])
                ready[0].run()
            elif step[0] == "message":  # as harness.run_spiff
                payload = {"payload": {}, "result_var": None}
                if not workflow.event_manager.catch(
                        BpmnEvent(MessageEventDefinition(step[1]), payload), internal=False):
                    workflow.event_manager.catch(BpmnEvent(PlainMessage(step[1]), {}),
                                                 internal=False)
            elif step[0] == "signal":
                workflow.catch(BpmnEvent(SignalEventDefinition(step[1]), {}))
            else:
                due = next(dues)
                clock.now = due + timedelta(seconds=1)
                workflow.refresh_timers()
                clock.now = due
            workflow.refresh_timers()
            workflow.do_engine_steps()
            trace.chunks.append(completed())
    except Exception as error:  # noqa: BLE001 - Spiff's failures are findings too
        trace.status = "failed"
        return trace, error
    trace.status = "completed" if workflow.is_completed() else "active"
    return trace, None


def _spiff_instance_path(task: Any) -> tuple[int, ...]:
    """The indices of the multi-instance sub-process instances around a Spiff task,
    outermost first (as :func:`_our_instance_path`)."""
    from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

    path: list[int] = []
    current = task
    while current.workflow.parent_task_id is not None:
        host = current.workflow.top_workflow.get_task_from_id(current.workflow.parent_task_id)
        body = host.parent
        if body is not None and isinstance(body.task_spec, LoopTask):
            instances = list(body.task_spec._instances(body))
            if host in instances:  # (the task after a multi-instance one is its child too)
                path.append(instances.index(host))
        current = host
    return tuple(reversed(path))


def _our_instance_path(state: Any, scope_id: str, node: str) -> tuple[int, ...]:
    """The ``loopCounter`` of each multi-instance sub-process instance around a scope
    of ours, outermost first (the instance of ``node``'s own multi-instance body is not
    one of them)."""
    scopes = {scope.id: scope for scope in state.scopes}
    path: list[int] = []
    current = scope_id
    while current in scopes:
        scope = scopes[current]
        if scope.kind == "inst" and scope.node != node:
            path.append(int(scope.variables["loopCounter"]))
        current = scope.parent
    return tuple(reversed(path))


def task_variables(model: Model, node: str, rng: random.Random, counts: Counter[str]
                   ) -> dict[str, Any]:
    role = model.roles.get(node, Role("plain"))
    k = role.key
    if role.kind == "xor":
        return {f"v{k}": rng.randint(0, role.branches)}
    if role.kind in ("or", "or!"):
        low = int(role.kind == "or!")
        if role.numeric:
            return {f"v{k}": rng.randint(low, role.branches)}
        values = {f"o{k}_{i}": rng.random() < 0.5 for i in range(role.branches)}
        if low and not any(values.values()):
            values[f"o{k}_{rng.randrange(role.branches)}"] = True
        return values
    if role.kind == "loop":
        counts[node] += 1
        return {f"again{k}": rng.random() < 0.6, f"cnt{k}": counts[node] - 1}
    if role.kind in ("err", "esc", "term"):
        return {f"{role.kind}{k}": rng.random() < 0.35}
    if role.kind == "mi" and role.branches:
        return {f"done{k}": rng.random() < 0.3}
    choice = rng.random()
    if choice < 0.5:
        return {}
    return {"note": rng.randint(0, 9)}


@dataclass
class Outcome:
    model: Model
    steps: list[Any]
    ours: Trace | None
    spiff: Trace | None
    problem: str | None
    """None when the two traces agree (up to the accepted differences)."""
    stuck: bool = False
    """Ours ended the run active with nothing left to complete or fire."""
    waiting: list[set[str]] = field(default_factory=list)
    """Ours: the nodes tokens wait at after each step (a token at a join has arrived)."""
    states: list[Any] = field(default_factory=list)
    """Ours: the instance's state after each step (the start is step 0)."""


MAX_STEPS = 40


def drive(model: Model, *, max_steps: int = MAX_STEPS, timer_share: float = 0.25,
          event_share: float = 0.2) -> Outcome:
    """Run ``model`` through ours choosing steps from the seed, then through Spiff."""
    rng = random.Random(model.seed * 7919 + 1)  # noqa: S311 - seeded decisions
    case = Case(model.name, [], variables=dict(model.variables))
    ours = _Ours(model.xml, None)
    trace = Trace([], "")
    counts: Counter[str] = Counter()
    waiting: list[set[str]] = []
    states: list[Any] = []
    stuck = False

    def note_waiting() -> None:
        waiting.append({t.node for t in ours.states["root"].tokens if t.via is None})
        states.append(ours.states["root"])

    try:
        ours.start(case.variables)
        trace.chunks.append(ours.chunk)
        trace.cancelled.append(ours.cancelled)
        note_waiting()
        for _ in range(max_steps):
            state = ours.states["root"]
            if state.status != "active":
                break
            tasks = sorted(set(state.open_tasks().values()))
            jobs = sorted(state.jobs, key=lambda j: j.due_at)
            timer = None
            if jobs and (len(jobs) == 1 or jobs[0].due_at != jobs[1].due_at):
                timer = jobs[0].node
            events = sorted({(s.kind, s.name) for s in state.subscriptions})
            step: tuple[Any, ...]
            if events and (not tasks and timer is None or rng.random() < event_share):
                kind, name = rng.choice(events)
                step = (kind, name, {})
            elif timer is not None and (not tasks or rng.random() < timer_share):
                step = ("timer", timer)
            elif tasks:
                node = rng.choice(tasks)
                step = ("task", node, task_variables(model, node, rng, counts))
                # the task ours completes (the first open one at the node): with several
                # instances of a multi-instance sub-process open, Spiff must complete
                # the task in the same instance, not its own first one
                token = next(t for t in state.tokens if t.task is not None
                             and t.task == next(i for i, n in state.open_tasks().items()
                                                if n == node))
                path = _our_instance_path(state, token.scope, node)
                if path:
                    step = (*step, path)
            else:
                stuck = True
                break
            case.steps.append(step)
            ours.chunk = Counter()
            ours.cancelled = set()
            ours.step(step, trace)
            trace.chunks.append(ours.chunk)
            trace.cancelled.append(ours.cancelled)
            note_waiting()
        trace.status = ours.states["root"].status
        for graph in ours.graphs.values():
            trace.floating |= {node.id for node in graph.nodes.values()
                               if node.behavior == "event_gateway"}
            for starts in graph.event_subprocesses.values():
                trace.floating |= set(starts)
    except Exception as error:  # noqa: BLE001 - any failure of ours is a finding
        return Outcome(model, case.steps, None, None, f"ours raised {error!r}")
    spiff, error = run_spiff(model, case.steps, trace.timer_dues)
    if error is not None:
        problem = compare(case, trace, spiff, model.xml) or ""
        if not problem.startswith("step"):
            problem = f"spiff raised {error!r}"
        return Outcome(model, case.steps, trace, spiff, problem, stuck, waiting, states)
    return Outcome(model, case.steps, trace, spiff, compare(case, trace, spiff, model.xml),
                   stuck, waiting, states)


def pairs(ours: Trace, spiff: Trace) -> list[tuple[int, Counter[str], Counter[str]]]:
    """Both traces step by step, without what the README accepts per step: Spiff's
    completions of activities ours cancelled, and the floating nodes (event-based
    gateways, event sub-process starts), which are compared over the whole run."""
    found = []
    for index, (mine, theirs) in enumerate(zip(ours.chunks, spiff.chunks, strict=False)):
        theirs = Counter({k: v for k, v in theirs.items()
                          if not (k in ours.cancelled[index] and k not in mine)
                          and k not in ours.floating})
        mine = Counter({k: v for k, v in mine.items() if k not in ours.floating})
        found.append((index, mine, theirs))
    return found


def floating(trace: Trace, upto: int, ids: set[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for chunk in trace.chunks[:upto]:
        total.update({k: v for k, v in chunk.items() if k in ids})
    return total


def gateways(xml: bytes) -> set[str]:
    from lxml import etree

    tag = "{http://www.omg.org/spec/BPMN/20100524/MODEL}eventBasedGateway"
    return {e.get("id") for e in etree.fromstring(xml).iter(tag)}


def interrupting_starts(xml: bytes) -> set[str]:
    """The start events of interrupting event sub-processes."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    return {start.get("id") for sub in etree.fromstring(xml).iter(f"{bpmn}subProcess")
            if sub.get("triggeredByEvent") == "true"
            for start in sub.findall(f"{bpmn}startEvent")
            if start.get("isInterrupting") != "false"}


def compare(case: Case, ours: Trace, spiff: Trace, xml: bytes = b"") -> str | None:
    """The first difference not accepted by the README (as test_conformance compares)."""
    for index, mine, theirs in pairs(ours, spiff):
        if mine != theirs:
            step = "start" if index == 0 else case.steps[index - 1]
            return f"step {index} {step}: ours {dict(mine)} spiff {dict(theirs)}"
    upto = min(len(ours.chunks), len(spiff.chunks))
    mine_floating = floating(ours, upto, ours.floating)
    theirs_floating = floating(spiff, upto, ours.floating)
    # README: Spiff completes the start event of every event sub-process of a scope when
    # the scope starts, ours when the event occurs (an event that never occurs: none)
    starts = ours.floating - gateways(xml) if xml else set()
    theirs_floating = Counter({k: v if k not in starts else min(v, mine_floating[k])
                               for k, v in theirs_floating.items()})
    if spiff.status != "failed" and +mine_floating != +theirs_floating:
        return f"floating: ours {dict(mine_floating)} spiff {dict(theirs_floating)}"
    expected = "active" if ours.status == "active" else "completed"
    if ours.status == "terminated":
        return "ours terminated"
    if spiff.status != expected:
        # README: after an interrupting event sub-process ends, its parent scope
        # completes in ours; Spiff 3.2 leaves the workflow waiting
        if (ours.status == "completed" and spiff.status == "active" and xml
                and set(mine_floating) & interrupting_starts(xml)):
            return None
        return f"end: ours {ours.status} spiff {spiff.status}"
    return None


# -- divergences judged SpiffWorkflow's fault ------------------------------------------------

def _ids(model: Model, tag: str) -> set[str]:
    from lxml import etree

    root = etree.fromstring(model.xml)
    return {e.get("id") for e in root.iter(f"{{http://www.omg.org/spec/BPMN/20100524/MODEL}}{tag}")}


def _enclosing(model: Model) -> dict[str, set[str]]:
    """Node id -> the ids of the sub-processes around it."""
    from lxml import etree

    found: dict[str, set[str]] = {}
    sub = "{http://www.omg.org/spec/BPMN/20100524/MODEL}subProcess"
    for element in etree.fromstring(model.xml).iter():
        if element.get("id") is not None:
            found[element.get("id")] = {a.get("id") for a in element.iterancestors(sub)}
    return found


def _attached(model: Model) -> dict[str, str]:
    """Boundary event id -> the activity it is attached to."""
    from lxml import etree

    tag = "{http://www.omg.org/spec/BPMN/20100524/MODEL}boundaryEvent"
    return {e.get("id"): e.get("attachedToRef") for e in etree.fromstring(model.xml).iter(tag)}


def _successors(model: Model) -> dict[str, set[str]]:
    """Where a token at a node can go next: its outgoing flows, its boundary events,
    and from the last node of a sub-process (any node inside) the sub-process itself."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    root = etree.fromstring(model.xml)
    nxt: dict[str, set[str]] = {}
    for flow in root.iter(f"{bpmn}sequenceFlow"):
        nxt.setdefault(flow.get("sourceRef"), set()).add(flow.get("targetRef"))
    for event, host in _attached(model).items():
        nxt.setdefault(host, set()).add(event)
    for node, subs in _enclosing(model).items():
        for sub in subs:
            nxt.setdefault(node, set()).add(sub)
    return nxt


def _can_reach(model: Model, sources: set[str], target: str) -> bool:
    """A token at one of ``sources`` can reach ``target`` without passing it."""
    nxt = _successors(model)
    seen = set()
    todo = [s for s in sources if s != target]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for following in nxt.get(node, ()):
            if following == target:
                return True
            todo.append(following)
    return False


def _noninterrupting(model: Model) -> set[str]:
    """Non-interrupting message and signal boundary events."""
    from lxml import etree

    tag = "{http://www.omg.org/spec/BPMN/20100524/MODEL}boundaryEvent"
    return {e.get("id") for e in etree.fromstring(model.xml).iter(tag)
            if e.get("cancelActivity") == "false"
            and e.get("id").startswith(("mb", "sb", "xb"))}


def _noninterrupting_fired_twice(outcome: Outcome) -> bool:
    assert outcome.ours is not None
    total: Counter[str] = Counter()
    for chunk in outcome.ours.chunks:
        total.update(chunk)
    return any(total[k] > 1 for k in _noninterrupting(outcome.model))


def _event_subprocesses(model: Model) -> list[Any]:
    from lxml import etree

    tag = "{http://www.omg.org/spec/BPMN/20100524/MODEL}subProcess"
    return [e for e in etree.fromstring(model.xml).iter(tag)
            if e.get("triggeredByEvent") == "true"]


def _nested_event_subprocess_nodes(model: Model) -> set[str]:
    """The nodes of message and signal event sub-processes inside sub-processes."""
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    found = set()
    for esp in _event_subprocesses(model):
        if esp.getparent().tag != f"{bpmn}subProcess":
            continue
        if esp.find(f"{bpmn}startEvent/{bpmn}messageEventDefinition") is None and \
                esp.find(f"{bpmn}startEvent/{bpmn}signalEventDefinition") is None:
            continue
        found |= {e.get("id") for e in esp.iter() if e.get("id")}
    return found


def _esp_of(model: Model, start: str) -> tuple[str, str]:
    """The event sub-process of a start event, and the scope it is in ("p": the
    process)."""
    for scope, events in _starts(model).items():
        if start in events:
            return events[start][2], scope
    raise KeyError(start)


def _starts(model: Model) -> dict[str, dict[str, tuple[str, bool, str]]]:
    """Scope ("p": the process) -> start event of each of its event sub-processes ->
    (its trigger: ``error``, ``timer``, ``message`` or ``signal``; whether it
    interrupts; the event sub-process's id)."""
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    found: dict[str, dict[str, tuple[str, bool, str]]] = {}
    for esp in _event_subprocesses(model):
        for start in esp.findall(f"{bpmn}startEvent"):
            trigger = next((kind for kind in ("error", "timer", "message", "signal")
                            if start.find(f"{bpmn}{kind}EventDefinition") is not None), "")
            found.setdefault(esp.getparent().get("id"), {})[start.get("id")] = (
                trigger, start.get("isInterrupting") != "false", esp.get("id"))
    return found


def _own_end_events(model: Model, scope: str) -> set[str]:
    """The end events directly in a sub-process ("p": the process)."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    return {e.get("id") for e in etree.fromstring(model.xml).iter(f"{bpmn}endEvent")
            if e.getparent().get("id") == scope}


def _sub_process_starts(model: Model) -> dict[str, set[str]]:
    """Embedded sub-process (not an event sub-process) -> its start events."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    return {sub.get("id"): {e.get("id") for e in sub.findall(f"{bpmn}startEvent")}
            for sub in etree.fromstring(model.xml).iter(f"{bpmn}subProcess")
            if sub.get("triggeredByEvent") != "true"}


def _multi_instance_nodes(model: Model) -> set[str]:
    """Multi-instance tasks and sub-processes."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    return {e.getparent().get("id") for e in
            etree.fromstring(model.xml).iter(f"{bpmn}multiInstanceLoopCharacteristics")}


def _multi_instance_starts(model: Model) -> dict[str, set[str]]:
    """Multi-instance sub-process -> its start events (where its next instance starts)."""
    from lxml import etree

    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    return {sub.get("id"): {e.get("id") for e in sub.findall(f"{bpmn}startEvent")}
            for sub in etree.fromstring(model.xml).iter(f"{bpmn}subProcess")
            if sub.find(f"{bpmn}multiInstanceLoopCharacteristics") is not None}


def _moved_tokens(state: Any, step: tuple[Any, ...]) -> set[str]:
    """The tokens of ours a step acts on (as ``harness._Ours.step`` chooses them)."""
    kind = step[0]
    if kind == "task":
        task = next((i for i, n in state.open_tasks().items() if n == step[1]), None)
        return {t.id for t in state.tokens if task is not None and t.task == task}
    if kind == "timer":
        jobs = sorted((j for j in state.jobs if j.node == step[1]), key=lambda j: j.due_at)
        return {jobs[0].token} if jobs else set()
    return {s.token for s in state.subscriptions if s.kind == kind and s.name == step[1]}


def _scope_ended(outcome: Outcome, index: int, scope: str, ends: set[str],
                 untriggered: set[str] | None = None) -> bool:
    """Ours completed ``scope`` ("p": the process) in step ``index`` because every
    token in it had ended, the last one at one of ``ends``.

    Before the step, every token in each instance of the scope that the step completed
    waited either where the step moved it or at a join that fired in the step (none at
    a task, catch event or timer the step did not touch; tokens waiting for a nested
    scope are checked through the nested scope's tokens); nothing in the scope was
    cancelled; after the step no token is left in a scope that is gone, and no timer or
    subscription of the completed instances (its event sub-processes are disarmed).
    An instance that both started and completed in the step had no token waiting.

    The event sub-processes ``untriggered`` never ran in the completed instances: no
    state of our run has an instance of one of them inside one of those (another
    instance of a multi-instance sub-process, or an earlier pass through a loop, may
    have triggered it)."""
    assert outcome.ours is not None
    model = outcome.model
    if index >= len(outcome.states) or not set(outcome.ours.chunks[index]) & ends:
        return False
    before = outcome.states[index - 1] if index > 0 else None
    after = outcome.states[index]
    chunk = outcome.ours.chunks[index]
    enclosing = _enclosing(model)
    # a multi-instance activity whose completion condition held in the step cancels its
    # other instances (BPMN 10.2.8): those tokens ended too
    finished = set(chunk) & _multi_instance_nodes(model)
    if any((k == scope or scope in enclosing.get(k, set()))
           and not ({k} | enclosing.get(k, set())) & finished
           for k in outcome.ours.cancelled[index]):
        return False
    live = {record.id for record in after.scopes}
    if any(t.scope and t.scope not in live for t in after.tokens):
        return False
    if before is None:
        return scope != "p" or after.status == "completed"
    records = {record.id: record for record in before.scopes}
    if scope == "p":
        if after.status != "completed":
            return False
        instances = [""]
    else:
        instances = [r.id for r in before.scopes
                     if r.node == scope and r.kind == "sub" and r.id not in live]
        if not instances:
            # it ran from its start to its end within the step
            return not any(r.node == scope and r.kind == "sub" for r in before.scopes)
    parents = {record.token for record in before.scopes}
    moved = _moved_tokens(before, outcome.steps[index - 1])

    def inside(scope_id: str, instance: str) -> bool:
        while True:
            if scope_id == instance:
                return True
            if scope_id not in records:
                return False
            scope_id = records[scope_id].parent

    def in_finished_body(scope_id: str, instance: str) -> bool:
        """Inside an instance of a multi-instance activity within ``instance`` whose
        completion condition held in the step (its other instances were cancelled)."""
        while scope_id in records and scope_id != instance:
            record = records[scope_id]
            if record.kind == "inst" and record.node in finished:
                return True
            scope_id = record.parent
        return False

    def ended(instance: str) -> bool:
        for token in before.tokens:
            if not inside(token.scope, instance) or in_finished_body(token.scope, instance):
                continue
            if token.via is not None:
                if token.node not in chunk:
                    return False  # left waiting at a join that did not fire
            elif token.id not in parents and token.id not in moved:
                return False  # still waiting at a task, catch event or timer
        if any(inside(j.scope, instance) for j in after.jobs if j.scope in records) or any(
                inside(s.scope, instance) for s in after.subscriptions if s.scope in records):
            return False
        return not (untriggered and any(
            record.kind == "event" and record.node in untriggered and record.parent == instance
            for state in outcome.states[:index] for record in state.scopes))

    if scope in finished:
        # the completion condition of a multi-instance sub-process held when one
        # instance ended: the others were cancelled
        return any(ended(instance) for instance in instances)
    return all(ended(instance) for instance in instances)


def _scope_completion(outcome: Outcome, index: int, missed: Counter[str]) -> str | None:
    """``event-subprocess-keeps-scope-open`` or ``interrupting-event-subprocess-ends-
    scope`` when they explain what ours completes in step ``index`` and Spiff does not
    (``missed``; Spiff completed nothing ours did not).

    Every sub-process in ``missed`` must be one ours completed because all its tokens
    had ended (:func:`_scope_ended`), and at least one of them either

    * at an end event of its own, while none of its error or timer event
      sub-processes had been triggered in our run (``keeps-scope-open``), or
    * at the end event of an interrupting event sub-process of it that our run
      triggered and both engines completed in this step (``ends-scope``);

    and everything else in ``missed`` (other sub-processes too) must come after such a
    scope (outside it, or the start of the next instance of a sequential
    multi-instance sub-process)."""
    assert outcome.ours is not None and outcome.spiff is not None
    model = outcome.model
    starts = _starts(model)
    started = set().union(*outcome.ours.chunks[:index + 1])
    spiff_done = outcome.spiff.chunks[index]
    explained: dict[str, str] = {}
    for scope in set(missed) & set(_sub_process_starts(model)):
        events = starts.get(scope, {})
        quiet = {s for s, (trigger, _, _) in events.items() if trigger in ("error", "timer")}
        quiet_esps = {events[s][2] for s in quiet}
        interrupted = {esp for s, (_, interrupting, esp) in events.items()
                       if interrupting and s in started and esp in spiff_done
                       and esp in outcome.ours.chunks[index]}
        if interrupted and _scope_ended(outcome, index, scope,
                                        set().union(*(_own_end_events(model, esp)
                                                      for esp in interrupted))):
            explained[scope] = "interrupting-event-subprocess-ends-scope"
        elif quiet and not quiet & set(outcome.ours.chunks[index]) and _scope_ended(
                outcome, index, scope, _own_end_events(model, scope), quiet_esps):
            explained[scope] = "event-subprocess-keeps-scope-open"
        elif not _scope_ended(outcome, index, scope, _own_end_events(model, scope)):
            return None  # (one that did end must come after an explained one)
    if not explained:
        return None
    again = _multi_instance_starts(model)
    nxt = _successors(model)
    for sub, entries in _sub_process_starts(model).items():
        nxt.setdefault(sub, set()).update(entries)

    def reach(first: set[str]) -> set[str]:
        seen = set(first)
        todo = list(first)
        while todo:
            node = todo.pop()
            for following in nxt.get(node, ()):
                if following not in seen:
                    seen.add(following)
                    todo.append(following)
        return seen

    # from the completed scope onwards, never back into it but through its start (a new
    # instance: a loop, or the next instance of an enclosing multi-instance sub-process)
    after: set[str] = set()
    for scope in explained:
        inner = {k for k, subs in _enclosing(model).items() if scope in subs}
        after |= reach(nxt.get(scope, set()) - inner)
        after |= reach(again.get(scope, set()))

    def after_scope(node: str) -> bool:
        return node in after

    if not all(k in explained or after_scope(k) for k in missed):
        return None
    kinds = sorted(set(explained.values()))
    return kinds[0]


def spiff_fault(outcome: Outcome) -> str | None:
    """The name of a known SpiffWorkflow 3.2 defect that explains the first difference,
    or None.

    * ``early-inclusive-join``: Spiff's ``InclusiveGateway._check_threshold_unstructured``
      walks back from each input with a depth-first ``check`` that returns after the
      first unchecked parent, so it misses tokens on the other inputs of a join nested
      in a branch and fires the inclusive join while a token can still reach it
      (BPMN 13.4.3 says the gateway waits); it fires it again when that token arrives.
    * ``loop-parallel-join``: in a loop, Spiff's parallel join counts the inputs
      completed in an earlier pass, so in the next pass it fires when the first branch
      arrives (BPMN 13.4.2: the join waits for a token on every incoming flow); it fires
      again with the second.
    * ``continues-interrupted-scope``: when an error thrown in an inner sub-process is
      caught by the boundary event of an outer one, Spiff marks the inner sub-process
      completed and moves on after it inside the outer one, which the error has
      interrupted (BPMN 10.5.4: the activity the error is caught at is cancelled, with
      everything in it). Likewise after an interrupting escalation or message/signal
      boundary, and when an interrupting error event sub-process of an outer scope
      catches the error (Spiff then completes the inner sub-process and goes on after
      it, inside the scope whose content the event sub-process interrupted, BPMN
      10.3.5).
    * ``error-caught-by-sibling``: Spiff delivers an error thrown by an error end event
      to a matching error boundary event of a sub-process that does not contain the
      end event (a sibling sub-process still running in another branch), instead of
      the innermost enclosing one (BPMN 10.5.4: the error propagates up the scope
      hierarchy of the throwing activity).
    * ``noninterrupting-boundary-once``: a non-interrupting message, signal or
      escalation boundary event fires only once per activation of its activity in Spiff
      (also when the instances of a multi-instance sub-process each escalate) (its boundary task
      is not made waiting again); BPMN 10.5.4 (the activity "continues", the event
      "can occur multiple times" while it is active) and Camunda 7 keep the subscription
      while the activity runs, so ours fires it again.
    * ``nested-event-subprocess``: Spiff never starts a message or signal event
      sub-process of an embedded sub-process (the event is not caught in the
      sub-process's workflow; BPMN 10.3.5: an event sub-process is armed while its
      parent scope is active), so its handler never becomes ready.
    * ``event-subprocess-keeps-scope-open``: a scope (an embedded sub-process or the
      process) with an error or timer event sub-process that was not triggered does
      not complete in Spiff when its last token ends (its event sub-process's tasks stay
      waiting); BPMN 10.3.5 and 13.2: the scope completes when it has no more tokens,
      the untriggered event sub-process is simply disarmed. Accepted only where ours
      demonstrably completed the scope for that reason (``_scope_completion``,
      ``_scope_ended``): Spiff completed nothing ours did not; in the instance ours
      completed, none of those event sub-processes ever ran (another instance of a
      multi-instance sub-process, or an earlier pass of a loop, may have run it); before
      the step every token in it waited where the step moved it, at a join that fired,
      or in another instance of a multi-instance activity whose completion condition
      held in the step; the last one reached an end event of the scope; nothing else in
      it was cancelled and no token, timer or subscription of it is left; everything
      else ours completed in the step and Spiff did not lies after the scope (or is the
      start of the next instance of a sequential multi-instance sub-process), and every
      other sub-process among it passes the same token checks.
    * ``interrupting-event-subprocess-ends-scope``: the same for a scope whose
      interrupting event sub-process our run triggered and both engines ran to its
      end in the step: ours completes the scope (BPMN 10.3.5, Camunda 7: the event
      sub-process replaces the scope's content and the scope completes with it, see
      the README), Spiff leaves it waiting. Same checks, with the last token at the
      event sub-process's end event.
    * ``mi-item-exists``: Spiff raises ``WorkflowDataException("Multiinstance input
      item ... already exists")`` when a multi-instance activity runs again in a scope
      whose data already holds its element variable (copied back from an earlier
      sub-process, see the README on local variables); BPMN and Camunda 7 give each
      instance its own local element variable.
    * ``spiff-internal-error``: Spiff raises ``TaskNotFoundException`` from inside
      ``do_engine_steps``, or ``AttributeError`` from ``refresh_timers`` (a waiting task
      whose parent was dropped), in long runs through loops.
    """
    if outcome.problem and "Multiinstance input item" in outcome.problem:
        return "mi-item-exists"
    if outcome.problem and outcome.problem.startswith("spiff raised") and (
            "TaskNotFoundException" in outcome.problem
            or "'NoneType' object has no attribute 'data'" in outcome.problem):
        return "spiff-internal-error"
    if outcome.ours is None or outcome.spiff is None:
        return None
    model = outcome.model
    nested = _nested_event_subprocess_nodes(model)
    missing = re.search(r"nothing ready at '([^']+)'", outcome.problem or "")
    if outcome.problem and outcome.problem.startswith("spiff raised") and missing:
        if missing.group(1) in nested:
            return "nested-event-subprocess"
        if missing.group(1).startswith("h") and _noninterrupting_fired_twice(outcome):
            return "noninterrupting-boundary-once"
    if outcome.problem and outcome.problem.startswith("floating") and any(
            set(chunk) & nested for chunk in outcome.ours.chunks):
        return "nested-event-subprocess"
    if outcome.problem and outcome.problem.startswith("end: ours completed spiff active"):
        last = len(outcome.ours.chunks) - 1
        started = set().union(*outcome.ours.chunks)
        quiet = {s for s, (trigger, _, _) in _starts(model).get("p", {}).items()
                 if trigger in ("error", "timer")}
        quiet_esps = {_starts(model)["p"][s][2] for s in quiet}
        if quiet and not quiet & started and _scope_ended(
                outcome, last, "p", _own_end_events(model, "p"), quiet_esps):
            return "event-subprocess-keeps-scope-open"
    joins = _ids(outcome.model, "inclusiveGateway")
    parallel = _ids(outcome.model, "parallelGateway")
    for index, mine, theirs in pairs(outcome.ours, outcome.spiff):
        if mine == theirs:
            continue
        extra = theirs - mine
        missed = mine - theirs
        if not extra and missed and set(missed) <= _noninterrupting(model) and all(
                mine[k] > 1 or any(k in chunk for chunk in outcome.ours.chunks[:index])
                for k in missed):
            return "noninterrupting-boundary-once"
        if not extra and set(missed) & nested:
            return "nested-event-subprocess"
        # a nested event sub-process ours started (its start is compared at the end)
        if any(set(chunk) & nested for chunk in outcome.ours.chunks[:index + 1]):
            return "nested-event-subprocess"
        if not extra and (kind := _scope_completion(outcome, index, missed)):
            return kind
        # ours waits at the join because a token can still reach it
        waits = [j for j in extra.keys() & (joins | parallel)
                 if _can_reach(outcome.model, outcome.waiting[index], j)]
        if not (mine - theirs) and set(waits) & joins:
            return "early-inclusive-join"
        error_ends = {k for k in theirs if k.startswith("ee")}
        for catcher in extra:
            host = _attached(outcome.model).get(catcher)
            if host is not None and catcher.startswith("eb") and error_ends and not any(
                    host in _enclosing(outcome.model)[end] for end in error_ends):
                return "error-caught-by-sibling"
        cancelled = outcome.ours.cancelled[index]
        enclosing = _enclosing(outcome.model)
        caught = any(k.startswith(("eb", "tb", "xb", "mb", "sb")) for k in theirs) or bool(
            set(outcome.ours.chunks[index]) & interrupting_starts(model.xml))
        if (caught and not (mine - theirs)
                and all(enclosing.get(k, set()) & cancelled for k in extra)):
            return "continues-interrupted-scope"
        # an interrupting event sub-process of the process fired: everything else in
        # the process was interrupted
        fired = set(outcome.ours.chunks[index]) & interrupting_starts(model.xml)
        if fired and not (mine - theirs) and any(
                len(enclosing.get(start, set())) == 1 for start in fired):
            return "continues-interrupted-scope"
        # an interrupting event sub-process of a sub-process fired: everything else in
        # that sub-process was interrupted (what Spiff completes is in there, outside
        # the event sub-process)
        hosts = {(esp, parent) for start in fired for esp, parent in [_esp_of(model, start)]}
        if hosts and not (mine - theirs) and all(
                any(host in enclosing.get(k, set()) and esp not in enclosing.get(k, set())
                    for esp, host in hosts) for k in extra):
            return "continues-interrupted-scope"
        earlier = set().union(*outcome.ours.chunks[:index])
        if not (mine - theirs) and set(waits) & parallel & earlier:
            return "loop-parallel-join"
        return None
    return None
