"""User task definitions: reading assignment in every supported dialect, and turning
a definition into a concrete :class:`TaskSpec` when a token arrives.

Dialects, in the order they are consulted (the first that sets a property wins):

* Camunda 7 / Flowable / Activiti attributes on ``userTask``: ``assignee``,
  ``candidateUsers``, ``candidateGroups``, ``dueDate``, ``priority``, ``formKey``;
* Camunda 8 extension elements: ``zeebe:assignmentDefinition`` (``assignee``,
  ``candidateGroups``, ``candidateUsers``), ``zeebe:taskSchedule`` (``dueDate``),
  ``zeebe:priorityDefinition`` (``priority``), ``zeebe:formDefinition``
  (``formKey`` or ``formId``);
* BPMN resource roles: ``humanPerformer`` (the assignee) and ``potentialOwner``
  (candidates) with ``resourceAssignmentExpression/formalExpression``; items may be
  written ``user(name)``, ``group(name)`` or plainly (a plain item is a user for
  ``humanPerformer`` and a group for ``potentialOwner``, as Activiti reads them).

Every value may contain expressions evaluated against the instance variables plus
``initiator``. Candidate groups are role names of the organisation model.

The platform's own attributes (see :mod:`bpm_process.platform`) are carried into the
:class:`TaskSpec` for the runtime: ``bpm:assignment`` rules (resolved against the
organisation model when the task is created), ``bpm:timeLimit`` (a working-time
duration or an expression giving one), ``bpm:remindBefore``, ``bpm:timeoutAction`` and
``bpm:timeoutReassignTo``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from lxml import etree

from bpm_process.assignment import AssignmentRuleError, parse_rules
from bpm_process.bpmn import BPMN_NS, FlowNode
from bpm_process.engine.errors import ExpressionFailed
from bpm_process.engine.events import TaskSpec
from bpm_process.engine.quick import variable_name
from bpm_process.errors import ErrorEntry, error_entry
from bpm_process.expressions import (
    Expression,
    ExpressionError,
    ListExpression,
    compile_list,
    compile_value,
    is_expression,
    split_items,
    to_text,
)
from bpm_process.isotime import IsoDuration, looks_like_duration, parse_datetime, parse_duration
from bpm_process.namespaces import ACTIVITI_NS, BPM_NS, CAMUNDA_NS, FLOWABLE_NS, ZEEBE_NS
from bpm_process.timelimits import (
    DEFAULT_REMIND_BEFORE,
    DEFAULT_TIMEOUT_ACTION,
    parse_working_duration,
)

__all__ = [
    "ACTIVITI_NS",
    "CAMUNDA_NS",
    "DEFAULT_PRIORITY",
    "FLOWABLE_NS",
    "ZEEBE_NS",
    "Deadline",
    "DueDate",
    "TimeLimit",
    "UserTaskDefinition",
    "read_user_task",
    "rule_strings",
]

_ATTRIBUTE_DIALECTS = (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS)

DEFAULT_PRIORITY = 50
"""Priority of a task whose model sets none (Camunda's default)."""

_RESOURCE_ITEM = re.compile(r"^(user|group)\s*\((.*)\)$", re.DOTALL)
_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
_DEFAULT_EXTRAS = ((), None, None, None, ())
"""The platform fields of a :class:`TaskSpec` when the model sets none."""
_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class DueDate:
    """A due date: a fixed moment, a duration after "now", or an expression that
    yields either."""

    source: str
    fixed: datetime | None = None
    duration: IsoDuration | None = None
    expression: Expression | None = None
    offset: timedelta | None = None
    """The duration as one exact span, when it has no calendar units (years, months):
    the due moment is then ``now + offset``."""

    def resolve(
        self, now: datetime, context: Mapping[str, Any], element_id: str
    ) -> datetime | None:
        """The due moment (aware, UTC) for a task created at ``now``."""
        offset = self.offset
        if offset is not None:
            try:
                return (now + offset).astimezone(UTC)
            except (OverflowError, ValueError):
                raise ExpressionFailed(f"the due date of {element_id!r} is out of range",
                                       element_id=element_id) from None
        if self.duration is not None:
            return _after(now, self.duration, element_id)
        if self.expression is not None:
            value = _evaluate(self.expression, context, element_id, "due date")
            return _due_from_value(value, now, element_id)
        return self.fixed


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """``bpm:timeLimit``: a working-time duration, or an expression giving one."""

    source: str
    fixed: str | None = None
    """The duration in canonical text when it is not an expression."""
    expression: Expression | None = None

    def resolve(self, context: Mapping[str, Any], element_id: str) -> str | None:
        """The duration text for a new task (``None``: the expression gave nothing)."""
        if self.expression is None:
            return self.fixed
        value = _evaluate(self.expression, context, element_id, "time limit")
        if value is None:
            return None
        try:
            text = value if isinstance(value, str) else to_text(value)
        except ExpressionError as exc:
            raise ExpressionFailed(f"the time limit of {element_id!r} failed: {exc}",
                                   element_id=element_id) from None
        if not text.strip():
            return None
        try:
            return str(parse_working_duration(text))
        except ValueError as exc:
            raise ExpressionFailed(f"the time limit of {element_id!r} is not a working-time "
                                   f"duration: {exc}", element_id=element_id) from None


@dataclass(frozen=True, slots=True)
class Deadline:
    """The platform's time limit attributes of a user task."""

    time_limit: TimeLimit | None = None
    remind_before: str | None = None
    """``bpm:remindBefore`` as written (the default applies only with a time limit)."""
    timeout_action: str | None = None
    """``bpm:timeoutAction`` as written."""
    reassign_to: tuple[str, ...] = ()

    def extras(self, rules: tuple[str, ...], limit: str | None) -> tuple[Any, ...]:
        """The trailing :class:`TaskSpec` fields for a task whose time limit is ``limit``."""
        if limit is None:
            return (rules, None, None, self.timeout_action, self.reassign_to)
        return (rules, limit, self.remind_before or DEFAULT_REMIND_BEFORE,
                self.timeout_action or DEFAULT_TIMEOUT_ACTION, self.reassign_to)


@dataclass(frozen=True, slots=True)
class UserTaskDefinition:
    """What a user task needs to create a :class:`TaskSpec`; values still to be
    evaluated are compiled expressions."""

    assignee: Expression | None
    candidate_users: tuple[ListExpression, ...]
    candidate_groups: tuple[ListExpression, ...]
    due_date: DueDate | None
    priority: Expression | None
    form_key: Expression | None
    documentation: str | None
    constant: bool
    """True when nothing needs evaluating: the fixed parts below are used as they are."""
    fixed_assignee: str | None = None
    fixed_candidate_users: tuple[str, ...] = ()
    fixed_candidate_groups: tuple[str, ...] = ()
    fixed_priority: int = DEFAULT_PRIORITY
    fixed_form_key: str | None = None
    assignment_rules: tuple[str, ...] = ()
    """``bpm:assignment`` rules in canonical text."""
    deadline: Deadline = Deadline()
    extras: tuple[Any, ...] = _DEFAULT_EXTRAS
    """The platform fields of every :class:`TaskSpec` when the time limit is fixed
    (empty when it is an expression, evaluated for every task)."""
    assignee_variable: str | None = None
    """The variable named by an assignee ``${name}`` when nothing else needs
    evaluating: a task is then made from that variable's value alone
    (:meth:`create_assigned`)."""
    fixed_tail: tuple[Any, ...] = field(init=False, repr=False, compare=False)
    """The :class:`TaskSpec` fields from ``priority`` on, when they are fixed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed_tail", (self.fixed_priority, self.fixed_form_key,
                                                self.documentation, *self.extras))

    def platform(self, context: Mapping[str, Any], element_id: str) -> tuple[Any, ...]:
        """The platform fields of a new task (rules, time limit and what follows it)."""
        limit = self.deadline.time_limit
        if limit is None or limit.expression is None:
            return self.extras
        return self.deadline.extras(self.assignment_rules, limit.resolve(context, element_id))

    def create_assigned(self, task_id: str, node_id: str, name: str | None, now: datetime,
                        value: Any) -> TaskSpec:
        """A new task of a definition with an :attr:`assignee_variable` whose value (the
        value visible where the task is created, ``None`` when there is none) is
        ``value``."""
        if type(value) is str:
            assignee = value.strip() or None
        else:
            variable = self.assignee_variable or ""
            assignee = _single_name(self.assignee, {variable: value} if value is not None
                                    else _NO_CONTEXT, node_id)
        due_date = self.due_date
        return _new(TaskSpec, (  # type: ignore[no-any-return]
            task_id, node_id, name, assignee, self.fixed_candidate_users,
            self.fixed_candidate_groups,
            due_date.resolve(now, _NO_CONTEXT, node_id) if due_date is not None else None,
        ) + self.fixed_tail)

    def create(
        self,
        task_id: str,
        node_id: str,
        name: str | None,
        now: datetime,
        context: Mapping[str, Any] | None,
    ) -> TaskSpec:
        """Evaluate the definition for one new task. ``context`` may be ``None`` when
        the definition is constant."""
        due_at = None
        if self.constant:
            if self.due_date is not None:
                due_at = self.due_date.resolve(now, _NO_CONTEXT, node_id)
            return _new(TaskSpec, (  # type: ignore[no-any-return]
                task_id, node_id, name, self.fixed_assignee, self.fixed_candidate_users,
                self.fixed_candidate_groups, due_at,
            ) + self.fixed_tail)
        values: Mapping[str, Any] = context if context is not None else {}
        if self.due_date is not None:
            due_at = self.due_date.resolve(now, values, node_id)
        return TaskSpec(
            task_id,
            node_id,
            name,
            _single_name(self.assignee, values, node_id) if self.assignee is not None else None,
            _names(self.candidate_users, values, node_id) if self.candidate_users else (),
            _names(self.candidate_groups, values, node_id) if self.candidate_groups else (),
            due_at,
            _priority(self.priority, values, node_id) if self.priority is not None
            else DEFAULT_PRIORITY,
            _single_name(self.form_key, values, node_id, what="form key")
            if self.form_key is not None else None,
            self.documentation,
            *self.platform(values, node_id),
        )


def read_user_task(node: FlowNode, problems: list[ErrorEntry]) -> UserTaskDefinition:
    """Read and compile the assignment of a ``userTask``; problems are appended to
    ``problems`` (the caller raises them together)."""
    element = node.element
    raw: dict[str, str | None] = {}
    for attribute in ("assignee", "candidateUsers", "candidateGroups", "dueDate", "priority",
                      "formKey"):
        raw[attribute] = _dialect_attribute(element, attribute)

    extension = element.find(f"{{{BPMN_NS}}}extensionElements")
    if extension is not None:
        assignment = extension.find(f"{{{ZEEBE_NS}}}assignmentDefinition")
        if assignment is not None:
            for attribute in ("assignee", "candidateGroups", "candidateUsers"):
                raw[attribute] = raw[attribute] or _nonempty(assignment.get(attribute))
        schedule = extension.find(f"{{{ZEEBE_NS}}}taskSchedule")
        if schedule is not None:
            raw["dueDate"] = raw["dueDate"] or _nonempty(schedule.get("dueDate"))
        priority = extension.find(f"{{{ZEEBE_NS}}}priorityDefinition")
        if priority is not None:
            raw["priority"] = raw["priority"] or _nonempty(priority.get("priority"))
        form = extension.find(f"{{{ZEEBE_NS}}}formDefinition")
        if form is not None:
            raw["formKey"] = raw["formKey"] or _nonempty(form.get("formKey")) or _nonempty(
                form.get("formId")
            )

    lists: dict[str, list[str]] = {"candidateUsers": [], "candidateGroups": []}
    for key in lists:
        if raw[key]:
            lists[key].append(raw[key] or "")
    performer = _resource_role(element, "humanPerformer")
    if performer and not raw["assignee"]:
        users, groups = _resource_items(performer, plain_is_user=True)
        if users:
            raw["assignee"] = users[0]
            lists["candidateUsers"].extend(users[1:])
        lists["candidateGroups"].extend(groups)
    for owner in _resource_roles(element, "potentialOwner"):
        users, groups = _resource_items(owner, plain_is_user=False)
        lists["candidateUsers"].extend(users)
        lists["candidateGroups"].extend(groups)

    def value(attribute: str) -> Expression | None:
        text = raw[attribute]
        if not text:
            return None
        try:
            return compile_value(text)
        except ExpressionError as exc:
            problems.append(error_entry(node.id, f"{attribute}: {exc}", node.line))
            return None

    def name_lists(attribute: str) -> tuple[ListExpression, ...]:
        compiled = []
        for text in lists[attribute]:
            try:
                compiled.append(compile_list(text))
            except ExpressionError as exc:
                problems.append(error_entry(node.id, f"{attribute}: {exc}", node.line))
        return tuple(compiled)

    assignee = value("assignee")
    candidate_users = name_lists("candidateUsers")
    candidate_groups = name_lists("candidateGroups")
    priority = value("priority")
    form_key = value("formKey")
    due_date = _read_due_date(node, raw["dueDate"], problems)
    rules = rule_strings(element.get(f"{{{BPM_NS}}}assignment"))
    deadline = _read_deadline(element)
    limit = deadline.time_limit

    others_constant = (
        all(item is None or item.is_constant for item in (priority, form_key))
        and all(item.is_constant for item in (*candidate_users, *candidate_groups))
        and (due_date is None or due_date.expression is None)
        and (limit is None or limit.expression is None)
    )
    constant = others_constant and (assignee is None or assignee.is_constant)
    fixed: dict[str, Any] = {}
    if constant:
        # Nothing depends on variables: evaluate once now, and report bad literals
        # (a priority that is not a number) at deployment instead of at run time.
        try:
            fixed = _fixed_parts(assignee, candidate_users, candidate_groups, priority,
                                 form_key, node.id)
        except ExpressionFailed as exc:
            problems.append(error_entry(node.id, exc.message, node.line))
            constant = False
    elif others_constant and assignee is not None:
        variable = variable_name(assignee)
        if variable is not None:
            # Only the assignee depends on variables, and it is one of them. A bad
            # literal elsewhere is reported when a task is created, as for any
            # definition that is not constant.
            try:
                fixed = _fixed_parts(None, candidate_users, candidate_groups, priority,
                                     form_key, node.id)
                fixed["assignee_variable"] = variable
            except ExpressionFailed:
                fixed = {}
    return UserTaskDefinition(
        assignee=assignee,
        candidate_users=candidate_users,
        candidate_groups=candidate_groups,
        due_date=due_date,
        priority=priority,
        form_key=form_key,
        documentation=node.documentation,
        constant=constant,
        assignment_rules=rules,
        deadline=deadline,
        extras=_fixed_extras(rules, deadline),
        **fixed,
    )


def _fixed_parts(assignee: Expression | None, candidate_users: tuple[ListExpression, ...],
                 candidate_groups: tuple[ListExpression, ...], priority: Expression | None,
                 form_key: Expression | None, element_id: str) -> dict[str, Any]:
    """The ``fixed_*`` fields of a definition whose parts are constant."""
    return {
        "fixed_assignee": _single_name(assignee, {}, element_id),
        "fixed_candidate_users": _names(candidate_users, {}, element_id),
        "fixed_candidate_groups": _names(candidate_groups, {}, element_id),
        "fixed_priority": _priority(priority, {}, element_id),
        "fixed_form_key": _single_name(form_key, {}, element_id, what="form key"),
    }


def rule_strings(text: str | None) -> tuple[str, ...]:
    """A rule list in canonical text; empty when there is none or it cannot be read
    (the compiler reports it through :func:`bpm_process.platform.extension_problems`)."""
    if text is None or not text.strip():
        return ()
    try:
        return tuple(str(rule) for rule in parse_rules(text))
    except AssignmentRuleError:
        return ()


def _read_deadline(element: etree._Element) -> Deadline:
    """The time limit attributes; their syntax is checked by the compiler (see
    :func:`bpm_process.platform.extension_problems`), so bad values are only skipped."""
    limit = None
    text = _nonempty(element.get(f"{{{BPM_NS}}}timeLimit"))
    if text is not None:
        if is_expression(text):
            try:
                limit = TimeLimit(text, expression=compile_value(text))
            except ExpressionError:
                limit = None
        else:
            try:
                limit = TimeLimit(text, fixed=str(parse_working_duration(text)))
            except ValueError:
                limit = None
    return Deadline(
        time_limit=limit,
        remind_before=_nonempty(element.get(f"{{{BPM_NS}}}remindBefore")),
        timeout_action=_nonempty(element.get(f"{{{BPM_NS}}}timeoutAction")),
        reassign_to=rule_strings(element.get(f"{{{BPM_NS}}}timeoutReassignTo")),
    )


def _fixed_extras(rules: tuple[str, ...], deadline: Deadline) -> tuple[Any, ...]:
    limit = deadline.time_limit
    if limit is not None and limit.expression is not None:
        return ()  # evaluated for every task
    return deadline.extras(rules, limit.fixed if limit is not None else None)


def _dialect_attribute(element: etree._Element, attribute: str) -> str | None:
    for namespace in _ATTRIBUTE_DIALECTS:
        found = _nonempty(element.get(f"{{{namespace}}}{attribute}"))
        if found:
            return found
    return None


def _nonempty(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _resource_roles(element: etree._Element, local: str) -> list[str]:
    texts = []
    for role in element.findall(f"{{{BPMN_NS}}}{local}"):
        formal = role.find(
            f"{{{BPMN_NS}}}resourceAssignmentExpression/{{{BPMN_NS}}}formalExpression"
        )
        if formal is not None:
            text = "".join(formal.itertext()).strip()
            if text:
                texts.append(text)
        else:
            group = _referenced_resource(role)
            if group:
                texts.append(f"group({group})")
    return texts


def _referenced_resource(role: etree._Element) -> str | None:
    """The group a resource role names with ``<resourceRef>`` (BPMN's own way, as the
    MIWG models and modellers other than Camunda's write it): the ``<resource>``'s name,
    or its id when the name could not be read as one group (a comma or a parenthesis).
    Without this the task had no candidates at all, though the lint saw an owner."""
    reference = (role.findtext(f"{{{BPMN_NS}}}resourceRef") or "").strip()
    if not reference:
        return None
    name = None
    for resource in role.getroottree().getroot().iterchildren(f"{{{BPMN_NS}}}resource"):
        if resource.get("id") == reference:
            name = (resource.get("name") or "").strip()
            break
    if not name or any(char in name for char in ",()"):
        return reference.split(":")[-1]
    return name


def _resource_role(element: etree._Element, local: str) -> str | None:
    texts = _resource_roles(element, local)
    return texts[0] if texts else None


def _resource_items(text: str, *, plain_is_user: bool) -> tuple[list[str], list[str]]:
    """Split a formalExpression like ``user(kermit), group(management), ${x}``."""
    users: list[str] = []
    groups: list[str] = []
    for item in split_items(text):
        match = _RESOURCE_ITEM.match(item)
        if match is not None:
            inner = match.group(2).strip()
            if inner:
                (users if match.group(1) == "user" else groups).append(inner)
        else:
            (users if plain_is_user else groups).append(item)
    return users, groups


def _read_due_date(node: FlowNode, text: str | None, problems: list[ErrorEntry]) -> DueDate | None:
    if not text:
        return None
    if is_expression(text):
        try:
            return DueDate(source=text, expression=compile_value(text))
        except ExpressionError as exc:
            problems.append(error_entry(node.id, f"dueDate: {exc}", node.line))
            return None
    try:
        if looks_like_duration(text):
            duration = parse_duration(text)
            return DueDate(source=text, duration=duration, offset=_exact_offset(duration))
        return DueDate(source=text, fixed=parse_datetime(text).astimezone(UTC))
    except ValueError as exc:
        problems.append(
            error_entry(node.id, f"dueDate must be an ISO 8601 date-time or duration: {exc}",
                        node.line)
        )
        return None


def _exact_offset(duration: IsoDuration) -> timedelta | None:
    """The duration as a signed span, when it has no calendar units."""
    if duration.years or duration.months:
        return None
    try:
        return -duration.span if duration.negative else duration.span
    except OverflowError:
        return None


def _evaluate(expression: Expression, context: Mapping[str, Any], element_id: str,
              what: str) -> Any:
    try:
        return expression.evaluate(context)
    except ExpressionError as exc:
        raise ExpressionFailed(f"the {what} of {element_id!r} failed: {exc}",
                               element_id=element_id) from None


def _single_name(expression: Expression | None, context: Mapping[str, Any], element_id: str,
                 *, what: str = "assignee") -> str | None:
    if expression is None:
        return None
    value = _evaluate(expression, context, element_id, what)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            raise ExpressionFailed(
                f"the {what} of {element_id!r} must be one name, but it is a list",
                element_id=element_id,
            )
        value = value[0] if value else None
        if value is None:
            return None
    try:
        text = value if isinstance(value, str) else to_text(value)
    except ExpressionError as exc:
        raise ExpressionFailed(f"the {what} of {element_id!r} failed: {exc}",
                               element_id=element_id) from None
    return text.strip() or None


def _names(lists: tuple[ListExpression, ...], context: Mapping[str, Any],
           element_id: str) -> tuple[str, ...]:
    if not lists:
        return ()
    result: list[str] = []
    for item in lists:
        try:
            names = item.evaluate(context)
        except ExpressionError as exc:
            raise ExpressionFailed(f"the candidates of {element_id!r} failed: {exc}",
                                   element_id=element_id) from None
        result.extend(name for name in names if name not in result)
    return tuple(result)


def _priority(expression: Expression | None, context: Mapping[str, Any], element_id: str) -> int:
    if expression is None:
        return DEFAULT_PRIORITY
    value = _evaluate(expression, context, element_id, "priority")
    if value is None:
        return DEFAULT_PRIORITY
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise ExpressionFailed(
            f"the priority of {element_id!r} must be a whole number, not {value!r}",
            element_id=element_id,
        )
    if abs(number) > 2**31:
        raise ExpressionFailed(f"the priority of {element_id!r} is out of range",
                               element_id=element_id)
    return int(number)


def _due_from_value(value: Any, now: datetime, element_id: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            if looks_like_duration(text):
                return _after(now, parse_duration(text), element_id)
            return parse_datetime(text).astimezone(UTC)
        except ValueError as exc:
            raise ExpressionFailed(
                f"the due date of {element_id!r} is neither an ISO 8601 date-time nor a "
                f"duration: {exc}",
                element_id=element_id,
            ) from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, timedelta):
        try:
            return (now + value).astimezone(UTC)
        except (OverflowError, ValueError):
            raise ExpressionFailed(f"the due date of {element_id!r} is out of range",
                                   element_id=element_id) from None
    raise ExpressionFailed(
        f"the due date of {element_id!r} must be a date-time or a duration, not {value!r}",
        element_id=element_id,
    )


def _after(now: datetime, duration: IsoDuration, element_id: str) -> datetime:
    try:
        return duration.add_to(now).astimezone(UTC)
    except (OverflowError, ValueError):
        raise ExpressionFailed(f"the due date of {element_id!r} is out of range",
                               element_id=element_id) from None


def form_key_of(element: etree._Element) -> str | None:
    """The form key an element names (a start event's or a user task's), in any dialect:
    Camunda 7 / Activiti / Flowable ``formKey``, or Camunda 8 ``zeebe:formDefinition``."""
    key = _dialect_attribute(element, "formKey")
    if key:
        return key
    extension = element.find(f"{{{BPMN_NS}}}extensionElements")
    form = extension.find(f"{{{ZEEBE_NS}}}formDefinition") if extension is not None else None
    if form is not None:
        return _nonempty(form.get("formKey")) or _nonempty(form.get("formId"))
    return None
